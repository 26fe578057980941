// The rules of replication state: pure functions over plain data, no I/O and no clock.
import { gateRegion, imageReason, type ImageState } from './image-gate';
import type { Instant } from './timestamp';
import { millisBetween } from './timestamp';

/** What one region has told us about one digest of a tag. Every field merges by min, max or union. */
export interface Observation {
  /** Earliest ACR timestamp of a push event for this digest in this region. */
  firstSeen?: Instant;
  /** Latest ACR timestamp of a push event for this digest in this region. */
  lastSeen?: Instant;
  /** Latest ACR timestamp of a delete event for this digest in this region. */
  deletedAt?: Instant;
  /**
   * Every distinct push timestamp from this region, ascending (the newest MAX_SEEN). A region
   * reports one push of a digest once: a second report after the tag moved on is a new push.
   * Absent in items written before rounds were told apart; then firstSeen and lastSeen stand in.
   */
  seen?: Instant[];
}

export type Observations = Record<string, Record<string, Observation>>;

export interface TagKey {
  registry: string;
  repository: string;
  /** null for a push by digest, which has no tag; then `untaggedDigest` names it. */
  tag: string | null;
  untaggedDigest?: string;
}

export interface Completion {
  digest: string;
  replicatedAt: Instant;
  eventId: string;
  /** The start of the round completed; absent in completions written before rounds had one. */
  pushedAt?: Instant;
}

/** The earliest push event ACR sent for a digest: relayed as is to tools that speak ACR webhooks. */
export interface PushRecord {
  timestamp: Instant;
  payload: Record<string, unknown>;
}

export interface TagState extends TagKey {
  observations: Observations;
  completions: Completion[];
  pushes: Record<string, PushRecord>;
  /** Rounds reported stalled (once per round): `digest@pushedAt` (a bare digest in older items). */
  stalls: string[];
  /**
   * Digests forgotten beyond MAX_DIGESTS: region → latest push timestamp then. A first report
   * from another region is a late replica event of a round long over, not a push.
   */
  retired?: Record<string, Record<string, Instant>>;
  /** The latest push time of any digest forgotten beyond MAX_RETIRED. */
  retiredBefore?: Instant;
  /** The manifests under the target, when it is an index or verification is on (image-gate.ts). */
  image?: ImageState;
}

export interface RegionReport {
  region: string;
  digest: string;
  /** ACR's event timestamp. */
  timestamp: Instant;
}

export type TagStatus = 'replicating' | 'replicated' | 'deleted';
/** `reported`: the webhook came, the region's own endpoint has not confirmed it yet. */
export type RegionStatus = 'arrived' | 'reported' | 'pending' | 'stale' | 'deleted';

export interface RegionView {
  region: string;
  required: boolean;
  status: RegionStatus;
  digest?: string;
  arrivedAt?: Instant;
  /** Manifests of the image the region still lacks (or has not confirmed). */
  missing?: string[];
}

export interface Evaluation {
  digest: string | null;
  status: TagStatus;
  regions: RegionView[];
  requiredRegions: string[];
  missingRegions: string[];
  pushedAt: Instant | null;
  replicatedAt: Instant | null;
  /** Set when this evaluation completes a round that has no completion yet. */
  newCompletion: Omit<Completion, 'eventId'> | null;
  /** Why the round cannot complete on webhooks alone (an unreadable index). */
  reason?: string;
}

/** How many completed rounds a tag keeps; older ones stay in the event store. */
export const MAX_COMPLETIONS = 20;

export function emptyTagState(key: TagKey): TagState {
  return { ...key, observations: {}, completions: [], pushes: {}, stalls: [] };
}

export function keyOf(state: TagState): TagKey {
  const { registry, repository, tag, untaggedDigest } = state;
  return untaggedDigest === undefined
    ? { registry, repository, tag }
    : { registry, repository, tag, untaggedDigest };
}

const minOf = (a: Instant | undefined, b: Instant): Instant => (a === undefined || b < a ? b : a);
const maxOf = (a: Instant | undefined, b: Instant): Instant => (a === undefined || b > a ? b : a);

/** How many push timestamps a region keeps per digest (rollbacks back and forth). */
export const MAX_SEEN = 8;

