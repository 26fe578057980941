// The shapes shared by the event store, subscriptions and delivery.
import type { Instant } from '../replication/timestamp';

export const SUBSCRIPTION_FORMATS = [
  'cloudevents',
  'acr',
  'flux-generic-hmac',
  'github-dispatch',
] as const;
export type SubscriptionFormat = (typeof SUBSCRIPTION_FORMATS)[number];

export interface SubscriptionFilter {
  registry?: string;
  /** Glob: `*` matches within a path component, `**` across `/`. */
  repository?: string;
  /** Glob: `*` matches any run of characters. */
  tag?: string;
  /** Per-region events (`acrgate.tag.arrived`) of these regions only; round events pass. */
  regions?: string[];
}

export interface Subscription {
  id: string;
  url: string;
  format: SubscriptionFormat;
  /** Standard Webhooks secret, `whsec_` + base64; for flux-generic-hmac the HMAC key. */
  secret: string;
  filter: SubscriptionFilter;
  headers: Record<string, string>;
  /** Which event types it wants; default: all but the per-region `acrgate.tag.arrived`. */
  types: string[];
  enabled: boolean;
  disabledReason?: string;
  createdAt: Instant;
}

/** A CloudEvents 1.0 event in JSON structured mode, as stored and as sent. */
export interface GateEvent<T = Record<string, unknown>> {
  specversion: '1.0';
  id: string;
  type: string;
  source: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  data: T;
}

export interface StoredEvent {
  event: GateEvent;
  /** For `acr` subscriptions: the ACR push payload of the replicated digest, relayed as is. */
  acrPayload?: Record<string, unknown>;
  recordedAt: Instant;
}

/** An HTTP request ready to send; built per subscription format. */
export interface DeliveryRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** Values the attempt's result must not show (custom header values, the signing secret). */
  secrets?: readonly string[];
}

export interface AttemptResult {
  at: Instant;
  durationMs: number;
  /** HTTP status, absent when no response came (timeout, refused, reset). */
  status?: number;
  error?: string;
  /** From a Retry-After header, in milliseconds. */
  retryAfterMs?: number;
}

/** What an attempt means for the delivery. */
export type AttemptOutcome = 'delivered' | 'retry' | 'gone';
