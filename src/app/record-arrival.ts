// Records one regional webhook: a push arrival, or a delete of a digest, in the tag's state.
import type { Intent } from '../replication/acr-event';
import { applyDelete, applyPush, keyOf, type TagKey } from '../replication/tag-state';
import { millisBetween } from '../replication/timestamp';
import { ImplausibleTimestampError } from './ports';
import type { RegionsDeps } from './required-regions';
import { getRequiredRegions } from './required-regions';
import { followArrival, followChild, refreshImage, type Update } from './follow-image';
import { updateTag, type UpdateResult } from './update-tag';

export type ArrivalOutcome =
  { kind: 'push'; result: UpdateResult } | { kind: 'delete'; results: UpdateResult[] };

/** True when recording the arrival wrote something: it was not known before. */
export const changedState = (outcome: ArrivalOutcome): boolean =>
  outcome.kind === 'push' ? outcome.result.written : outcome.results.some((r) => r.written);

/**
 * How far ahead of the receiving instance's clock an ACR timestamp may be. ACR stamps events on
 * its own clock, and replays (Event Grid, reconciliation) come later, never earlier: an hour is far
 * beyond any real skew, and a push stamped further ahead would stay the tag's newest for good.
 */
export const MAX_FUTURE_SKEW_MS = 60 * 60_000;

/**
 * Records one regional webhook (see applyArrival) and reports it to telemetry. A timestamp beyond
 * MAX_FUTURE_SKEW_MS is refused (ImplausibleTimestampError) before anything is read or written.
 */
export async function recordArrival(
  deps: RegionsDeps,
  intent: Extract<Intent, { kind: 'push' | 'delete' }>,
  region: string,
  payload?: Record<string, unknown>,
): Promise<ArrivalOutcome> {
  const now = deps.clock.now();
  if (millisBetween(now, intent.timestamp) > MAX_FUTURE_SKEW_MS) {
    throw new ImplausibleTimestampError(
      `timestamp ${intent.timestamp} is more than ${MAX_FUTURE_SKEW_MS / 60_000} minutes ahead of this instance's clock (${now})`,
    );
  }
  const outcome = await applyArrival(deps, intent, region, payload);
  deps.telemetry?.arrival({
    registry: intent.registry,
    region,
    kind: outcome.kind,
    written: changedState(outcome),
  });
  return outcome;
}

async function applyArrival(
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
    // Deletes delivered before this push apply when the round would complete (updateTag reads
    // them then): a deleted manifest never completes a round, and the arrivals before that cost
    // one write each. (A delete racing this very push is settled by the sweep.)
    let result = await updateTag(
      deps,
      key,
      (s) => refreshImage(deps, applyPush(s, report, payload)),
      regions,
      { likelyNew: true },
    );
    if (deps.images) {
      // Stored first; then the registry, within a bound (the sweep retries what this misses).
      const update: Update = async (k, change) => {
        const r = await updateTag(deps, k, change, regions);
        if (
          r.record.state.tag === key.tag &&
          r.record.state.untaggedDigest === key.untaggedDigest
        ) {
          result = { ...r, completed: r.completed ?? result.completed };
        }
        return r.record.state;
      };
      await followArrival(deps, update, result.record.state, region);
      if (intent.tag === null) {
        await followChild(deps, update, intent.registry, intent.repository, intent.digest);
      }
    }
    return { kind: 'push', result };
  }
  // A delete names a manifest, not a tag: it is remembered for the digest first (for tags that
  // have not seen the digest yet), then applied to every tag that has.
  await deps.store.deletions.record(
    intent.registry,
    intent.repository,
    intent.digest,
    region,
    intent.timestamp,
    deps.clock.now(),
  );
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
  // A deleted child manifest: the rounds of the indexes naming it see the region lack it again.
  const update: Update = async (k, change) =>
    (await updateTag(deps, k, change, regions)).record.state;
  await followChild(deps, update, intent.registry, intent.repository, intent.digest);
  return { kind: 'delete', results };
}