/** The push timestamps of an observation, ascending; older items only have the first and last. */
export function seenOf(o: Observation | undefined): Instant[] {
  if (o === undefined) return [];
  if (o.seen !== undefined) return o.seen;
  const out: Instant[] = [];
  if (o.firstSeen !== undefined) out.push(o.firstSeen);
  if (o.lastSeen !== undefined && o.lastSeen !== o.firstSeen) out.push(o.lastSeen);
  return out;
}

const sameList = (a: readonly Instant[] | undefined, b: readonly Instant[] | undefined): boolean =>
  (a ?? []).length === (b ?? []).length && (a ?? []).every((x, i) => x === b?.[i]);

function merge(state: TagState, region: string, digest: string, next: Observation): TagState {
  const byDigest = state.observations[region] ?? {};
  const current = byDigest[digest] ?? {};
  if (
    current.firstSeen === next.firstSeen &&
    current.lastSeen === next.lastSeen &&
    current.deletedAt === next.deletedAt &&
    (current.seen === next.seen || sameList(current.seen, next.seen))
  ) {
    return state;
  }
  return {
    ...state,
    observations: { ...state.observations, [region]: { ...byDigest, [digest]: next } },
  };
}

/** How many digests a tag remembers; older rounds are forgotten first. */
export const MAX_DIGESTS = 20;
/** How many forgotten digests a tag still recognises (by region and last push). */
export const MAX_RETIRED = 50;

const hasPush = (state: TagState, digest: string): boolean =>
  Object.values(state.observations).some((byDigest) => seenOf(byDigest[digest]).length > 0);

/** A forgotten digest pushed again: its last pushes come back, so the rules see a second report. */
function revive(state: TagState, digest: string): TagState {
  const tomb = state.retired?.[digest] ?? {};
  const observations: Observations = { ...state.observations };
  for (const [region, at] of Object.entries(tomb)) {
    const current = observations[region]?.[digest] ?? {};
    observations[region] = {
      ...observations[region],
      [digest]: { ...current, firstSeen: at, lastSeen: at, seen: [at] },
    };
  }
  const { [digest]: _revived, ...retired } = state.retired ?? {};
  return { ...state, observations, retired };
}

/**
 * A push event seen in one region. Returns the same object when it changes nothing (a duplicate,
 * or a late replica event of a digest forgotten long ago).
 * `payload` is the event as ACR sent it; the earliest one of the digest's current round is kept.
 */
export function applyPush(
  state: TagState,
  report: RegionReport,
  payload?: Record<string, unknown>,
): TagState {
  const { region, digest, timestamp } = report;
  let base = state;
  if (!hasPush(state, digest)) {
    const tomb = state.retired?.[digest];
    if (tomb !== undefined) {
      // Only a second report from a region that had reported it is a new push (a rollback).
      const before = tomb[region];
      if (before === undefined || timestamp <= before) return state;
      base = revive(state, digest);
    } else if (state.retiredBefore !== undefined && timestamp <= state.retiredBefore) {
      return state;
    }
  }
  const current = base.observations[region]?.[digest] ?? {};
  const seen = seenOf(current);
  let next = merge(base, region, digest, {
    ...current,
    firstSeen: minOf(current.firstSeen, timestamp),
    lastSeen: maxOf(current.lastSeen, timestamp),
    seen: seen.includes(timestamp)
      ? seen
      : [...seen, timestamp].sort(compareInstants).slice(-MAX_SEEN),
  });
  if (next === state) return state;
  const kept = next.pushes[digest];
  if (payload !== undefined) {
    const start = currentRounds(next.observations).get(digest);
    const stale = kept === undefined || (start !== undefined && kept.timestamp < start);
    const earlier =
      kept !== undefined &&
      timestamp < kept.timestamp &&
      (start === undefined || timestamp >= start);
    if (stale || earlier) {
      next = { ...next, pushes: { ...next.pushes, [digest]: { timestamp, payload } } };
    }
  }
  return forgetOldDigests(next);
}

const compareInstants = (a: Instant, b: Instant): number => (a < b ? -1 : a > b ? 1 : 0);

