// The event feed for pollers, one event with its deliveries, and redelivery on request.
import type { StoredEvent } from '../events/types';
import type { Clock, DeliveryRecord, EventCursor, EventPage, Store } from './ports';
import { minusMillis } from '../replication/timestamp';
import { newDelivery, subscriptionsFor, type PublishDeps } from './publish-events';
import { appliesTo } from '../events/delivery-request';

export interface EventWithDeliveries extends StoredEvent {
  deliveries: DeliveryRecord[];
}

export async function getEvent(
  deps: { store: Pick<Store, 'events' | 'deliveries'> },
  id: string,
): Promise<EventWithDeliveries | undefined> {
  const stored = await deps.store.events.get(id);
  if (!stored) return undefined;
  const deliveries = await deps.store.deliveries.listForEvent(id);
  return { ...stored, deliveries: deliveries.map((d) => d.record) };
}

/**
 * Starts every delivery of the event over (attempt history kept), and opens deliveries for
 * subscriptions created since. Returns the deliveries now pending, for an immediate attempt.
 */
export async function redeliver(
  deps: PublishDeps,
  id: string,
): Promise<DeliveryRecord[] | undefined> {
  const stored = await deps.store.events.get(id);
  if (!stored) return undefined;
  const now = deps.clock.now();
  const existing = await deps.store.deliveries.listForEvent(id);
  const pending: DeliveryRecord[] = [];
  for (const { record, etag } of existing) {
    const restarted: DeliveryRecord = {
      ...record,
      state: 'pending',
      attemptsInRound: 0,
      nextAttemptAt: now,
      detail: 'redelivery requested',
      updatedAt: now,
    };
    // On a conflict a send is in flight for it; that send records its own outcome.
    const saved = await deps.store.deliveries.save(restarted, etag);
    if (saved.ok) pending.push(restarted);
  }
  const known = new Set(existing.map((d) => d.record.subscriptionId));
  for (const subscription of await subscriptionsFor(deps)) {
    if (known.has(subscription.id) || !appliesTo(subscription, stored)) continue;
    const delivery = newDelivery(stored.event, subscription.id, now);
    await deps.store.deliveries.create(delivery);
    pending.push(delivery);
  }
  return pending;
}

/**
 * One page of the feed for a poller following `?after=<cursor>`.
 *
 * An event is stamped with the writer's clock before its write lands, so an event stamped
 * earlier can become visible after a later one (a slow write on another instance). Were such
 * events handed out at once, a poller's cursor could pass one before it is visible, and the
 * poller would never see it. So the feed only hands out events recorded at least `feedSettleMs`
 * ago: a write that lands within that window is never skipped. A write that lands later is
 * stamped again by its writer (see publishOutbox), after any cursor that passed it.
 * Throws InvalidEventCursorError for a cursor the store did not issue.
 */
export async function readFeed(
  deps: { store: Pick<Store, 'events'>; clock: Clock; feedSettleMs?: number },
  after: EventCursor | undefined,
  limit: number,
): Promise<EventPage> {
  const settleMs = deps.feedSettleMs ?? 0;
  if (settleMs <= 0) return deps.store.events.list(after, limit);
  return deps.store.events.list(after, limit, minusMillis(deps.clock.now(), settleMs));
}
