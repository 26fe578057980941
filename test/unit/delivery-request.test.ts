// Delivery requests per format, subscription matching, attempt classification and the retry schedule.
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RETRY_SCHEDULE_MS,
  appliesTo,
  classifyAttempt,
  nextAttemptDelay,
  parseRetryAfter,
  toDeliveryRequest,
} from '../../src/events/delivery-request';
import {
  REPLICATED_EVENT_TYPE,
  STALLED_EVENT_TYPE,
  replicatedEventId,
} from '../../src/events/replicated-event';
import type { AttemptResult, StoredEvent, Subscription } from '../../src/events/types';
import { instantFromDate, type Instant } from '../../src/replication/timestamp';
import { aDigest, aPushEvent, aSubscription as aStoredSubscription } from '../support/fixtures';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const AT: Instant = instantFromDate(new Date('2026-03-14T09:30:00.000Z'));

const aSubscription = (overrides: Partial<Subscription> = {}): Subscription =>
  aStoredSubscription({ secret: SECRET, createdAt: AT, ...overrides });

interface EventOptions {
  type?: string;
  registry?: string;
  repository?: string;
  tag?: string | null;
  withPayload?: boolean;
}

function aStoredEvent(options: EventOptions = {}): StoredEvent {
  const registry = options.registry ?? 'contoso.azurecr.io';
  const repository = options.repository ?? 'public/products/web';
  const tag = options.tag === undefined ? '1.2' : options.tag;
  const digest = aDigest();
  const stored: StoredEvent = {
    event: {
      specversion: '1.0',
      id: replicatedEventId(registry, repository, tag, digest),
      type: options.type ?? REPLICATED_EVENT_TYPE,
      source: `/registries/${registry}`,
      subject: tag === null ? `${repository}@${digest}` : `${repository}:${tag}`,
      time: '2026-03-14T09:27:10.123456789Z',
      datacontenttype: 'application/json',
      data: { registry, repository, tag, digest },
    },
    recordedAt: AT,
  };
  if (options.withPayload ?? true) {
    stored.acrPayload = aPushEvent({
      registry,
      repository,
      digest,
      ...(tag === null ? { tag: undefined } : { tag }),
    });
  }
  return stored;
}

const attempt = (event: StoredEvent, at = new Date()) => ({ webhookId: event.event.id, at });

