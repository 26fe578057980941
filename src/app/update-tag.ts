// Applies one change to a tag under optimistic concurrency: read, apply the rules, write if-match, retry.
import { setTimeout as sleep } from 'node:timers/promises';
import { toReplicatedEvent, type ReplicatedEvent } from '../events/replicated-event';
import {
  emptyTagState,
  evaluate,
  withCompletion,
  type Evaluation,
  type TagKey,
  type TagState,
} from '../replication/tag-state';
import { repositoryTopic, type ChangeNotifier } from './change-notifier';
import type { Clock, Store, StoredTag, TagRecord } from './ports';
import { StoreUnavailableError } from './ports';

export interface UpdateDeps {
  store: Pick<Store, 'tags' | 'events'>;
  clock: Clock;
  maxAttempts: number;
  notifier?: ChangeNotifier;
}

export interface UpdateResult {
  record: TagRecord;
  /** False when the change was already known (a duplicate): nothing was written. */
  written: boolean;
  /** The event this write decided, if it completed a round. */
  completed: ReplicatedEvent | null;
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
  change: (state: TagState) => TagState,
  requiredRegions: readonly string[],
): Promise<UpdateResult> {
  for (let attempt = 1; attempt <= deps.maxAttempts; attempt++) {
    const existing = await deps.store.tags.get(key);
    const before = existing?.record.state ?? emptyTagState(key);
    const after = change(before);
    const evaluation = evaluate(after, requiredRegions);

    if (existing && after === before && sameDerived(existing.record.evaluation, evaluation)) {
      await publishOutbox(deps, existing);
      return { record: existing.record, written: false, completed: null, attempts: attempt };
    }

    let state = after;
    let completed: ReplicatedEvent | null = null;
    const outbox = [...(existing?.record.outbox ?? [])];
    if (evaluation.newCompletion) {
      // The event rides in the same conditional write that decides completion: an outbox.
      completed = toReplicatedEvent(after, evaluation);
      state = withCompletion(after, { ...evaluation.newCompletion, eventId: completed.id });
      outbox.push(completed);
    }
    const record: TagRecord = { state, evaluation, outbox, updatedAt: deps.clock.now() };
    const saved = await deps.store.tags.save(record, existing ? { etag: existing.etag } : 'absent');
    if (saved.ok) {
      deps.notifier?.notify(repositoryTopic(key.registry, key.repository));
      await publishOutbox(deps, { record, etag: saved.etag });
      return { record, written: true, completed, attempts: attempt };
    }
    await backoff(attempt);
  }
  throw new StoreUnavailableError(
    `gave up after ${deps.maxAttempts} conflicting writes to ${key.registry}/${key.repository}`,
  );
}

/**
 * Copies decided events to the event store, then drops them from the tag's outbox. Both steps are
 * idempotent; if either fails the outbox keeps the event and the next write or sweep retries.
 */
export async function publishOutbox(deps: UpdateDeps, stored: StoredTag): Promise<void> {
  const { outbox } = stored.record;
  if (outbox.length === 0) return;
  try {
    for (const event of outbox) await deps.store.events.add(event);
    await deps.store.tags.save({ ...stored.record, outbox: [] }, { etag: stored.etag });
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) throw error;
  }
}
