// Applies one change to a tag under optimistic concurrency: read, apply the rules, write if-match, retry.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  toArrivedEvent,
  toReplicatedEvent,
  toStalledEvent,
  type OutboxEntry,
} from '../events/replicated-event';
import {
  applyDelete,
  emptyTagState,
  evaluate,
  isStallDue,
  knownDigests,
  roundKey,
  withCompletion,
  withStall,
  type Evaluation,
  type TagKey,
  type TagState,
} from '../replication/tag-state';
import { repositoryTopic, type ChangeNotifier } from './change-notifier';
import type {
  Decided,
  DeliveryRecord,
  SeenDeletes,
  Store,
  StoredDelivery,
  StoredTag,
  TagRecord,
} from './ports';
import { MAX_ITEMS_PER_WRITE, StoreUnavailableError, noDeletesSeen } from './ports';
import {
  newDelivery,
  publishOutbox,
  restampIfLate,
  subscriptionsFor,
  type PublishDeps,
} from './publish-events';
import type { TagCache } from './tag-cache';
import { reportTagWrite, type Telemetry } from './telemetry';
import { appliesTo } from '../events/delivery-request';
import type { StoredEvent, Subscription } from '../events/types';
import { plusMillis, type Instant } from '../replication/timestamp';
import { sameSet } from '../util/values';

/** A delivery stored with the write that decided its event, claimed for its first attempt. */
export interface NewDelivery {
  delivery: StoredDelivery;
  event: StoredEvent;
  subscription: Subscription;
}

export interface UpdateDeps extends PublishDeps {
  store: PublishDeps['store'] & Pick<Store, 'registries' | 'deletions'>;
  /** The required regions of a registry that has none of its own. */
  defaultRegions: readonly string[];
  telemetry?: Telemetry;
  maxAttempts: number;
  notifier?: ChangeNotifier;
  /** Told after each write of a tag, so approvals waiting on it are decided at once. */
  onTagWritten?: (key: TagKey) => void;
  /** This instance's last known copy of each tag: a write from it needs no read first. */
  tagCache?: TagCache;
  /**
   * Sends the first attempt of deliveries stored with a write, at once. They are stored claimed
   * for `firstAttemptLeaseMs`, so the timer leaves them alone unless this instance dies first.
   */
  onNewDeliveries?: (deliveries: NewDelivery[]) => void;
  firstAttemptLeaseMs?: number;
}

export interface UpdateOptions {
  /** Also report the round stalled when it has been open this long. */
  stallAfterMs?: number;
  /**
   * The tag is most likely new (a push): when this instance does not know it, try creating it
   * rather than reading it first. If it exists after all, the create is refused and it is read.
   */
  likelyNew?: boolean;
}

export interface UpdateResult {
  record: TagRecord;
  /** False when the change was already known (a duplicate): nothing was written. */
  written: boolean;
  /** The "replicated" event this write decided, if it completed a round. */
  completed: OutboxEntry | null;
  /** The "arrived" events this write decided (regions newly holding the tag's digest). */
  arrived: OutboxEntry[];
  attempts: number;
}

const sameDerived = (a: Evaluation, b: Evaluation): boolean =>
  a.digest === b.digest &&
  a.status === b.status &&
  a.replicatedAt === b.replicatedAt &&
  a.requiredRegions.join(',') === b.requiredRegions.join(',') &&
  a.missingRegions.join(',') === b.missingRegions.join(',');

/** Jittered, growing pause between conflicting attempts so racing instances spread out. */
const backoff = (attempt: number): Promise<void> =>
  sleep(Math.random() * Math.min(2 ** attempt, 100));

/**
 * Where this attempt starts from: the cached copy (no read), nothing (a create, when the tag is
 * likely new), or the store. After a conflict, always the store.
 */
async function startingPoint(
  deps: UpdateDeps,
  key: TagKey,
  guess: StoredTag | 'absent' | undefined,
): Promise<StoredTag | undefined> {
  if (guess === 'absent') return undefined;
  if (guess !== undefined) return guess;
  const stored = await deps.store.tags.get(key);
  if (stored) deps.tagCache?.set(key, stored);
  return stored;
}

type Change = (state: TagState) => TagState | Promise<TagState>;