/** Keeps the state bounded: drops the digests pushed longest ago beyond MAX_DIGESTS. */
function forgetOldDigests(state: TagState): TagState {
  const times = currentRounds(state.observations);
  if (times.size <= MAX_DIGESTS) return state;
  const keep = new Set(
    [...times.entries()]
      .sort((a, b) => compareInstants(b[1], a[1]) || (a[0] < b[0] ? 1 : -1))
      .slice(0, MAX_DIGESTS)
      .map(([digest]) => digest),
  );
  const observations: Observations = {};
  const retired: Record<string, Record<string, Instant>> = { ...state.retired };
  for (const [region, byDigest] of Object.entries(state.observations)) {
    const kept: [string, Observation][] = [];
    for (const [d, o] of Object.entries(byDigest)) {
      if (keep.has(d) || !times.has(d)) {
        kept.push([d, o]);
        continue;
      }
      const last = seenOf(o).at(-1);
      if (last !== undefined) retired[d] = { ...retired[d], [region]: last };
    }
    if (kept.length > 0) observations[region] = Object.fromEntries(kept);
  }
  // The tombstones are bounded too: beyond them, only the latest push time forgotten is known.
  const latest = (tomb: Record<string, Instant>): Instant =>
    Object.values(tomb).reduce((a, b) => (b > a ? b : a));
  const ranked = Object.entries(retired).sort((a, b) =>
    compareInstants(latest(b[1]), latest(a[1])),
  );
  let retiredBefore = state.retiredBefore;
  for (const [, tomb] of ranked.slice(MAX_RETIRED))
    retiredBefore = maxOf(retiredBefore, latest(tomb));
  const pushes = Object.fromEntries(Object.entries(state.pushes).filter(([d]) => keep.has(d)));
  return {
    ...state,
    observations,
    pushes,
    stalls: state.stalls.filter((s) => keep.has(s.split('@')[0] ?? s)),
    retired: Object.fromEntries(ranked.slice(0, MAX_RETIRED)),
    ...(retiredBefore === undefined ? {} : { retiredBefore }),
  };
}

/** A delete event (by digest) seen in one region. */
export function applyDelete(state: TagState, report: RegionReport): TagState {
  if (state.retired?.[report.digest] !== undefined && !hasPush(state, report.digest)) return state;
  const current = state.observations[report.region]?.[report.digest] ?? {};
  return merge(state, report.region, report.digest, {
    ...current,
    deletedAt: maxOf(current.deletedAt, report.timestamp),
  });
}

/**
 * When each digest's current round started: its latest push. Derived from the set of reports
 * alone (sorted by time), so the order they were delivered in never matters.
 *
 * A report of digest D from region R at time t starts a new round of D when, between
 * from = max(R's previous report of D, D's round start) and t, the tag moved on:
 *  - D was deleted in some region (a push after a delete is a new push);
 *  - R itself reported a digest whose round started after D's (R's tag went E, then D again);
 *  - R had reported D before, and another digest's round started (a second report of D from
 *    one region after the tag moved on: a rollback).
 * Otherwise a region's first report of D joins D's current round: a late replica event.
 */
export function currentRounds(observations: Observations): Map<string, Instant> {
  const reports: { region: string; digest: string; at: Instant }[] = [];
  const deletes = new Map<string, Instant[]>();
  for (const [region, byDigest] of Object.entries(observations)) {
    for (const [digest, o] of Object.entries(byDigest)) {
      for (const at of seenOf(o)) reports.push({ region, digest, at });
      if (o.deletedAt !== undefined)
        deletes.set(digest, [...(deletes.get(digest) ?? []), o.deletedAt]);
    }
  }
  reports.sort(
    (a, b) =>
      compareInstants(a.at, b.at) ||
      (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0) ||
      (a.region < b.region ? -1 : a.region > b.region ? 1 : 0),
  );
  const start = new Map<string, Instant>();
  const starts: { digest: string; at: Instant }[] = [];
  const last = new Map<string, Instant>();
  /** Per region, each report with the start of its digest's round when it was reported. */
  const byRegion = new Map<string, { digest: string; at: Instant; round: Instant }[]>();
  for (const { region, digest, at } of reports) {
    const key = `${region}\n${digest}`;
    const current = start.get(digest);
    const previous = last.get(key);
    last.set(key, at);
    const here = byRegion.get(region) ?? [];
    byRegion.set(region, here);
    if (current === undefined) {
      start.set(digest, at);
      starts.push({ digest, at });
      here.push({ digest, at, round: at });
      continue;
    }
    const from = previous === undefined || previous < current ? current : previous;
    let round = current;
    if (from < at) {
      const deleted = (deletes.get(digest) ?? []).some((d) => d > from && d < at);
      const regionMovedOn = here.some(
        (r) => r.digest !== digest && r.at > from && r.at < at && r.round > current,
      );
      const rolledBack =
        previous !== undefined &&
        starts.some((s) => s.digest !== digest && s.at > from && s.at < at);
      if (deleted || regionMovedOn || rolledBack) {
        round = at;
        start.set(digest, at);
        starts.push({ digest, at });
      }
    }
    here.push({ digest, at, round });
  }
  return start;
}

