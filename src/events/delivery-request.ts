// Turns a stored event into the HTTP request each subscription format expects, and decides what an attempt's result means.
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { matchGlob } from './glob';
import { ARRIVED_EVENT_TYPE, REPLICATED_EVENT_TYPE } from './replicated-event';
import type {
  AttemptOutcome,
  AttemptResult,
  DeliveryRequest,
  StoredEvent,
  Subscription,
} from './types';

export const USER_AGENT = 'acr-replication-gate';

/** Headers we set ourselves, or that decide the framing of the request: custom headers never replace them. */
export const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'content-type',
  'user-agent',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'x-signature',
  'content-length',
  'transfer-encoding',
  'host',
  'connection',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
  'trailer',
]);

function stringField(data: Record<string, unknown>, key: string): string | undefined {
  const value = data[key];
  return typeof value === 'string' ? value : undefined;
}

/** Whether a subscription wants this event (its format, types and filter). `enabled` is the caller's concern. */
export function appliesTo(subscription: Subscription, stored: StoredEvent): boolean {
  const { event } = stored;
  // The ACR relay means "this push is now everywhere": nothing to relay for other events.
  if (
    subscription.format === 'acr' &&
    (event.type !== REPLICATED_EVENT_TYPE || stored.acrPayload === undefined)
  ) {
    return false;
  }
  if (subscription.types.length > 0 && !subscription.types.includes(event.type)) return false;
  // One event per region is many more deliveries: only for those who ask for it by name.
  if (event.type === ARRIVED_EVENT_TYPE && !subscription.types.includes(ARRIVED_EVENT_TYPE)) {
    return false;
  }

  const { filter } = subscription;
  if (filter.registry !== undefined) {
    const registry = stringField(event.data, 'registry');
    if (registry === undefined || registry.toLowerCase() !== filter.registry.toLowerCase()) {
      return false;
    }
  }
  if (filter.repository !== undefined) {
    const repository = stringField(event.data, 'repository');
    // OCI repository names are lowercase, so an uppercase filter can only be a slip.
    if (
      repository === undefined ||
      !matchGlob(filter.repository.toLowerCase(), repository.toLowerCase(), { pathAware: true })
    ) {
      return false;
    }
  }
  if (filter.regions !== undefined && filter.regions.length > 0) {
    // Only events about one region are filtered by region; a round's events are about all.
    const region = stringField(event.data, 'region');
    if (region !== undefined && !filter.regions.includes(region.toLowerCase())) return false;
  }
  if (filter.tag !== undefined) {
    // Untagged (by-digest) events match only filters that say nothing about tags.
    const tag = stringField(event.data, 'tag');
    if (tag === undefined || !matchGlob(filter.tag, tag, { pathAware: false })) {
      return false;
    }
  }
  return true;
}

function customHeaders(headers: Record<string, string>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!RESERVED_HEADERS.has(lower)) result[lower] = value;
  }
  return result;
}

function standardWebhookSignature(secret: string, id: string, at: Date, body: string): string {
  let webhook: Webhook;
  try {
    webhook = new Webhook(secret);
  } catch (error) {
    // The package's message never contains the secret; say which subscription setting is wrong.
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`subscription secret is not whsec_ + base64 (${reason})`);
  }
  return webhook.sign(id, at, body);
}

/**
 * The HTTP POST for one attempt. `attempt.webhookId` should be the event id, so receivers can
 * de-duplicate redeliveries. Throws for an `acr` subscription and an event without an ACR payload
 * (check `appliesTo` first) and for a `cloudevents` secret that is not `whsec_` + base64.
 */