export function updateTag(
  deps: UpdateDeps,
  key: TagKey,
  /** Pure but for reads it may need (an index's children). */
  change: Change,
  requiredRegions: readonly string[],
  options: UpdateOptions = {},
): Promise<UpdateResult> {
  if (!deps.tagCache) return writeTag(deps, key, change, requiredRegions, options);
  // Changes of one tag that queue behind a running write of it go together, in one write.
  return deps.tagCache.together(
    key,
    JSON.stringify([requiredRegions, options]),
    change,
    (changes: Change[]) => writeTogether(deps, key, changes, requiredRegions, options),
  );
}

/**
 * One write for several changes, applied in the order they came. Each caller learns whether its
 * own change wrote anything; the events the write decided go to the last one that did.
 */
async function writeTogether(
  deps: UpdateDeps,
  key: TagKey,
  changes: Change[],
  requiredRegions: readonly string[],
  options: UpdateOptions,
): Promise<UpdateResult[]> {
  const [only] = changes;
  if (changes.length === 1 && only) {
    return [await writeTag(deps, key, only, requiredRegions, options)];
  }
  let changed: boolean[] = [];
  const all = async (state: TagState): Promise<TagState> => {
    // Run again on every attempt: whether each change changed anything is the last attempt's.
    changed = changes.map(() => false);
    let current = state;
    for (const [i, change] of changes.entries()) {
      const next = await change(current);
      changed[i] = next !== current;
      current = next;
    }
    return current;
  };
  const result = await writeTag(deps, key, all, requiredRegions, options);
  const last = changed.lastIndexOf(true);
  return changes.map((_, i) =>
    i === last
      ? result
      : { ...result, written: result.written && changed[i] === true, completed: null, arrived: [] },
  );
}

