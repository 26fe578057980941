// The rules of replication state: pure functions over plain data, no I/O and no clock.
import type { Instant } from './timestamp';
import { millisBetween } from './timestamp';

/** What one region has told us about one digest of a tag. Every field merges by min or max. */
export interface Observation {
  /** Earliest ACR timestamp of a push event for this digest in this region. */
  firstSeen?: Instant;
  /** Latest ACR timestamp of a push event for this digest in this region. */
  lastSeen?: Instant;
  /** Latest ACR timestamp of a delete event for this digest in this region. */
  deletedAt?: Instant;
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
  /** Digests whose round was reported stalled (once per round). */
  stalls: string[];
}

export interface RegionReport {
  region: string;
  digest: string;
  /** ACR's event timestamp. */
  timestamp: Instant;
}

export type TagStatus = 'replicating' | 'replicated' | 'deleted';
export type RegionStatus = 'arrived' | 'pending' | 'stale' | 'deleted';

export interface RegionView {
  region: string;
  required: boolean;
  status: RegionStatus;
  digest?: string;
  arrivedAt?: Instant;
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

function merge(state: TagState, region: string, digest: string, next: Observation): TagState {
  const byDigest = state.observations[region] ?? {};
  const current = byDigest[digest] ?? {};
  if (
    current.firstSeen === next.firstSeen &&
    current.lastSeen === next.lastSeen &&
    current.deletedAt === next.deletedAt
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

/**
 * A push event seen in one region. Returns the same object when it changes nothing (a duplicate).
 * `payload` is the event as ACR sent it; the earliest one per digest is kept.
 */
export function applyPush(
  state: TagState,
  report: RegionReport,
  payload?: Record<string, unknown>,
): TagState {
  const current = state.observations[report.region]?.[report.digest] ?? {};
  let next = merge(state, report.region, report.digest, {
    ...current,
    firstSeen: minOf(current.firstSeen, report.timestamp),
    lastSeen: maxOf(current.lastSeen, report.timestamp),
  });
  const kept = state.pushes[report.digest];
  if (payload !== undefined && (kept === undefined || report.timestamp < kept.timestamp)) {
    next = {
      ...next,
      pushes: { ...next.pushes, [report.digest]: { timestamp: report.timestamp, payload } },
    };
  }
  return next === state ? state : forgetOldDigests(next);
}

/** Keeps the state bounded: drops the digests pushed longest ago beyond MAX_DIGESTS. */
function forgetOldDigests(state: TagState): TagState {
  const times = pushTimes(state.observations);
  if (times.size <= MAX_DIGESTS) return state;
  const keep = new Set(
    [...times.entries()]
      .sort((a, b) => (a[1] < b[1] ? 1 : a[1] > b[1] ? -1 : 0))
      .slice(0, MAX_DIGESTS)
      .map(([digest]) => digest),
  );
  const observations: Observations = {};
  for (const [region, byDigest] of Object.entries(state.observations)) {
    const kept = Object.entries(byDigest).filter(([d]) => keep.has(d) || !times.has(d));
    if (kept.length > 0) observations[region] = Object.fromEntries(kept);
  }
  const pushes = Object.fromEntries(Object.entries(state.pushes).filter(([d]) => keep.has(d)));
  return { ...state, observations, pushes, stalls: state.stalls.filter((d) => keep.has(d)) };
}

/** A delete event (by digest) seen in one region. */
export function applyDelete(state: TagState, report: RegionReport): TagState {
  const current = state.observations[report.region]?.[report.digest] ?? {};
  return merge(state, report.region, report.digest, {
    ...current,
    deletedAt: maxOf(current.deletedAt, report.timestamp),
  });
}

const isPresent = (o: Observation | undefined): o is Observation & { lastSeen: Instant } =>
  o?.lastSeen !== undefined && (o.deletedAt === undefined || o.lastSeen > o.deletedAt);

const isDeleted = (o: Observation | undefined): boolean =>
  o?.deletedAt !== undefined && (o.lastSeen === undefined || o.deletedAt >= o.lastSeen);

/**
 * When a digest was pushed: the earliest event for it in any region. Replicas report later
 * than the region that took the push, so a late replica event never makes an old digest newer.
 */
export function pushTimes(observations: Observations): Map<string, Instant> {
  const times = new Map<string, Instant>();
  for (const byDigest of Object.values(observations)) {
    for (const [digest, o] of Object.entries(byDigest)) {
      if (o.firstSeen !== undefined) times.set(digest, minOf(times.get(digest), o.firstSeen));
    }
  }
  return times;
}

/** The tag's target: the digest of the newest push (ties broken by digest, so order never matters). */
export function targetDigest(times: Map<string, Instant>): string | null {
  let best: [string, Instant] | null = null;
  for (const [digest, at] of times) {
    if (best === null || at > best[1] || (at === best[1] && digest > best[0])) best = [digest, at];
  }
  return best?.[0] ?? null;
}

function regionView(
  region: string,
  required: boolean,
  byDigest: Record<string, Observation> | undefined,
  target: string | null,
  times: Map<string, Instant>,
): RegionView {
  const own = target === null ? undefined : byDigest?.[target];
  if (target !== null && isPresent(own)) {
    return {
      region,
      required,
      status: 'arrived',
      digest: target,
      arrivedAt: own.firstSeen ?? own.lastSeen,
    };
  }
  if (isDeleted(own)) return { region, required, status: 'deleted', digest: target ?? undefined };
  // The newest other digest this region holds makes it stale.
  let newest: [string, Instant] | null = null;
  for (const [digest, o] of Object.entries(byDigest ?? {})) {
    const at = times.get(digest);
    if (digest === target || !isPresent(o) || at === undefined) continue;
    if (newest === null || at > newest[1]) newest = [digest, at];
  }
  if (newest !== null) {
    const o = byDigest?.[newest[0]];
    return { region, required, status: 'stale', digest: newest[0], arrivedAt: o?.firstSeen };
  }
  return { region, required, status: 'pending' };
}

/** Derives the tag's status from its observations and the registry's required regions. */
export function evaluate(state: TagState, requiredRegions: readonly string[]): Evaluation {
  const required = [...new Set(requiredRegions)].sort();
  const times = pushTimes(state.observations);
  const digest = targetDigest(times);
  const extra = Object.keys(state.observations)
    .filter((r) => !required.includes(r))
    .filter((r) => digest !== null && state.observations[r]?.[digest] !== undefined)
    .sort();
  const regions = [
    ...required.map((r) => regionView(r, true, state.observations[r], digest, times)),
    ...extra.map((r) => regionView(r, false, state.observations[r], digest, times)),
  ];
  const requiredViews = regions.filter((r) => r.required);
  const missingRegions = requiredViews.filter((r) => r.status !== 'arrived').map((r) => r.region);
  const deleted =
    digest !== null &&
    Object.values(state.observations).some((byDigest) => isDeleted(byDigest[digest]));

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
  const alreadyCompleted = state.completions.some((c) => c.digest === digest);
  return {
    digest,
    status,
    regions,
    requiredRegions: required,
    missingRegions,
    pushedAt: digest === null ? null : (times.get(digest) ?? null),
    replicatedAt,
    newCompletion:
      status === 'replicated' && digest !== null && replicatedAt !== null && !alreadyCompleted
        ? { digest, replicatedAt }
        : null,
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
    !state.stalls.includes(evaluation.digest) &&
    millisBetween(evaluation.pushedAt, now) >= stallAfterMs
  );
}

export function withStall(state: TagState, digest: string): TagState {
  return { ...state, stalls: [...state.stalls, digest].slice(-MAX_DIGESTS) };
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
