// Publishes a tag's outbox: stores each event, opens a delivery per matching subscription, then empties the outbox.
import { appliesTo } from '../events/delivery-request';
import { repositoryOf } from '../events/replicated-event';
import type { GateEvent, Subscription } from '../events/types';
import type { Clock, DeliveryRecord, Store, StoredTag } from './ports';
import { StoreUnavailableError } from './ports';
import { millisBetween, type Instant } from '../replication/timestamp';

export interface PublishDeps {
  store: Pick<Store, 'tags' | 'events' | 'subscriptions' | 'deliveries'>;
  clock: Clock;
  /** Sinks configured by settings rather than stored (the Event Grid topic). */
  builtinSubscriptions?: readonly Subscription[];
  /**
   * The feed's settle window (readFeed): an event whose write took longer than this is stamped
   * again once it has landed, so a poller whose cursor passed it still sees it.
   */
  feedSettleMs?: number;
  /** Told about new deliveries so their first attempt goes out at once. */
  onDeliveries?: (deliveries: DeliveryRecord[]) => void;
}

export async function subscriptionsFor(deps: PublishDeps): Promise<Subscription[]> {
  const stored = await deps.store.subscriptions.list();
  return [...(deps.builtinSubscriptions ?? []), ...stored.filter((s) => s.enabled)];
}

/** A delivery of `event`, due now; it lives beside the event's tag (the event names it). */
export const newDelivery = (
  event: GateEvent,
  subscriptionId: string,
  now: DeliveryRecord['updatedAt'],
): DeliveryRecord => ({
  eventId: event.id,
  subscriptionId,
  state: 'pending',
  attempts: [],
  attemptsInRound: 0,
  nextAttemptAt: now,
  updatedAt: now,
  ...repositoryOf(event),
});

/** A write that landed after the settle window is moved past any cursor that may have passed it. */
export async function restampIfLate(
  deps: PublishDeps,
  id: string,
  stampedAt: Instant,
): Promise<void> {
  const settleMs = deps.feedSettleMs ?? 0;
  let stamped = stampedAt;
  for (let attempt = 0; settleMs > 0 && attempt < 5; attempt++) {
    if (millisBetween(stamped, deps.clock.now()) < settleMs) return;
    stamped = deps.clock.now();
    await deps.store.events.restamp(id, stamped);
  }
}

/**
 * Every step is idempotent (event ids and delivery ids are stable), so a publish that fails
 * half-way is simply run again by the next write of the tag or by the sweep.
 */
export async function publishOutbox(deps: PublishDeps, stored: StoredTag): Promise<void> {
  const { outbox } = stored.record;
  if (outbox.length === 0) return;
  const created: DeliveryRecord[] = [];
  try {
    const subscriptions = await subscriptionsFor(deps);
    for (const entry of outbox) {
      const now = deps.clock.now();
      await deps.store.events.add(entry, now);
      await restampIfLate(deps, entry.event.id, now);
      const storedEvent = { ...entry, recordedAt: now };
      for (const subscription of subscriptions.filter((s) => appliesTo(s, storedEvent))) {
        const delivery = newDelivery(entry.event, subscription.id, now);
        await deps.store.deliveries.create(delivery);
        created.push(delivery);
      }
    }
    await deps.store.tags.save({ ...stored.record, outbox: [] }, { etag: stored.etag });
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) throw error;
  }
  if (created.length > 0) deps.onDeliveries?.(created);
}