/** When each digest was last pushed (the start of its current round). */
export const pushTimes = currentRounds;

/** The tag's target: the digest of the newest push (ties broken by digest, so order never matters). */
export function targetDigest(times: Map<string, Instant>): string | null {
  let best: [string, Instant] | null = null;
  for (const [digest, at] of times) {
    if (best === null || at > best[1] || (at === best[1] && digest > best[0])) best = [digest, at];
  }
  return best?.[0] ?? null;
}

/** A region holds a digest when its latest push of it is later than its latest delete there. */
const holds = (o: Observation | undefined): boolean => {
  const last = seenOf(o).at(-1);
  return last !== undefined && (o?.deletedAt === undefined || last > o.deletedAt);
};

/**
 * The target in one region, for the round that started at `start`: arrived at its first report
 * in the round, or already there when the region's latest report of the tag is the target and no
 * delete there undid it (the region never reported the digests in between: it never moved on).
 */
function roundInRegion(
  byDigest: Record<string, Observation> | undefined,
  digest: string,
  start: Instant,
): { arrivedAt?: Instant; deleted: boolean } {
  const o = byDigest?.[digest];
  const seen = seenOf(o);
  const inRound = seen.filter((t) => t >= start);
  const deletedAt = o?.deletedAt;
  const last = inRound.at(-1);
  if (deletedAt !== undefined && deletedAt >= start && (last === undefined || deletedAt >= last)) {
    return { deleted: true };
  }
  if (inRound[0] !== undefined) return { arrivedAt: inRound[0], deleted: false };
  const latest = seen.at(-1);
  if (latest === undefined || (deletedAt !== undefined && deletedAt >= latest)) {
    return { deleted: false };
  }
  const movedOn = Object.entries(byDigest ?? {}).some(
    ([other, p]) => other !== digest && (seenOf(p).at(-1) ?? '') > latest,
  );
  return movedOn ? { deleted: false } : { arrivedAt: latest, deleted: false };
}

function regionView(
  region: string,
  required: boolean,
  byDigest: Record<string, Observation> | undefined,
  target: string | null,
  times: Map<string, Instant>,
): RegionView {
  const start = target === null ? undefined : times.get(target);
  if (target !== null && start !== undefined) {
    const here = roundInRegion(byDigest, target, start);
    if (here.deleted) return { region, required, status: 'deleted', digest: target };
    if (here.arrivedAt !== undefined) {
      return { region, required, status: 'arrived', digest: target, arrivedAt: here.arrivedAt };
    }
  }
  // The newest other digest this region holds makes it stale.
  let newest: [string, Instant] | null = null;
  for (const [digest, o] of Object.entries(byDigest ?? {})) {
    const at = times.get(digest);
    if (digest === target || !holds(o) || at === undefined) continue;
    if (newest === null || at > newest[1]) newest = [digest, at];
  }
  if (newest !== null) {
    const arrivedAt = seenOf(byDigest?.[newest[0]]).filter((t) => t >= newest[1])[0];
    return {
      region,
      required,
      status: 'stale',
      digest: newest[0],
      ...(arrivedAt === undefined ? {} : { arrivedAt }),
    };
  }
  return { region, required, status: 'pending' };
}

/**
 * Whether a completion already announced the round of `digest` that started at `start`: it
 * completed that round (it came after the round started), or the arrivals it announced reach into
 * the round. A delete (or a report of another digest) delivered after a round completed can move
 * the start of its digest's round past the pushes that completed it; those arrivals are announced
 * once, whatever order they came in. A round whose required regions all arrived before it started
 * (only a region not required reported in it) was announced by a completion at or after its
 * `replicatedAt`: the required regions have held the digest since.
 */
