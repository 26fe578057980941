// Parses `registry/repository:tag` and `registry/repository@sha256:…` as a pipeline writes them.
import { parseReference, registrySchema } from '../replication/names';
import { CliError, EXIT } from './exit-codes';

export interface ImageReference {
  registry: string;
  repository: string;
  tag: string | null;
  digest: string | null;
  /** `repository:tag` or `repository@digest`, the API's `{*reference}`. */
  reference: string;
}

export function parseImageReference(text: string): ImageReference {
  const usage = (why: string) =>
    new CliError(
      `invalid image reference "${text}": ${why} (expected registry/repository:tag or registry/repository@sha256:…)`,
      EXIT.usage,
    );
  const slash = text.indexOf('/');
  if (slash <= 0) throw usage('no registry');
  const registry = registrySchema.safeParse(text.slice(0, slash));
  if (!registry.success || !/[.:]|^localhost$/.test(registry.data)) throw usage('no registry host');
  const rest = text.slice(slash + 1);
  const parsed = parseReference(rest);
  if (!parsed.ok) throw usage(parsed.message);
  const { reference } = parsed;
  return {
    registry: registry.data,
    repository: reference.repository,
    tag: reference.kind === 'tag' ? reference.tag : null,
    digest: reference.kind === 'digest' ? reference.digest : null,
    reference: rest,
  };
}

/** `90s`, `15m`, `1h30m`, or plain seconds. */
export function parseDuration(text: string): number {
  const plain = /^\d+(\.\d+)?$/.exec(text);
  if (plain) return Number(text) * 1000;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new CliError(`invalid duration "${text}" (e.g. 90s, 15m, 1h30m)`, EXIT.usage);
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
  return parts.reduce((total, [, n, u]) => total + Number(n) * unit[u as keyof typeof unit], 0);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