describe('appliesTo', () => {
  it('matches everything without filter or types', () => {
    expect(appliesTo(aSubscription(), aStoredEvent())).toBe(true);
    expect(appliesTo(aSubscription(), aStoredEvent({ type: STALLED_EVENT_TYPE }))).toBe(true);
  });

  it('filters on the repository glob', () => {
    const sub = aSubscription({ filter: { repository: 'team/*' } });
    expect(appliesTo(sub, aStoredEvent({ repository: 'team/app' }))).toBe(true);
    expect(appliesTo(sub, aStoredEvent({ repository: 'team/app/api' }))).toBe(false);
    const deep = aSubscription({ filter: { repository: 'team/**' } });
    expect(appliesTo(deep, aStoredEvent({ repository: 'team/app' }))).toBe(true);
    expect(appliesTo(deep, aStoredEvent({ repository: 'team/app/api' }))).toBe(true);
    expect(appliesTo(deep, aStoredEvent({ repository: 'other/app' }))).toBe(false);
  });

  it('filters on the tag glob', () => {
    const sub = aSubscription({ filter: { tag: '1.*' } });
    expect(appliesTo(sub, aStoredEvent({ tag: '1.2' }))).toBe(true);
    expect(appliesTo(sub, aStoredEvent({ tag: '2.1' }))).toBe(false);
  });

  it('matches untagged events only with filters that say nothing about tags', () => {
    const untagged = aStoredEvent({ tag: null });
    expect(appliesTo(aSubscription({ filter: { tag: '*' } }), untagged)).toBe(false);
    expect(appliesTo(aSubscription({ filter: { repository: 'public/**' } }), untagged)).toBe(true);
  });

  it('compares the registry exactly, ignoring case', () => {
    const sub = aSubscription({ filter: { registry: 'Contoso.AzureCR.io' } });
    expect(appliesTo(sub, aStoredEvent({ registry: 'contoso.azurecr.io' }))).toBe(true);
    expect(appliesTo(sub, aStoredEvent({ registry: 'contoso2.azurecr.io' }))).toBe(false);
    expect(appliesTo(sub, aStoredEvent({ registry: 'contoso.azurecr.io.evil' }))).toBe(false);
  });

  it('requires every filter field to match', () => {
    const sub = aSubscription({
      filter: { registry: 'contoso.azurecr.io', repository: 'team/*', tag: 'v*' },
    });
    expect(appliesTo(sub, aStoredEvent({ repository: 'team/app', tag: 'v3' }))).toBe(true);
    expect(appliesTo(sub, aStoredEvent({ repository: 'team/app', tag: '3' }))).toBe(false);
  });

  it('honours the types list', () => {
    const sub = aSubscription({ types: [STALLED_EVENT_TYPE] });
    expect(appliesTo(sub, aStoredEvent({ type: STALLED_EVENT_TYPE }))).toBe(true);
    expect(appliesTo(sub, aStoredEvent())).toBe(false);
  });

  it('the acr format takes only replicated events that carry an ACR payload', () => {
    const sub = aSubscription({ format: 'acr' });
    expect(appliesTo(sub, aStoredEvent())).toBe(true);
    expect(appliesTo(sub, aStoredEvent({ type: STALLED_EVENT_TYPE, withPayload: false }))).toBe(
      false,
    );
    expect(appliesTo(sub, aStoredEvent({ type: STALLED_EVENT_TYPE }))).toBe(false);
    expect(appliesTo(sub, aStoredEvent({ withPayload: false }))).toBe(false);
  });
});