const completes = (
  c: Completion,
  digest: string | null,
  start: Instant | null,
  replicatedAt: Instant | null,
): boolean =>
  c.digest === digest &&
  start !== null &&
  ((c.pushedAt ?? c.replicatedAt) >= start ||
    c.replicatedAt >= (replicatedAt !== null && replicatedAt < start ? replicatedAt : start));

/** The completion of the evaluated round, if it has one. */
export function completionOf(state: TagState, evaluation: Evaluation): Completion | undefined {
  return [...state.completions]
    .reverse()
    .find((c) => completes(c, evaluation.digest, evaluation.pushedAt, evaluation.replicatedAt));
}

/** A round's identity, for its stall: the digest and when its round started. */
export const roundKey = (evaluation: Evaluation): string | null =>
  evaluation.digest === null || evaluation.pushedAt === null
    ? null
    : `${evaluation.digest}@${evaluation.pushedAt}`;

/**
 * Derives the tag's status from its observations and the registry's required regions.
 * (Other modules call this with a region scope as the second argument; further arguments stay optional.)
 */
export function evaluate(state: TagState, requiredRegions: readonly string[]): Evaluation {
  const required = [...new Set(requiredRegions)].sort();
  const times = currentRounds(state.observations);
  const digest = targetDigest(times);
  const start = digest === null ? null : (times.get(digest) ?? null);
  const extra = Object.keys(state.observations)
    .filter((r) => !required.includes(r))
    .filter((r) => digest !== null && state.observations[r]?.[digest] !== undefined)
    .sort();
  const regions = [
    ...required.map((r) => regionView(r, true, state.observations[r], digest, times)),
    ...extra.map((r) => regionView(r, false, state.observations[r], digest, times)),
  ].map((view) => gateRegion(state.image, digest, view));
  const reason = imageReason(state.image, digest);
  const requiredViews = regions.filter((r) => r.required);
  const missingRegions = requiredViews.filter((r) => r.status !== 'arrived').map((r) => r.region);
  const deleted =
    digest !== null &&
    start !== null &&
    Object.values(state.observations).some(
      (byDigest) => roundInRegion(byDigest, digest, start).deleted,
    );

  let status: TagStatus = 'replicating';
  let replicatedAt: Instant | null = null;
  if (deleted) {
    status = 'deleted';
  } else if (digest !== null && missingRegions.length === 0 && required.length > 0) {
    status = 'replicated';
    // The moment the last required region reported: a fact of the data, not of delivery order.
    replicatedAt = requiredViews.reduce<Instant | undefined>(
      (latest, r) => (r.arrivedAt === undefined ? latest : maxOf(latest, r.arrivedAt)),
      undefined,
    ) as Instant;
  }
  const alreadyCompleted = state.completions.some((c) => completes(c, digest, start, replicatedAt));
  return {
    digest,
    status,
    regions,
    requiredRegions: required,
    missingRegions,
    pushedAt: start,
    replicatedAt,
    newCompletion:
      status === 'replicated' &&
      digest !== null &&
      start !== null &&
      replicatedAt !== null &&
      !alreadyCompleted
        ? { digest, replicatedAt, pushedAt: start }
        : null,
    ...(reason === null ? {} : { reason }),
  };
}

/**
 * A digest's own status, whatever tags it was pushed under: a region holds it when its latest
 * push of the digest (under any tag) is later than its latest delete there. It reads `deleted`
 * when the latest thing that happened to it anywhere was a delete.
 */