async function writeTag(
  deps: UpdateDeps,
  key: TagKey,
  change: Change,
  requiredRegions: readonly string[],
  options: UpdateOptions,
): Promise<UpdateResult> {
  let required = requiredRegions;
  let fresh: CompletionFacts | undefined;
  let deletesRefused = 0;
  let guess: StoredTag | 'absent' | undefined =
    deps.tagCache?.get(key) ?? (options.likelyNew ? 'absent' : undefined);
  for (let attempt = 1; attempt <= deps.maxAttempts; attempt++) {
    const cached = guess !== undefined && guess !== 'absent';
    const existing = await startingPoint(deps, key, guess);
    guess = undefined;
    const before = existing?.record.state ?? emptyTagState(key);
    let after = await change(before);
    if (cached && after === before) {
      // Nothing new to write from the cached copy; whether the stored tag needs anything (another
      // instance may have written since) is decided from the store, not from memory.
      attempt -= 1;
      continue;
    }
    let evaluation = evaluate(after, required);
    const completing = evaluation.newCompletion?.digest;
    if (completing !== undefined) {
      // An event cannot be taken back: what may have changed elsewhere a moment ago is read fresh.
      if (fresh?.digest !== completing) fresh = await completionFacts(deps, key, completing);
      after = withDeletes(after, completing, fresh.deletes.regions);
      if (!sameSet(fresh.regions, required)) required = fresh.regions;
      evaluation = evaluate(after, required);
    }
    // A completing write checks the digest's deletes, and holds them on this instance from before
    // its stamp to its answer: time spent waiting for another tag's write is not time its events
    // are late.
    const checksDeletes = evaluation.newCompletion !== null && fresh !== undefined;
    const release =
      checksDeletes && fresh ? await deps.tagCache?.holdDeletes(key, fresh.digest) : undefined;
    try {
      if (checksDeletes && fresh)
        fresh = { ...fresh, deletes: latestSeen(deps, key, fresh.deletes) };
      const now = deps.clock.now();
      const stall =
        options.stallAfterMs !== undefined &&
        isStallDue(after, evaluation, now, options.stallAfterMs);

      if (
        existing &&
        after === before &&
        !stall &&
        sameDerived(existing.record.evaluation, evaluation)
      ) {
        // A duplicate: already stored (the cached copy was stored too). A leftover outbox is published.
        if (existing.record.outbox.length > 0) await publishOutbox(deps, existing);
        return {
          record: existing.record,
          written: false,
          completed: null,
          arrived: [],
          attempts: attempt,
        };
      }

      let state = after;
      let completed: OutboxEntry | null = null;
      const decidedEntries: OutboxEntry[] = [];
      // Arrivals first: the region that completes a round is announced before the round.
      const { arrivals, entries } = newArrivals(after, evaluation, existing?.record.arrivals ?? {});
      decidedEntries.push(...entries);
      if (evaluation.newCompletion) {
        // The event rides in the same conditional write that decides completion.
        completed = toReplicatedEvent(after, evaluation);
        state = withCompletion(after, { ...evaluation.newCompletion, eventId: completed.event.id });
        decidedEntries.push(completed);
      }
      const round = roundKey(evaluation);
      if (stall && round !== null) {
        decidedEntries.push(toStalledEvent(state, evaluation, now));
        state = withStall(state, round);
      }
      const decided = await decide(deps, decidedEntries, now);
      // Too many deliveries for one request: the events wait in the outbox and are published after.
      const inline =
        // The check of the deletes is one more item of the same request.
        decided.events.length + decided.deliveries.length + (checksDeletes ? 1 : 0) <
        MAX_ITEMS_PER_WRITE;
      const outbox = [...(existing?.record.outbox ?? []), ...(inline ? [] : decidedEntries)];
      const record: TagRecord = { state, evaluation, outbox, arrivals, updatedAt: now };
      const expected = existing ? { etag: existing.etag } : 'absent';
      const checked = checksDeletes ? fresh?.deletes : undefined;
      const saved = await deps.store.tags.save(
        record,
        expected,
        inline ? decided : undefined,
        checked,
      );
      if (saved.ok && checked && saved.deletesVersion !== undefined) {
        deps.tagCache?.rememberDeletes(key, { ...checked, version: saved.deletesVersion });
      }
      // The turn ends with the answer (the finally covers the ways out before it): what follows,
      // a read of the deletes or sending deliveries, need not keep the digest's next writer waiting.
      release?.();
      if (!saved.ok && saved.reason === 'deletes-changed' && fresh !== undefined) {
        // A delete of the digest was recorded since it was seen: read it, and decide again.
        fresh = {
          ...fresh,
          deletes: await deps.store.deletions.get(key.registry, key.repository, fresh.digest),
        };
        deps.tagCache?.rememberDeletes(key, fresh.deletes);
        guess = existing ?? 'absent';
        // Refused because another write landed on the deletes (a delete, or the check of another
        // tag of the digest completing): that is progress elsewhere, finite, not a failed attempt
        // of this one; without it, a retag over many instances gave up with a 503. A refusal that
        // finds the version it checked is counted. A pause spreads racing instances out.
        if (fresh.deletes.version !== checked?.version) attempt -= 1;
        deletesRefused += 1;
        await backoff(deletesRefused);
        continue;
      }
      if (saved.ok) {
        const stored = { record, etag: saved.etag };
        deps.tagCache?.set(key, stored);
        reportTagWrite(deps.telemetry, key.registry, existing?.record.evaluation, evaluation, {
          completed: completed !== null,
          stalled: stall && evaluation.digest !== null,
        });
        deps.notifier?.notify(repositoryTopic(key.registry, key.repository));
        deps.onTagWritten?.(key);
        if (inline) await afterInlineWrite(deps, decided, saved.deliveries);
        if (outbox.length > 0) await publishOutbox(deps, stored);
        return { record, written: true, completed, arrived: entries, attempts: attempt };
      }
    } finally {
      release?.();
    }
    deps.tagCache?.delete(key);
    await backoff(attempt);
  }
  throw new StoreUnavailableError(
    `gave up after ${deps.maxAttempts} conflicting writes to ${key.registry}/${key.repository}`,
  );
}

interface CompletionFacts {
  digest: string;
  regions: string[];
  deletes: SeenDeletes;
}

/**
 * What a write that would complete a round must not take from an old memory: the registry's
 * regions, read past any cache (one added a moment ago on another instance counts), and the
 * digest's deletes (one delivered before the push it undoes applies: a deleted manifest never
 * completes a round). The deletes are not read: the write checks them in the store, as this
 * instance last saw them or, if it never did, as none; a wrong guess is refused and then read.
 */
async function completionFacts(
  deps: UpdateDeps,
  key: TagKey,
  digest: string,
): Promise<CompletionFacts> {
  const own = await deps.store.registries.getRegions(key.registry, { fresh: true });
  const deletes = deps.tagCache?.seenDeletes(key, digest) ?? noDeletesSeen(digest);
  return { digest, regions: own?.regions ?? [...deps.defaultRegions], deletes };
}

/**
 * What this instance last saw of the deletes, when it is what `seen` saw but newer: the version
 * another tag's completing write of the digest left (its check touched them).
 */
function latestSeen(deps: UpdateDeps, key: TagKey, seen: SeenDeletes): SeenDeletes {
  const latest = deps.tagCache?.seenDeletes(key, seen.digest);
  return latest !== undefined && sameDeletes(latest.regions, seen.regions) ? latest : seen;
}

