// Records one regional webhook: a push arrival, or a delete of a digest, in the tag's state.
import type { Intent } from '../replication/acr-event';
import {
  applyDelete,
  applyPush,
  keyOf,
  knownDigests,
  type TagKey,
  type TagState,
} from '../replication/tag-state';
import type { Instant } from '../replication/timestamp';
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
    // Deletes delivered before the first push of this digest to the tag apply in the same write,
    // so a deleted manifest never completes a round.
    let deletes: Record<string, Instant> | undefined;
    const result = await updateTag(
      deps,
      key,
      async (s) => {
        let next = applyPush(s, report, payload);
        if (!knownDigests(s).includes(report.digest)) {
          deletes = await deps.store.deletions.get(key.registry, key.repository, report.digest);
          next = withDeletes(next, report.digest, deletes);
        }
        return next;
      },
      regions,
    );
    const settled =
      deletes === undefined
        ? result
        : await withLateDeletes(deps, key, report.digest, deletes, regions, result);
    return { kind: 'push', result: await withCurrentRegions(deps, key, regions, settled) };
  }
  // A delete names a manifest, not a tag: it is remembered for the digest first (for tags that
  // have not seen the digest yet), then applied to every tag that has.
  await deps.store.deletions.record(
    intent.registry,
    intent.repository,
    intent.digest,
    region,
    intent.timestamp,
  );
  const matches = await deps.store.tags.findByDigest(
    intent.registry,
    intent.repository,
    intent.digest,
  );
  const results: UpdateResult[] = [];
  for (const { record } of matches) {
    const key = keyOf(record.state);
    const result = await updateTag(deps, key, (s) => applyDelete(s, report), regions);
    results.push(await withCurrentRegions(deps, key, regions, result));
  }
  return { kind: 'delete', results };
}

const withDeletes = (state: TagState, digest: string, deletes: Record<string, Instant>): TagState =>
  Object.entries(deletes).reduce(
    (next, [region, timestamp]) => applyDelete(next, { region, digest, timestamp }),
    state,
  );

/**
 * A delete racing the first push: it records itself, then looks for tags; the push writes its
 * tag, then looks again here. Whichever runs second sees the other.
 */
async function withLateDeletes(
  deps: RegionsDeps,
  key: TagKey,
  digest: string,
  seen: Record<string, Instant>,
  regions: readonly string[],
  result: UpdateResult,
): Promise<UpdateResult> {
  const deletes = await deps.store.deletions.get(key.registry, key.repository, digest);
  if (Object.entries(deletes).every(([region, at]) => seen[region] === at)) return result;
  const again = await updateTag(deps, key, (s) => withDeletes(s, digest, deletes), regions);
  return {
    record: again.record,
    written: result.written || again.written,
    completed: result.completed ?? again.completed,
    attempts: result.attempts + again.attempts,
  };
}

/**
 * The regions were read before the write. A PUT of the registry's regions that re-evaluated the
 * open rounds before this write landed did not see it, and this write used the old regions: a
 * round complete under the new ones would be decided by nobody. The PUT stores the regions
 * before it re-evaluates and this reads them after writing, so one of the two sees the other.
 * Only a write that left the round open needs it: a completion is sticky, a delete final.
 */
async function withCurrentRegions(
  deps: RegionsDeps,
  key: TagKey,
  used: readonly string[],
  result: UpdateResult,
): Promise<UpdateResult> {
  if (!result.written || result.record.evaluation.status !== 'replicating') return result;
  const { regions } = await getRequiredRegions(deps, key.registry);
  if ([...new Set(regions)].sort().join() === [...new Set(used)].sort().join()) return result;
  const again = await updateTag(deps, key, (s) => s, regions);
  return withCurrentRegions(deps, key, regions, {
    record: again.record,
    written: result.written || again.written,
    completed: again.completed ?? result.completed,
    attempts: result.attempts + again.attempts,
  });
}