export function evaluateDigest(
  states: readonly TagState[],
  digest: string,
  requiredRegions: readonly string[],
): Evaluation {
  const required = [...new Set(requiredRegions)].sort();
  const merged: Record<string, { seen: Instant[]; deletedAt?: Instant }> = {};
  for (const state of states) {
    for (const [region, byDigest] of Object.entries(state.observations)) {
      const o = byDigest[digest];
      if (o === undefined) continue;
      const into = (merged[region] ??= { seen: [] });
      into.seen = [...new Set([...into.seen, ...seenOf(o)])].sort(compareInstants);
      if (o.deletedAt !== undefined) into.deletedAt = maxOf(into.deletedAt, o.deletedAt);
    }
  }
  const view = (region: string, isRequired: boolean): RegionView => {
    const o = merged[region];
    const last = o?.seen.at(-1);
    if (
      o !== undefined &&
      last !== undefined &&
      (o.deletedAt === undefined || last > o.deletedAt)
    ) {
      const arrivedAt = o.seen.find((t) => o.deletedAt === undefined || t > o.deletedAt) as Instant;
      return { region, required: isRequired, status: 'arrived', digest, arrivedAt };
    }
    if (o?.deletedAt !== undefined)
      return { region, required: isRequired, status: 'deleted', digest };
    return { region, required: isRequired, status: 'pending' };
  };
  const extra = Object.keys(merged)
    .filter((r) => !required.includes(r))
    .sort();
  // An index's own status also waits for its children, as its tags' rounds do (image-gate.ts).
  const image = states.map((s) => s.image).find((i) => i?.digest === digest);
  const regions = [...required.map((r) => view(r, true)), ...extra.map((r) => view(r, false))].map(
    (v) => gateRegion(image, digest, v),
  );
  const reason = imageReason(image, digest);
  const requiredViews = regions.filter((r) => r.required);
  const missingRegions = requiredViews.filter((r) => r.status !== 'arrived').map((r) => r.region);
  const all = Object.values(merged);
  const lastPush = all.reduce<Instant | undefined>(
    (a, o) => (o.seen.at(-1) === undefined ? a : maxOf(a, o.seen.at(-1) as Instant)),
    undefined,
  );
  const lastDelete = all.reduce<Instant | undefined>(
    (a, o) => (o.deletedAt === undefined ? a : maxOf(a, o.deletedAt)),
    undefined,
  );
  const arrived = regions.flatMap((r) => (r.arrivedAt === undefined ? [] : [r.arrivedAt]));
  const pushedAt = arrived.reduce<Instant | null>((a, t) => (a === null || t < a ? t : a), null);
  let status: TagStatus = 'replicating';
  let replicatedAt: Instant | null = null;
  if (lastDelete !== undefined && (lastPush === undefined || lastDelete >= lastPush)) {
    status = 'deleted';
  } else if (missingRegions.length === 0 && required.length > 0) {
    status = 'replicated';
    replicatedAt = requiredViews.reduce<Instant | undefined>(
      (latest, r) => (r.arrivedAt === undefined ? latest : maxOf(latest, r.arrivedAt)),
      undefined,
    ) as Instant;
  }
  return {
    digest,
    status,
    regions,
    requiredRegions: required,
    missingRegions,
    pushedAt,
    replicatedAt,
    newCompletion: null,
    ...(reason === null ? {} : { reason }),
  };
}

/** Records a completion (keeping the most recent rounds only). */
export function withCompletion(state: TagState, completion: Completion): TagState {
  return { ...state, completions: [...state.completions, completion].slice(-MAX_COMPLETIONS) };
}

/** A round still open after `stallAfterMs` is reported once: the regions it waits on may be down. */
export function isStallDue(
  state: TagState,
  evaluation: Evaluation,
  now: Instant,
  stallAfterMs: number,
): boolean {
  return (
    evaluation.status === 'replicating' &&
    evaluation.digest !== null &&
    evaluation.pushedAt !== null &&
    !state.stalls.includes(roundKey(evaluation) ?? '') &&
    !state.stalls.includes(evaluation.digest) &&
    millisBetween(evaluation.pushedAt, now) >= stallAfterMs
  );
}

/** Records the round (`roundKey`) as reported stalled. */
export function withStall(state: TagState, round: string): TagState {
  return { ...state, stalls: [...state.stalls, round].slice(-MAX_DIGESTS) };
}

/** Every digest the tag has seen, for finding tags by digest. */
export function knownDigests(state: TagState): string[] {
  const digests = new Set<string>();
  for (const byDigest of Object.values(state.observations)) {
    for (const digest of Object.keys(byDigest)) digests.add(digest);
  }
  return [...digests].sort();
}

/** How long the round took, from push to the last required region. */
export function replicationMillis(e: Evaluation): number | null {
  return e.pushedAt !== null && e.replicatedAt !== null
    ? millisBetween(e.pushedAt, e.replicatedAt)
    : null;
}