const sameDeletes = (a: Record<string, Instant>, b: Record<string, Instant>): boolean =>
  Object.keys(a).length === Object.keys(b).length &&
  Object.entries(a).every(([region, at]) => b[region] === at);

const withDeletes = (state: TagState, digest: string, deletes: Record<string, Instant>): TagState =>
  Object.entries(deletes).reduce(
    (next, [region, timestamp]) => applyDelete(next, { region, digest, timestamp }),
    state,
  );

/**
 * The events a write decided and a delivery for each subscription that wants one; `sends[i]` is
 * what the first attempt of `deliveries[i]` sends, and to whom.
 */
async function decide(
  deps: UpdateDeps,
  entries: OutboxEntry[],
  now: Instant,
): Promise<Decided & { sends: Omit<NewDelivery, 'delivery'>[] }> {
  if (entries.length === 0) return { events: [], deliveries: [], sends: [] };
  const subscriptions = await subscriptionsFor(deps);
  const claimUntil = claimsFirstAttempt(deps) ? plusMillis(now, deps.firstAttemptLeaseMs) : now;
  const deliveries: DeliveryRecord[] = [];
  const sends: Omit<NewDelivery, 'delivery'>[] = [];
  for (const entry of entries) {
    const event: StoredEvent = { ...entry, recordedAt: now };
    for (const subscription of subscriptions.filter((s) => appliesTo(s, event))) {
      deliveries.push({
        ...newDelivery(entry.event, subscription.id, now),
        nextAttemptAt: claimUntil,
      });
      sends.push({ event, subscription });
    }
  }
  return { events: entries.map((entry) => ({ entry, recordedAt: now })), deliveries, sends };
}

/** Deliveries are stored claimed when this instance sends their first attempt itself. */
const claimsFirstAttempt = (
  deps: UpdateDeps,
): deps is UpdateDeps & {
  onNewDeliveries: NonNullable<UpdateDeps['onNewDeliveries']>;
  firstAttemptLeaseMs: number;
} => deps.onNewDeliveries !== undefined && deps.firstAttemptLeaseMs !== undefined;

/** A late write is moved past any feed cursor that passed it; new deliveries go out at once. */
async function afterInlineWrite(
  deps: UpdateDeps,
  decided: Decided & { sends: Omit<NewDelivery, 'delivery'>[] },
  stored: StoredDelivery[],
): Promise<void> {
  for (const { entry, recordedAt } of decided.events) {
    await restampIfLate(deps, entry.event.id, recordedAt);
  }
  if (stored.length === 0) return;
  if (claimsFirstAttempt(deps)) {
    // The store answers the deliveries in the order they were given: sends[i] is stored[i]'s.
    deps.onNewDeliveries(
      stored.flatMap((delivery, i) => {
        const send = decided.sends[i];
        return send ? [{ delivery, ...send }] : [];
      }),
    );
  } else {
    deps.onDeliveries?.(stored.map((d) => d.record));
  }
}

/**
 * The arrival events this write decides: each region holding the tag's current digest that was
 * not announced for that digest yet. They ride in the same conditional write as the state, like
 * completions, so a lost race decides nothing and the winner announces each region once.
 */
export function newArrivals(
  state: TagState,
  evaluation: Evaluation,
  announced: Readonly<Record<string, readonly string[]>>,
): { arrivals: Record<string, string[]>; entries: OutboxEntry[] } {
  // Bounded like the state: only digests the tag still remembers.
  const known = new Set(knownDigests(state));
  const arrivals: Record<string, string[]> = Object.fromEntries(
    Object.entries(announced)
      .filter(([digest]) => known.has(digest))
      .map(([digest, regions]) => [digest, [...regions]]),
  );
  const { digest } = evaluation;
  if (digest === null || evaluation.status === 'deleted') return { arrivals, entries: [] };
  const done = new Set(arrivals[digest] ?? []);
  const entries: OutboxEntry[] = [];
  for (const view of evaluation.regions) {
    if (view.status !== 'arrived' || view.digest !== digest || view.arrivedAt === undefined) {
      continue;
    }
    if (done.has(view.region)) continue;
    done.add(view.region);
    entries.push(
      toArrivedEvent(state, evaluation, {
        region: view.region,
        required: view.required,
        arrivedAt: view.arrivedAt,
      }),
    );
  }
  if (entries.length > 0) arrivals[digest] = [...done].sort();
  return { arrivals, entries };
}
