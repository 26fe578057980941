// Delivers events to subscribers at least once: claim by conditional write, send, record, back off, dead-letter.
import {
  appliesTo,
  classifyAttempt,
  nextAttemptDelay,
  toDeliveryRequest,
} from '../events/delivery-request';
import type {
  AttemptResult,
  DeliveryRequest,
  GateEvent,
  StoredEvent,
  Subscription,
} from '../events/types';
import { instantToDate, plusMillis } from '../replication/timestamp';
import type { Clock, DeliveryRecord, Store, StoredDelivery } from './ports';
import { StoreUnavailableError } from './ports';
import type { Telemetry } from './telemetry';
import type { NewDelivery } from './update-tag';

export interface DeliveryDeps {
  store: Pick<Store, 'events' | 'subscriptions' | 'deliveries'>;
  clock: Clock;
  /** Delays before each retry; when exhausted the delivery is dead-lettered. */
  retryScheduleMs: readonly number[];
  timeoutMs: number;
  send: (request: DeliveryRequest, options: { timeoutMs: number }) => Promise<AttemptResult>;
  /** Sinks configured by settings (the Event Grid topic), by subscription id. */
  builtinSinks?: ReadonlyMap<
    string,
    { subscription: Subscription; send(event: GateEvent): Promise<AttemptResult> }
  >;
  random?: () => number;
  log?: (line: string) => void;
  telemetry?: Telemetry;
}

export interface DeliveryReport {
  attempted: number;
  delivered: number;
  retrying: number;
  dead: number;
  gone: number;
  cancelled: number;
  /** Claimed by another instance first: not ours to send. */
  skipped: number;
}

/** Most attempts kept per delivery; older ones are dropped from the log. */
const MAX_ATTEMPTS_KEPT = 50;

