// Records one regional webhook: a push arrival, or a delete of a digest, in the tag's state.
import type { Intent } from '../replication/acr-event';
import { applyDelete, applyPush, keyOf, type TagKey } from '../replication/tag-state';
import type { RegionsDeps } from './required-regions';
import { getRequiredRegions } from './required-regions';
import { updateTag, type UpdateResult } from './update-tag';

export type ArrivalOutcome =
  { kind: 'push'; result: UpdateResult } | { kind: 'delete'; results: UpdateResult[] };

export async function recordArrival(
  deps: RegionsDeps,
  intent: Extract<Intent, { kind: 'push' | 'delete' }>,
  region: string,
  /** The body as ACR sent it, kept for relaying to tools that speak ACR webhooks. */
  payload?: Record<string, unknown>,
): Promise<ArrivalOutcome> {
  const { regions } = await getRequiredRegions(deps, intent.registry);
  const report = { region, digest: intent.digest, timestamp: intent.timestamp };
  if (intent.kind === 'push') {
    const key: TagKey = {
      registry: intent.registry,
      repository: intent.repository,
      tag: intent.tag,
      ...(intent.tag === null ? { untaggedDigest: intent.digest } : {}),
    };
    const result = await updateTag(deps, key, (s) => applyPush(s, report, payload), regions);
    return { kind: 'push', result };
  }
  // A delete names a manifest, not a tag: every tag that has seen the digest is affected.
  const matches = await deps.store.tags.findByDigest(
    intent.registry,
    intent.repository,
    intent.digest,
  );
  const results: UpdateResult[] = [];
  for (const { record } of matches) {
    results.push(
      await updateTag(deps, keyOf(record.state), (s) => applyDelete(s, report), regions),
    );
  }
  return { kind: 'delete', results };
}
