// Names the rules accept: Azure regions, registry hosts and OCI repositories, tags and digests.
import { z } from 'zod';

/** Azure region names: `westus`, `eastus2`, `germanywestcentral`, `usgovvirginia`, normalised to lower case. */
export const regionNameSchema = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z][a-z0-9]{1,39}$/, 'must be an Azure region name such as westus or eastus2');

/** A registry login server, e.g. `contoso.azurecr.io`: a DNS host name with an optional port. */
export const registrySchema = z
  .string()
  .toLowerCase()
  .max(253)
  .regex(
    /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:[0-9]{1,5})?$/,
    'must be a registry login server such as contoso.azurecr.io',
  );

/** OCI distribution repository names: lower-case path components joined by `/`. */
export const repositorySchema = z
  .string()
  .max(256)
  .regex(
    /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/,
    'must be an OCI repository name (lower-case components separated by /)',
  );

export const tagSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/,
    'must be an OCI tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})',
  );

export const digestSchema = z
  .string()
  .max(256)
  .regex(
    /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/,
    'must be a content digest such as sha256:<64 hex>',
  )
  .refine((d) => !d.startsWith('sha256:') || /^sha256:[a-f0-9]{64}$/.test(d), {
    message: 'a sha256 digest must be 64 lower-case hex digits',
  });

/** What a status request or a pipeline names: a tag, or a digest, of a repository. */
export type Reference =
  | { kind: 'tag'; repository: string; tag: string }
  | { kind: 'digest'; repository: string; digest: string };

const firstIssue = (what: string, result: z.ZodSafeParseResult<string>): string =>
  `${what} ${result.error?.issues[0]?.message ?? 'is invalid'}`;

/** `repository:tag` or `repository@sha256:…` (the repository may contain `/`), or why not. */
export function parseReference(
  text: string,
): { ok: true; reference: Reference } | { ok: false; message: string } {
  const at = text.indexOf('@');
  if (at >= 0) {
    const repository = repositorySchema.safeParse(text.slice(0, at));
    const digest = digestSchema.safeParse(text.slice(at + 1));
    if (!repository.success) return { ok: false, message: firstIssue('repository', repository) };
    if (!digest.success) return { ok: false, message: firstIssue('digest', digest) };
    return {
      ok: true,
      reference: { kind: 'digest', repository: repository.data, digest: digest.data },
    };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0 || text.indexOf('/', colon) >= 0) {
    return { ok: false, message: 'must be repository:tag or repository@digest' };
  }
  const repository = repositorySchema.safeParse(text.slice(0, colon));
  const tag = tagSchema.safeParse(text.slice(colon + 1));
  if (!repository.success) return { ok: false, message: firstIssue('repository', repository) };
  if (!tag.success) return { ok: false, message: firstIssue('tag', tag) };
  return { ok: true, reference: { kind: 'tag', repository: repository.data, tag: tag.data } };
}
