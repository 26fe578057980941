// An image as a pipeline names it (`registry/repository:tag` or `…@sha256:…`) and a check's timeout.
import { z } from 'zod';
import { parseReference, registrySchema, type Reference } from '../replication/names';

export interface Image {
  registry: string;
  reference: Reference;
}

export function parseImage(
  text: string,
): { ok: true; image: Image } | { ok: false; message: string } {
  const slash = text.indexOf('/');
  const registry = registrySchema.safeParse(slash > 0 ? text.slice(0, slash) : '');
  if (!registry.success || !/[.:]|^localhost$/.test(registry.data)) {
    return {
      ok: false,
      message:
        'must start with a registry host (registry/repository:tag or registry/repository@sha256:…)',
    };
  }
  const parsed = parseReference(text.slice(slash + 1));
  if (!parsed.ok) return { ok: false, message: parsed.message };
  return { ok: true, image: { registry: registry.data, reference: parsed.reference } };
}

export const imageSchema = z
  .string()
  .max(600)
  .transform((text, ctx): Image => {
    const parsed = parseImage(text);
    if (parsed.ok) return parsed.image;
    ctx.addIssue({ code: 'custom', message: parsed.message });
    return z.NEVER;
  });

/** Longest wait an approval may ask for. */
export const MAX_APPROVAL_TIMEOUT_MS = 24 * 3_600_000;

/** `90s`, `15m`, `1h30m`, at most 24h. */
export const timeoutSchema = z.string().transform((text, ctx) => {
  const parts = [...text.matchAll(/(\d+)(h|m|s)/g)];
  const ms = parts.reduce(
    (sum, [, n, u]) => sum + Number(n) * (u === 'h' ? 3_600_000 : u === 'm' ? 60_000 : 1000),
    0,
  );
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text || ms < 1000) {
    ctx.addIssue({ code: 'custom', message: 'must be a duration such as 90s, 15m or 1h30m' });
    return z.NEVER;
  }
  if (ms > MAX_APPROVAL_TIMEOUT_MS) {
    ctx.addIssue({ code: 'custom', message: 'must be at most 24h' });
    return z.NEVER;
  }
  return ms;
});
