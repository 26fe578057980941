// Parses `registry/repository:tag` and `registry/repository@sha256:…` as a pipeline writes them.
import { parseReference, registrySchema } from '../replication/names';
import {
  formatDuration as formatDurationText,
  parseDuration as parseDurationText,
} from '../util/duration';
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
  const ms = parseDurationText(text, { bareUnitMs: 1000, fractions: true });
  if (ms === undefined) {
    throw new CliError(`invalid duration "${text}" (e.g. 90s, 15m, 1h30m)`, EXIT.usage);
  }
  return ms;
}

export const formatDuration = (ms: number): string => formatDurationText(ms);