export function makeDeliverer(deps: DeliveryDeps) {
  const random = deps.random ?? Math.random;
  const log = deps.log ?? (() => undefined);
  // A claim holds a delivery for one send plus margin; if this instance dies it becomes due again.
  const leaseMs = deps.timeoutMs + 30_000;

  const findSubscription = async (id: string): Promise<Subscription | undefined> =>
    deps.builtinSinks?.get(id)?.subscription ?? (await deps.store.subscriptions.get(id));

  async function attempt(subscription: Subscription, stored: StoredEvent): Promise<AttemptResult> {
    const builtin = deps.builtinSinks?.get(subscription.id);
    if (builtin) return builtin.send(stored.event);
    // webhook-id is the event id: a receiver de-duplicates redeliveries on it.
    const request = toDeliveryRequest(subscription, stored, {
      webhookId: stored.event.id,
      at: instantToDate(deps.clock.now()),
    });
    return deps.send(request, { timeoutMs: deps.timeoutMs });
  }

  /** Writes a result; if someone changed the delivery meanwhile (a redeliver), keep theirs and add ours. */
  async function settle(
    claimed: StoredDelivery,
    decide: (record: DeliveryRecord) => DeliveryRecord,
  ): Promise<DeliveryRecord> {
    let current = claimed;
    for (let i = 0; i < 5; i++) {
      const next = decide(current.record);
      const saved = await deps.store.deliveries.save(next, current.etag);
      if (saved.ok) return next;
      const fresh = (await deps.store.deliveries.listForEvent(claimed.record.eventId)).find(
        (d) => d.record.subscriptionId === claimed.record.subscriptionId,
      );
      if (!fresh) return next;
      current = fresh;
    }
    throw new StoreUnavailableError('could not record a delivery attempt after 5 conflicts');
  }

  async function deliverOne(due: StoredDelivery, report: DeliveryReport): Promise<void> {
    const now = deps.clock.now();
    const { record } = due;
    if (
      record.state !== 'pending' ||
      (record.nextAttemptAt !== null && record.nextAttemptAt > now)
    ) {
      report.skipped += 1;
      return;
    }
    const claim = await deps.store.deliveries.save(
      { ...record, nextAttemptAt: plusMillis(now, leaseMs), updatedAt: now },
      due.etag,
    );
    if (!claim.ok) {
      report.skipped += 1;
      return;
    }
    const claimed: StoredDelivery = {
      record: { ...record, nextAttemptAt: plusMillis(now, leaseMs) },
      etag: claim.etag,
    };

    const [stored, subscription] = await Promise.all([
      deps.store.events.get(record.eventId),
      findSubscription(record.subscriptionId),
    ]);
    await sendClaimed(claimed, stored, subscription, report);
  }

  /** One attempt of a delivery this instance holds the claim of, and its outcome recorded. */
  async function sendClaimed(
    claimed: StoredDelivery,
    stored: StoredEvent | undefined,
    subscription: Subscription | undefined,
    report: DeliveryReport,
  ): Promise<void> {
    const now = deps.clock.now();
    const { record } = claimed;
    if (!stored || !subscription || !subscription.enabled || !appliesTo(subscription, stored)) {
      const detail = !stored
        ? 'event not found'
        : !subscription
          ? 'subscription deleted'
          : !subscription.enabled
            ? `subscription disabled: ${subscription.disabledReason ?? ''}`
            : 'subscription no longer matches';
      await settle(claimed, (r) => ({
        ...r,
        state: 'cancelled',
        nextAttemptAt: null,
        detail,
        updatedAt: now,
      }));
      report.cancelled += 1;
      deps.telemetry?.delivery({ outcome: 'cancelled', builtin: false });
      return;
    }

    report.attempted += 1;
    const result = await attempt(subscription, stored);
    const outcome = classifyAttempt(result);
    const at = deps.clock.now();
    const final = await settle(claimed, (r) => {
      const attempts = [...r.attempts, result].slice(-MAX_ATTEMPTS_KEPT);
      const attemptsInRound = r.attemptsInRound + 1;
      if (outcome === 'delivered') {
        return {
          ...r,
          attempts,
          attemptsInRound,
          state: 'delivered',
          nextAttemptAt: null,
          updatedAt: at,
        };
      }
      if (outcome === 'gone') {
        return {
          ...r,
          attempts,
          attemptsInRound,
          state: 'gone',
          nextAttemptAt: null,
          detail: 'the receiver answered 410 Gone; subscription disabled',
          updatedAt: at,
        };
      }
      const delay = nextAttemptDelay(
        attemptsInRound,
        deps.retryScheduleMs,
        result.retryAfterMs,
        random,
      );
      return delay === null
        ? {
            ...r,
            attempts,
            attemptsInRound,
            state: 'dead',
            nextAttemptAt: null,
            detail: `gave up after ${attemptsInRound} attempts`,
            updatedAt: at,
          }
        : {
            ...r,
            attempts,
            attemptsInRound,
            state: 'pending',
            nextAttemptAt: plusMillis(at, delay),
            updatedAt: at,
          };
    });
    if (outcome === 'gone' && !deps.builtinSinks?.has(subscription.id)) {
      await deps.store.subscriptions.disable(
        subscription.id,
        `${subscription.url} answered 410 Gone`,
      );
    }
    const what =
      result.status === undefined ? (result.error ?? 'no response') : `HTTP ${result.status}`;
    log(
      `delivery of ${record.eventId} to ${subscription.id}: ${what}, ${final.state}${final.nextAttemptAt ? ` until ${final.nextAttemptAt}` : ''}`,
    );
    deps.telemetry?.delivery({
      outcome: final.state === 'pending' ? 'retrying' : final.state,
      builtin: deps.builtinSinks?.has(subscription.id) ?? false,
    });
    report[
      final.state === 'pending'
        ? 'retrying'
        : final.state === 'delivered'
          ? 'delivered'
          : final.state === 'dead'
            ? 'dead'
            : 'gone'
    ] += 1;
  }

  const emptyReport = (): DeliveryReport => ({
    attempted: 0,
    delivered: 0,
    retrying: 0,
    dead: 0,
    gone: 0,
    cancelled: 0,
    skipped: 0,
  });

  async function inParallel<T extends { record: DeliveryRecord } | { delivery: StoredDelivery }>(
    items: T[],
    run: (item: T, report: DeliveryReport) => Promise<void>,
  ): Promise<DeliveryReport> {
    const report = emptyReport();
    // A few at a time: one slow receiver must not hold up the rest.
    const queue = [...items];
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        try {
          await run(next, report);
        } catch (error) {
          const { record } = 'delivery' in next ? next.delivery : next;
          log(
            `delivery of ${record.eventId} to ${record.subscriptionId} failed: ${(error as Error).message}`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    return report;
  }

  const deliverAll = (items: StoredDelivery[]): Promise<DeliveryReport> =>
    inParallel(items, deliverOne);

  return {
    /** Sends every delivery that is due (the timer calls this). */
    async deliverDue(limit = 100): Promise<DeliveryReport> {
      return deliverAll(await deps.store.deliveries.listDue(deps.clock.now(), limit));
    },
    /**
     * Sends the first attempt of deliveries stored claimed with the write that decided their
     * event: the event and subscription are in hand, so nothing is read before sending.
     */
    deliverClaimed(items: NewDelivery[]): Promise<DeliveryReport> {
      return inParallel(items, (item, report) =>
        sendClaimed(item.delivery, item.event, item.subscription, report),
      );
    },
    /** Sends the first attempt of new deliveries right away, instead of waiting for the timer. */
    async deliverNew(records: DeliveryRecord[]): Promise<DeliveryReport> {
      const eventIds = [...new Set(records.map((r) => r.eventId))];
      const wanted = new Set(records.map((r) => `${r.eventId} ${r.subscriptionId}`));
      const stored = (
        await Promise.all(eventIds.map((id) => deps.store.deliveries.listForEvent(id)))
      ).flat();
      return deliverAll(
        stored.filter((d) => wanted.has(`${d.record.eventId} ${d.record.subscriptionId}`)),
      );
    },
  };
}

export type Deliverer = ReturnType<typeof makeDeliverer>;
