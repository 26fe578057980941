// Recovers arrivals ACR failed to deliver (it never retries): replays each regional webhook's recent events, idempotently.
import { acrEventSchema, toIntent, type Intent } from '../replication/acr-event';
import { regionNameSchema } from '../replication/names';
import { changedState, recordArrival } from './record-arrival';
import type { RegionsDeps } from './required-regions';
import { isRecord } from '../util/values';

/** One of our regional webhooks, as the registry lists it. */
export interface RegionalWebhook {
  name: string;
  /** The replica region the webhook belongs to (ARM's location). */
  location: string;
}

/** A recent delivery of a webhook, as ARM `webhooks.listEvents` reports it. */
export interface RecentEvent {
  id: string;
  /** The body ACR sent, unparsed; undefined when ARM gave none. */
  content: unknown;
  /** The status code we answered; null when ACR got no answer. */
  responseStatus: number | null;
}

export interface WebhookEventSource {
  listWebhooks(): Promise<RegionalWebhook[]>;
  listEvents(webhookName: string): Promise<RecentEvent[]>;
}

export interface Replay {
  webhook: string;
  region: string;
  intent: Extract<Intent, { kind: 'push' | 'delete' }>;
  payload: Record<string, unknown>;
}

/** `recorded` when the replay changed the stored state, `unchanged` when it was already known. */
export type ReplayOutcome = 'recorded' | 'unchanged';

export interface ReconcileDeps {
  source: WebhookEventSource;
  replay(arrival: Replay): Promise<ReplayOutcome>;
  countQuarantine: boolean;
  log?: (line: string) => void;
  /** A replay error that ends the whole run (e.g. a refused token) instead of counting as failed. */
  isFatal?: (error: unknown) => boolean;
}

export interface ReconcileFailure {
  webhook: string;
  eventId?: string;
  reason: string;
}

export interface ReconcileReport {
  webhooks: number;
  events: number;
  /** Replays that changed the state: arrivals that had been lost. */
  replayed: number;
  alreadyKnown: number;
  /** Not arrivals (ping, chart, quarantine) or not valid ACR payloads. */
  skipped: number;
  /** Could not be listed or replayed now; the next run tries again. */
  failed: number;
  failures: ReconcileFailure[];
}

/** Replays straight into the store, as the timer does. */
export const makeStoreReplay =
  (deps: RegionsDeps) =>
  async ({ intent, region, payload }: Replay): Promise<ReplayOutcome> =>
    changedState(await recordArrival(deps, intent, region, payload)) ? 'recorded' : 'unchanged';

const messageOf = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error)).slice(0, 300);

/**
 * Every push and delete in each webhook's recent events goes through recordArrival again with the
 * webhook's region, whatever we answered at the time: an arrival already stored changes nothing,
 * so only the lost ones count as replayed. One webhook failing does not stop the others.
 */
export async function reconcileWebhooks(deps: ReconcileDeps): Promise<ReconcileReport> {
  const report: ReconcileReport = {
    webhooks: 0,
    events: 0,
    replayed: 0,
    alreadyKnown: 0,
    skipped: 0,
    failed: 0,
    failures: [],
  };
  const fail = (failure: ReconcileFailure) => {
    report.failed += 1;
    report.failures.push(failure);
    deps.log?.(
      `reconcile: ${failure.webhook}${failure.eventId ? ` event ${failure.eventId}` : ''} failed: ${failure.reason}`,
    );
  };

  for (const webhook of await deps.source.listWebhooks()) {
    report.webhooks += 1;
    const region = regionNameSchema.safeParse(webhook.location);
    if (!region.success) {
      fail({ webhook: webhook.name, reason: `location ${webhook.location} is not a region name` });
      continue;
    }
    let events: RecentEvent[];
    try {
      events = await deps.source.listEvents(webhook.name);
    } catch (error) {
      fail({ webhook: webhook.name, reason: `listing events: ${messageOf(error)}` });
      continue;
    }
    for (const event of events) {
      report.events += 1;
      const parsed = acrEventSchema.safeParse(event.content);
      if (!parsed.success || !isRecord(event.content)) {
        report.skipped += 1;
        deps.log?.(`reconcile: ${webhook.name} event ${event.id} skipped: not an ACR payload`);
        continue;
      }
      const intent = toIntent(parsed.data, { countQuarantine: deps.countQuarantine });
      if (intent.kind !== 'push' && intent.kind !== 'delete') {
        report.skipped += 1;
        continue;
      }
      try {
        const outcome = await deps.replay({
          webhook: webhook.name,
          region: region.data,
          intent,
          payload: event.content,
        });
        if (outcome === 'recorded') {
          report.replayed += 1;
          deps.log?.(
            `reconcile: replayed ${intent.kind} ${intent.registry}/${intent.repository}@${intent.digest} ` +
              `in ${region.data} (we had answered ${event.responseStatus ?? 'nothing'})`,
          );
        } else {
          report.alreadyKnown += 1;
        }
      } catch (error) {
        if (deps.isFatal?.(error)) throw error;
        fail({ webhook: webhook.name, eventId: event.id, reason: messageOf(error) });
      }
    }
  }
  return report;
}