describe('toDeliveryRequest', () => {
  it('cloudevents: structured mode, signed per Standard Webhooks', () => {
    const stored = aStoredEvent();
    const at = new Date();
    const request = toDeliveryRequest(aSubscription(), stored, attempt(stored, at));
    expect(request.url).toBe('https://hooks.example.net/acr-gate');
    expect(JSON.parse(request.body)).toEqual(stored.event);
    expect(request.headers['content-type']).toBe('application/cloudevents+json; charset=utf-8');
    expect(request.headers['user-agent']).toBe('acr-replication-gate');
    expect(request.headers['webhook-id']).toBe(stored.event.id);
    expect(request.headers['webhook-timestamp']).toBe(String(Math.floor(at.getTime() / 1000)));
    expect(request.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(SECRET).verify(request.body, request.headers)).toEqual(stored.event);
  });

  it('cloudevents: a different secret does not verify', () => {
    const stored = aStoredEvent();
    const request = toDeliveryRequest(aSubscription(), stored, attempt(stored));
    const other = new Webhook('whsec_' + Buffer.from('another secret').toString('base64'));
    expect(() => other.verify(request.body, request.headers)).toThrow();
  });

  it('cloudevents: refuses a secret that is not base64', () => {
    const stored = aStoredEvent();
    const sub = aSubscription({ secret: 'whsec_not base64!' });
    expect(() => toDeliveryRequest(sub, stored, attempt(stored))).toThrow(/whsec_/);
  });

  it('acr: relays the original push payload as is', () => {
    const stored = aStoredEvent();
    const request = toDeliveryRequest(aSubscription({ format: 'acr' }), stored, attempt(stored));
    expect(request.body).toBe(JSON.stringify(stored.acrPayload));
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['webhook-signature']).toBeUndefined();
  });

  it('acr: an event without a payload cannot be relayed', () => {
    const stored = aStoredEvent({ type: STALLED_EVENT_TYPE, withPayload: false });
    expect(() =>
      toDeliveryRequest(aSubscription({ format: 'acr' }), stored, attempt(stored)),
    ).toThrow(/no ACR payload/);
  });

  it('flux-generic-hmac: X-Signature is the hex HMAC-SHA256 of the body, keyed with the secret', () => {
    const stored = aStoredEvent();
    const secret = 'flux-receiver-token-0123';
    const request = toDeliveryRequest(
      aSubscription({ format: 'flux-generic-hmac', secret }),
      stored,
      attempt(stored),
    );
    const expected = createHmac('sha256', secret).update(request.body).digest('hex');
    expect(request.headers['x-signature']).toBe(`sha256=${expected}`);
    expect(request.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request.body)).toEqual(stored.event);
  });

  it('adds custom headers but never lets them replace ours', () => {
    const stored = aStoredEvent();
    const headers = {
      Authorization: 'Bearer receiver-token',
      'X-Team': 'release',
      'Content-Type': 'text/plain',
      'Webhook-Signature': 'v1,forged',
      'webhook-id': 'forged-id',
      'WEBHOOK-TIMESTAMP': '0',
      'X-Signature': 'sha256=forged',
      'User-Agent': 'forged',
      'Content-Length': '1',
      Host: 'evil.example',
    };
    for (const format of ['cloudevents', 'acr', 'flux-generic-hmac'] as const) {
      const request = toDeliveryRequest(
        aSubscription({ format, headers, secret: format === 'cloudevents' ? SECRET : 'token' }),
        stored,
        attempt(stored),
      );
      expect(request.headers.authorization).toBe('Bearer receiver-token');
      expect(request.headers['x-team']).toBe('release');
      expect(request.headers['content-type']).not.toBe('text/plain');
      expect(request.headers['user-agent']).toBe('acr-replication-gate');
      expect(request.headers['content-length']).toBeUndefined();
      expect(request.headers.host).toBeUndefined();
      const names = Object.keys(request.headers);
      expect(names).toEqual(names.map((n) => n.toLowerCase()));
      if (format === 'cloudevents') {
        expect(request.headers['webhook-id']).toBe(stored.event.id);
        expect(request.headers['webhook-signature']).not.toContain('forged');
        expect(request.headers['webhook-timestamp']).not.toBe('0');
      } else {
        expect(request.headers['webhook-id']).toBeUndefined();
        expect(request.headers['webhook-signature']).toBeUndefined();
      }
      if (format === 'flux-generic-hmac') {
        expect(request.headers['x-signature']).not.toContain('forged');
      } else {
        expect(request.headers['x-signature']).toBeUndefined();
      }
    }
  });
});