export function toDeliveryRequest(
  subscription: Subscription,
  stored: StoredEvent,
  attempt: { webhookId: string; at: Date },
): DeliveryRequest {
  // Custom headers go first so that ours, set after them, always win.
  const custom = customHeaders(subscription.headers);
  const headers: Record<string, string> = { ...custom, 'user-agent': USER_AGENT };
  const secrets = [...Object.values(custom), subscription.secret];
  switch (subscription.format) {
    case 'cloudevents': {
      const body = JSON.stringify(stored.event);
      headers['content-type'] = 'application/cloudevents+json; charset=utf-8';
      headers['webhook-id'] = attempt.webhookId;
      headers['webhook-timestamp'] = String(Math.floor(attempt.at.getTime() / 1000));
      headers['webhook-signature'] = standardWebhookSignature(
        subscription.secret,
        attempt.webhookId,
        attempt.at,
        body,
      );
      return { url: subscription.url, headers, body, secrets };
    }
    case 'acr': {
      if (stored.acrPayload === undefined) {
        throw new Error(`event ${stored.event.id} has no ACR payload to relay`);
      }
      headers['content-type'] = 'application/json';
      return {
        url: subscription.url,
        headers,
        body: JSON.stringify(stored.acrPayload),
        secrets,
      };
    }
    case 'flux-generic-hmac': {
      const body = JSON.stringify(stored.event);
      // Flux's generic-hmac Receiver: HMAC of the raw body, keyed with the token's bytes as is.
      const hmac = createHmac('sha256', Buffer.from(subscription.secret, 'utf8'))
        .update(Buffer.from(body, 'utf8'))
        .digest('hex');
      headers['content-type'] = 'application/json';
      headers['x-signature'] = `sha256=${hmac}`;
      return { url: subscription.url, headers, body, secrets };
    }
    case 'github-dispatch': {
      // GitHub's repository_dispatch: the event type names the workflow trigger, the event rides
      // in client_payload (8 top-level fields, within GitHub's limit of 10). Auth is a header.
      headers['content-type'] = 'application/json';
      headers.accept = 'application/vnd.github+json';
      const body = JSON.stringify({ event_type: stored.event.type, client_payload: stored.event });
      return { url: subscription.url, headers, body, secrets };
    }
  }
}

/** 2xx delivered it; 410 says the endpoint is gone for good; everything else is worth another try. */
export function classifyAttempt(result: AttemptResult): AttemptOutcome {
  const { status } = result;
  if (status === undefined) return 'retry';
  if (status >= 200 && status <= 299) return 'delivered';
  if (status === 410) return 'gone';
  return 'retry';
}

// The three HTTP-date forms RFC 9110 asks recipients to accept.
const IMF_FIXDATE = /^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const RFC850_DATE = /^[A-Za-z]{6,9}, \d{2}-[A-Za-z]{3}-\d{2} \d{2}:\d{2}:\d{2} GMT$/;
const ASCTIME_DATE = /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/** A Retry-After header (delta-seconds or HTTP-date) in milliseconds from `now`; undefined when unreadable. */
export function parseRetryAfter(value: string | null, now: Date): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  let millis: number;
  if (IMF_FIXDATE.test(text) || RFC850_DATE.test(text)) {
    millis = Date.parse(text);
  } else if (ASCTIME_DATE.test(text)) {
    // asctime carries no zone but means GMT; Date.parse would read it as local time.
    millis = Date.parse(`${text} GMT`);
  } else {
    return undefined;
  }
  if (Number.isNaN(millis)) return undefined;
  return Math.max(0, millis - now.getTime());
}

const JITTER = 0.2;
const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

/**
 * How long to wait before the next attempt, or null when the schedule is exhausted (dead-letter).
 * `schedule[i]` is the delay before retry i + 1, i.e. after attempt i + 1 failed. The delay gets
 * ±20 % jitter so that many deliveries failing together do not retry together; a longer
 * Retry-After (capped at 24 h) wins over it.
 */
export function nextAttemptDelay(
  attemptsMade: number,
  schedule: readonly number[],
  retryAfterMs: number | undefined,
  random: () => number,
): number | null {
  // Nothing tried yet: the first attempt goes now.
  if (attemptsMade < 1) return 0;
  const base = schedule[Math.floor(attemptsMade) - 1];
  if (base === undefined) return null;
  const jittered = Math.round(base * (1 + (random() * 2 - 1) * JITTER));
  if (retryAfterMs === undefined) return jittered;
  return Math.max(jittered, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * 12 retries after the first attempt, 31 h 52 min 40 s in total (at least 25.5 h with the
 * jitter), so a receiver that is down for a day still gets the event.
 */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = [
  10 * SECOND,
  30 * SECOND,
  2 * MINUTE,
  5 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  1 * HOUR,
  2 * HOUR,
  4 * HOUR,
  8 * HOUR,
  8 * HOUR,
  8 * HOUR,
];
