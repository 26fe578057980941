// The dashboard's figures: pure functions over tag statuses (lags per region, stalled rounds), no markup.
import type { StatusBody } from '../app/read-status';

/** Milliseconds since the epoch of a `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` instant (millisecond precision). */
const toMillis = (instant: string): number => Date.parse(`${instant.slice(0, 23)}Z`);

/** How long before `now` the instant `since` was, never negative. */
export function ageMillis(now: string, since: string): number {
  return Math.max(0, toMillis(now) - toMillis(since));
}

/** Arrival minus push, for an arrived region of the tag's current round. */
export function lagMillis(tag: StatusBody, region: string): number | undefined {
  const view = tag.regions.find((r) => r.region === region);
  if (view?.status !== 'arrived' || view.arrivedAt === undefined || tag.pushedAt === null) {
    return undefined;
  }
  return ageMillis(view.arrivedAt, tag.pushedAt);
}

/** Nearest-rank percentile of sorted values; 0 for none. */
export function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? 0;
}

export interface RegionLag {
  region: string;
  rounds: number;
  medianMs: number;
  p90Ms: number;
}

/** Per required region, the lag of its arrivals over the tags' current rounds; slowest (p90) first. */
export function regionLags(tags: StatusBody[], regions: string[]): RegionLag[] {
  return regions
    .map((region) => {
      const lags = tags
        .map((t) => lagMillis(t, region))
        .filter((ms): ms is number => ms !== undefined)
        .sort((a, b) => a - b);
      return {
        region,
        rounds: lags.length,
        medianMs: percentile(lags, 50),
        p90Ms: percentile(lags, 90),
      };
    })
    .filter((r) => r.rounds > 0)
    .sort((a, b) => b.p90Ms - a.p90Ms || b.medianMs - a.medianMs || (a.region < b.region ? -1 : 1));
}

export interface StalledRound {
  tag: StatusBody;
  openMs: number;
}

/** Rounds still open longer than STALL_AFTER after their push, longest open first. */
export function stalledRounds(
  tags: StatusBody[],
  now: string,
  stallAfterMs: number,
): StalledRound[] {
  return tags
    .filter((t) => t.status === 'replicating' && t.pushedAt !== null)
    .map((tag) => ({ tag, openMs: toMillis(now) - toMillis(tag.pushedAt ?? now) }))
    .filter((r) => r.openMs >= stallAfterMs)
    .sort((a, b) => b.openMs - a.openMs);
}