describe('classifyAttempt', () => {
  const result = (status?: number): AttemptResult =>
    status === undefined
      ? { at: AT, durationMs: 5, error: 'fetch failed' }
      : { at: AT, durationMs: 5, status };

  it('2xx delivered, 410 gone, anything else retried', () => {
    expect(classifyAttempt(result(200))).toBe('delivered');
    expect(classifyAttempt(result(202))).toBe('delivered');
    expect(classifyAttempt(result(204))).toBe('delivered');
    expect(classifyAttempt(result(410))).toBe('gone');
    for (const status of [undefined, 199, 301, 302, 400, 401, 404, 408, 429, 500, 503]) {
      expect(classifyAttempt(result(status))).toBe('retry');
    }
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('2026-03-14T09:30:00.000Z');

  it('reads delta-seconds', () => {
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
  });

  it('reads the three HTTP-date forms, never negative', () => {
    expect(parseRetryAfter('Sat, 14 Mar 2026 09:31:30 GMT', now)).toBe(90_000);
    expect(parseRetryAfter('Saturday, 14-Mar-26 09:31:30 GMT', now)).toBe(90_000);
    expect(parseRetryAfter('Sat Mar 14 09:31:30 2026', now)).toBe(90_000);
    expect(parseRetryAfter('Sat, 14 Mar 2026 09:00:00 GMT', now)).toBe(0);
  });

  it('ignores what it cannot read', () => {
    for (const value of [null, '', 'soon', '-5', '1.5', '7s', '2026-03-14T09:31:30Z']) {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    }
  });
});

describe('nextAttemptDelay', () => {
  const schedule = [1000, 5000, 20_000];

  it('takes schedule[i] after attempt i + 1, with at most ±20 % jitter', () => {
    expect(nextAttemptDelay(1, schedule, undefined, () => 0.5)).toBe(1000);
    expect(nextAttemptDelay(1, schedule, undefined, () => 0)).toBe(800);
    expect(nextAttemptDelay(1, schedule, undefined, () => 0.999999)).toBe(1200);
    expect(nextAttemptDelay(2, schedule, undefined, () => 0.5)).toBe(5000);
    expect(nextAttemptDelay(3, schedule, undefined, () => 0.25)).toBe(18_000);
    for (let i = 0; i < 200; i++) {
      const delay = nextAttemptDelay(2, schedule, undefined, Math.random) as number;
      expect(delay).toBeGreaterThanOrEqual(4000);
      expect(delay).toBeLessThanOrEqual(6000);
    }
  });

  it('returns null once the schedule is exhausted (dead-letter)', () => {
    expect(nextAttemptDelay(4, schedule, undefined, () => 0.5)).toBeNull();
    expect(nextAttemptDelay(4, schedule, 1000, () => 0.5)).toBeNull();
    expect(
      nextAttemptDelay(
        DEFAULT_RETRY_SCHEDULE_MS.length + 1,
        DEFAULT_RETRY_SCHEDULE_MS,
        undefined,
        () => 0.5,
      ),
    ).toBeNull();
  });

  it('a longer Retry-After wins, capped at 24 h; a shorter one does not', () => {
    expect(nextAttemptDelay(1, schedule, 7000, () => 0.5)).toBe(7000);
    expect(nextAttemptDelay(2, schedule, 1000, () => 0.5)).toBe(5000);
    expect(nextAttemptDelay(1, schedule, 3 * 24 * 3600_000, () => 0.5)).toBe(24 * 3600_000);
  });

  it('the default schedule covers more than 24 h', () => {
    const total = DEFAULT_RETRY_SCHEDULE_MS.reduce((sum, ms) => sum + ms, 0);
    expect(total).toBeGreaterThanOrEqual(24 * 3600_000);
    expect(total).toBe(((31 * 60 + 52) * 60 + 40) * 1000);
    // Even with every delay jittered down by 20 %.
    expect(total * 0.8).toBeGreaterThanOrEqual(24 * 3600_000);
    expect(DEFAULT_RETRY_SCHEDULE_MS[0]).toBe(10_000);
  });
});

describe('the github-dispatch format', () => {
  it('sends repository_dispatch: event_type is the event type, client_payload the event', () => {
    const stored = aStoredEvent();
    const request = toDeliveryRequest(
      aSubscription({
        format: 'github-dispatch',
        url: 'https://api.github.com/repos/contoso/deploy/dispatches',
        headers: { Authorization: 'Bearer ghp_example' },
      }),
      stored,
      { webhookId: stored.event.id, at: new Date() },
    );
    expect(request.headers).toMatchObject({
      authorization: 'Bearer ghp_example',
      accept: 'application/vnd.github+json',
      'content-type': 'application/json',
    });
    const body = JSON.parse(request.body) as { event_type: string; client_payload: object };
    expect(body).toEqual({ event_type: REPLICATED_EVENT_TYPE, client_payload: stored.event });
    // GitHub refuses a client_payload with more than 10 top-level properties.
    expect(Object.keys(body.client_payload).length).toBeLessThanOrEqual(10);
  });
});
