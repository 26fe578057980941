// Image references as written in pod specs (`host/repo:tag`, `host/repo@sha256:…`, bare `host/repo`), read the way container runtimes read them.
import { digestSchema, registrySchema, repositorySchema, tagSchema } from './names';

export interface ImageKey {
  /** Lower-cased login server; `docker.io` when the reference names no host. */
  registry: string;
  repository: string;
  /** `latest` when the reference names neither a tag nor a digest. */
  tag: string | null;
  /** When given, it is what runs: the tag beside it (`repo:1.2@sha256:…`) is only a label. */
  digest: string | null;
}

/** Longer than any reference a runtime accepts (255 for the name, 128 for a tag, 71+ for a digest). */
export const MAX_IMAGE_KEY_LENGTH = 1024;

const DEFAULT_REGISTRY = 'docker.io';

const first = (result: { error?: { issues: { message: string }[] } }): string =>
  result.error?.issues[0]?.message ?? 'is invalid';

/**
 * The distribution/reference rule: the first `/`-separated component is a host when it contains
 * a `.` or a `:` or is `localhost`; otherwise the image is on Docker Hub.
 */
export function parseImageKey(
  text: string,
): { ok: true; image: ImageKey } | { ok: false; message: string } {
  if (text.length === 0) return { ok: false, message: 'is empty' };
  if (text.length > MAX_IMAGE_KEY_LENGTH) {
    return { ok: false, message: `is longer than ${MAX_IMAGE_KEY_LENGTH} characters` };
  }
  let name = text;
  let digest: string | null = null;
  const at = text.indexOf('@');
  if (at >= 0) {
    const parsed = digestSchema.safeParse(text.slice(at + 1));
    if (!parsed.success) return { ok: false, message: `digest ${first(parsed)}` };
    digest = parsed.data;
    name = text.slice(0, at);
  }
  const slash = name.indexOf('/');
  const head = slash < 0 ? '' : name.slice(0, slash);
  const hasHost = slash > 0 && (/[.:]/.test(head) || head === 'localhost');
  let registry = DEFAULT_REGISTRY;
  let rest = name;
  if (hasHost) {
    const parsed = registrySchema.safeParse(head);
    if (!parsed.success) return { ok: false, message: `registry ${first(parsed)}` };
    // `host:443` is the same registry to the runtime (HTTPS's port): the gate must not see an
    // untracked registry there, or writing the port would walk a pod past it.
    registry = parsed.data.endsWith(':443') ? parsed.data.slice(0, -':443'.length) : parsed.data;
    rest = name.slice(slash + 1);
  }
  let tag: string | null = null;
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    const parsed = tagSchema.safeParse(rest.slice(colon + 1));
    if (!parsed.success) return { ok: false, message: `tag ${first(parsed)}` };
    tag = parsed.data;
    rest = rest.slice(0, colon);
  }
  if (!hasHost && registry === DEFAULT_REGISTRY && !rest.includes('/')) rest = `library/${rest}`;
  const repository = repositorySchema.safeParse(rest);
  if (!repository.success) return { ok: false, message: `repository ${first(repository)}` };
  return {
    ok: true,
    image: {
      registry,
      repository: repository.data,
      tag: tag ?? (digest === null ? 'latest' : null),
      digest,
    },
  };
}
