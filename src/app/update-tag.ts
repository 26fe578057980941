// Applies one change to a tag under optimistic concurrency: read, apply the rules, write if-match, retry.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  toArrivedEvent,
  toReplicatedEvent,
  toStalledEvent,
  type OutboxEntry,
} from '../events/replicated-event';
import {
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
import type { TagRecord } from './ports';
import { StoreUnavailableError } from './ports';
import { publishOutbox, type PublishDeps } from './publish-events';
import { reportTagWrite, type Telemetry } from './telemetry';
import { sameSet } from '../util/values';

export interface UpdateDeps extends PublishDeps {
  telemetry?: Telemetry;
  maxAttempts: number;
  notifier?: ChangeNotifier;
  /** Told after each write of a tag, so approvals waiting on it are decided at once. */
  onTagWritten?: (key: TagKey) => void;
}

export interface UpdateOptions {
  /** Also report the round stalled when it has been open this long. */
  stallAfterMs?: number;
  /**
   * Reads the required regions past any cache. Called only when a round is about to complete:
   * an event cannot be taken back, so a region added a moment ago on another instance must count.
   */
  confirmRegions?: () => Promise<readonly string[]>;
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

export async function updateTag(
  deps: UpdateDeps,
  key: TagKey,
  /** Pure but for reads it may need (the deletes of a digest new to the tag). */
  change: (state: TagState) => TagState | Promise<TagState>,
  requiredRegions: readonly string[],
  options: UpdateOptions = {},
): Promise<UpdateResult> {
  let required = requiredRegions;
  let confirmed = false;
  for (let attempt = 1; attempt <= deps.maxAttempts; attempt++) {
    const existing = await deps.store.tags.get(key);
    const before = existing?.record.state ?? emptyTagState(key);
    const after = await change(before);
    let evaluation = evaluate(after, required);
    if (evaluation.newCompletion && options.confirmRegions && !confirmed) {
      confirmed = true;
      const current = await options.confirmRegions();
      if (!sameSet(current, required)) {
        required = current;
        evaluation = evaluate(after, required);
      }
    }
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
      await publishOutbox(deps, existing);
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
    const outbox = [...(existing?.record.outbox ?? [])];
    // Arrivals first: the region that completes a round is announced before the round.
    const { arrivals, entries } = newArrivals(after, evaluation, existing?.record.arrivals ?? {});
    outbox.push(...entries);
    if (evaluation.newCompletion) {
      // The event rides in the same conditional write that decides completion: an outbox.
      completed = toReplicatedEvent(after, evaluation);
      state = withCompletion(after, { ...evaluation.newCompletion, eventId: completed.event.id });
      outbox.push(completed);
    }
    const round = roundKey(evaluation);
    if (stall && round !== null) {
      outbox.push(toStalledEvent(state, evaluation, now));
      state = withStall(state, round);
    }
    const record: TagRecord = { state, evaluation, outbox, arrivals, updatedAt: now };
    const saved = await deps.store.tags.save(record, existing ? { etag: existing.etag } : 'absent');
    if (saved.ok) {
      reportTagWrite(deps.telemetry, key.registry, existing?.record.evaluation, evaluation, {
        completed: completed !== null,
        stalled: stall && evaluation.digest !== null,
      });
      deps.notifier?.notify(repositoryTopic(key.registry, key.repository));
      deps.onTagWritten?.(key);
      await publishOutbox(deps, { record, etag: saved.etag });
      return { record, written: true, completed, arrived: entries, attempts: attempt };
    }
    await backoff(attempt);
  }
  throw new StoreUnavailableError(
    `gave up after ${deps.maxAttempts} conflicting writes to ${key.registry}/${key.repository}`,
  );
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
