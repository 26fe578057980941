// Events end to end: subscriptions, delivery to real loopback receivers, retries and stalls. The feed's
// paging and the field of a bad subscription are checked at the handlers: src/http/*-handlers.test.ts.
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { aDigest, aPushEvent } from '../support/fixtures';
import { REGIONS, removeSubscriptions, useApp } from '../support/app-host';
import { startReceiver, type Receiver, type Script } from '../support/receiver';

const app = useApp({
  DELIVERY_RETRY_SCHEDULE: '50ms,50ms,50ms,50ms',
  DELIVERY_TIMEOUT_MS: '400',
  STALL_AFTER: '2s',
});
const receivers: Receiver[] = [];
afterEach(async () => {
  // Each test gets its own receivers and subscriptions; later events must not reach old ones.
  for (const r of receivers.splice(0)) await r.close();
  await removeSubscriptions(app);
});

async function receiver(script?: Script): Promise<Receiver> {
  const r = await startReceiver(script);
  receivers.push(r);
  return r;
}

async function subscribe(body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const response = await app.admin('/api/subscriptions', {
    method: 'POST',
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as { id: string; secret: string };
}

/** Pushes a tag to every region and returns the replicated event's id. */
async function replicate(tag: string, repository = 'team/app/api', digest = aDigest()) {
  let eventId = '';
  for (const [i, region] of REGIONS.entries()) {
    const response = await app.post(
      `/api/webhooks/acr/${region}`,
      aPushEvent({ repository, tag, digest, timestamp: `2026-03-14T09:00:0${i}.25Z` }),
    );
    const body = (await response.json()) as { eventId: string | null };
    eventId = body.eventId ?? eventId;
  }
  return { eventId, digest };
}

interface EventPage {
  event: { id: string };
  deliveries: {
    subscriptionId: string;
    state: string;
    attempts: { status?: number; error?: string; retryAfterMs?: number }[];
    nextAttemptAt: string | null;
  }[];
}
const eventPage = async (id: string) =>
  (await (await app.admin(`/api/events/${id}`)).json()) as EventPage;

/** Runs the delivery timer until `done` holds (retries are 50 ms apart in this app). */
async function deliverUntil(done: () => boolean | Promise<boolean>, rounds = 40) {
  for (let i = 0; i < rounds && !(await done()); i++) {
    await new Promise((resolve) => setTimeout(resolve, 60));
    await app.host.runTimer('deliverEvents');
  }
  expect(await done()).toBe(true);
}

describe('subscriptions', () => {
  it('shows the secret once, then only a hint; refuses webhook tokens', async () => {
    const r = await receiver();
    const created = await subscribe({ url: r.url });
    expect(created.secret).toMatch(/^whsec_/);
    const listed = (await (await app.admin('/api/subscriptions')).json()) as {
      subscriptions: Record<string, unknown>[];
    };
    expect(listed.subscriptions).toHaveLength(1);
    expect(listed.subscriptions[0]).not.toHaveProperty('secret');
    expect(JSON.stringify(listed)).not.toContain(created.secret);
    expect((await app.call('/api/subscriptions')).status).toBe(403);
  });
});

describe('subscription header values', () => {
  it('keeps header values out of the attempts a read token sees, and out of the log', async () => {
    const token = 'ghp_SECRET0123456789abcdefghijklmnop';
    // The receiver fails, quoting every header it got.
    const r = await receiver(() => ({ status: 500, body: 'see below' }));
    r.script = (n) => ({ status: 500, body: JSON.stringify(r.received[n]?.headers) });
    await subscribe({
      url: r.url,
      format: 'github-dispatch',
      headers: { Authorization: `Bearer ${token}` },
    });
    const { eventId } = await replicate('echo-1');
    await deliverUntil(async () =>
      (await eventPage(eventId)).deliveries.some((d) => d.attempts.length > 0),
    );
    const page = await app.call(`/api/events/${eventId}`);
    const text = await page.text();
    expect(text).toContain('authorization');
    expect(text).toContain('[redacted]');
    expect(text).not.toContain('SECRET');
    expect(app.logs.join('\n')).not.toContain('SECRET');
  });
});

describe('delivering the replicated event', () => {
  it('delivers exactly one signed CloudEvent per (tag, digest), verified by standardwebhooks', async () => {
    const r = await receiver();
    const { secret } = await subscribe({
      url: r.url,
      filter: { repository: 'team/**', tag: '1.*' },
    });
    const { eventId, digest } = await replicate('1.5');
    // Duplicates after completion change nothing.
    await app.post(
      '/api/webhooks/acr/westus',
      aPushEvent({
        repository: 'team/app/api',
        tag: '1.5',
        digest,
        timestamp: '2026-03-14T09:00:00.25Z',
      }),
    );
    await deliverUntil(() => r.received.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(r.received).toHaveLength(1);
    const [got] = r.received;
    const verified = new Webhook(secret).verify(
      got?.body ?? '',
      got?.headers as Record<string, string>,
    );
    expect(verified).toMatchObject({
      specversion: '1.0',
      id: eventId,
      type: 'acrgate.tag.replicated',
      source: '/registries/contoso.azurecr.io',
      subject: 'team/app/api:1.5',
      data: {
        digest,
        tag: '1.5',
        replicatedAt: '2026-03-14T09:00:03.250000000Z',
        durationMs: 3000,
      },
    });
    expect(got?.headers['webhook-id']).toBe(eventId);
    expect(got?.headers['content-type']).toMatch(/^application\/cloudevents\+json/);
  });

  it('delivers one event when 20 deliveries complete the round concurrently', async () => {
    const r = await receiver();
    await subscribe({ url: r.url });
    const digest = aDigest();
    const bodies = REGIONS.map((_, i) =>
      aPushEvent({
        repository: 'team/app/api',
        tag: 'race',
        digest,
        timestamp: `2026-03-14T09:00:0${i}Z`,
      }),
    );
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        app.post(`/api/webhooks/acr/${REGIONS[i % 4]}`, bodies[i % 4]),
      ),
    );
    expect(responses.every((x) => x.status === 202)).toBe(true);
    await deliverUntil(() => r.received.length >= 1);
    await app.host.runTimer('deliverEvents');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(r.received).toHaveLength(1);
  });

  it('does not deliver to a subscription whose filter does not match', async () => {
    const r = await receiver();
    await subscribe({ url: r.url, filter: { repository: 'other/*' } });
    const { eventId } = await replicate('2.0');
    const page = await eventPage(eventId);
    expect(page.deliveries).toHaveLength(0);
    expect(r.received).toHaveLength(0);
  });

  it('relays the original ACR payload to acr subscribers, and signs Flux generic-hmac bodies', async () => {
    const acr = await receiver();
    const flux = await receiver();
    await subscribe({ url: acr.url, format: 'acr' });
    const fluxSecret = 'flux-token-0123456789abcdef';
    await subscribe({
      url: flux.url,
      format: 'flux-generic-hmac',
      secret: fluxSecret,
      headers: { 'x-team': 'web' },
    });
    const { digest } = await replicate('3.0', 'public/products/web');
    await deliverUntil(() => acr.received.length >= 1 && flux.received.length >= 1);

    const relayed = JSON.parse(acr.received[0]?.body ?? '{}') as Record<string, unknown>;
    // What a Flux `acr` Receiver, Keel or Argo CD Image Updater reads from an ACR webhook:
    expect(relayed).toMatchObject({
      action: 'push',
      target: { repository: 'public/products/web', tag: '3.0', digest },
      request: { host: 'contoso.azurecr.io' },
      timestamp: '2026-03-14T09:00:00.25Z',
    });

    const got = flux.received[0];
    const expected = createHmac('sha256', fluxSecret)
      .update(got?.body ?? '')
      .digest('hex');
    expect(got?.headers['x-signature']).toBe(`sha256=${expected}`);
    expect(got?.headers['x-team']).toBe('web');
  });
});

describe('retries', () => {
  it('records three failures, then delivers', async () => {
    const r = await receiver((n) =>
      n < 3 ? { status: 503, body: 'warming up' } : { status: 204 },
    );
    const { id } = await subscribe({ url: r.url });
    const { eventId } = await replicate('retry-1');
    await deliverUntil(async () => (await eventPage(eventId)).deliveries[0]?.state === 'delivered');
    const [delivery] = (await eventPage(eventId)).deliveries;
    expect(delivery?.subscriptionId).toBe(id);
    expect(delivery?.attempts.map((a) => a.status)).toEqual([503, 503, 503, 204]);
    expect(delivery?.attempts[0]?.error).toContain('warming up');
    expect(r.received).toHaveLength(4);
  });

  it('honours Retry-After on 429', async () => {
    const r = await receiver((n) =>
      n === 0 ? { status: 429, headers: { 'retry-after': '30' } } : { status: 200 },
    );
    await subscribe({ url: r.url });
    const { eventId } = await replicate('throttled');
    await deliverUntil(async () => (await eventPage(eventId)).deliveries[0]?.attempts.length === 1);
    const [delivery] = (await eventPage(eventId)).deliveries;
    expect(delivery?.attempts[0]).toMatchObject({ status: 429, retryAfterMs: 30_000 });
    const waitMs = Date.parse(delivery?.nextAttemptAt?.slice(0, 23) + 'Z') - Date.now();
    expect(waitMs).toBeGreaterThan(25_000);
    await app.host.runTimer('deliverEvents');
    expect(r.received).toHaveLength(1); // not due yet
  });

  it('times out a hanging receiver and retries', async () => {
    const r = await receiver((n) => (n === 0 ? 'hang' : { status: 200 }));
    await subscribe({ url: r.url });
    const { eventId } = await replicate('hanging');
    await deliverUntil(async () => (await eventPage(eventId)).deliveries[0]?.state === 'delivered');
    const [delivery] = (await eventPage(eventId)).deliveries;
    expect(delivery?.attempts[0]?.status).toBeUndefined();
    expect(delivery?.attempts[0]?.error).toMatch(/timed out after 400 ms/);
    expect(delivery?.attempts[1]?.status).toBe(200);
  });

  it('stops on 410 and disables the subscription', async () => {
    const r = await receiver(() => ({ status: 410 }));
    const { id } = await subscribe({ url: r.url });
    const { eventId } = await replicate('gone');
    await deliverUntil(async () => (await eventPage(eventId)).deliveries[0]?.state === 'gone');
    const subscription = (await (await app.admin(`/api/subscriptions/${id}`)).json()) as {
      enabled: boolean;
    };
    expect(subscription.enabled).toBe(false);
    await replicate('gone-2');
    await app.host.runTimer('deliverEvents');
    expect(r.received).toHaveLength(1);
  });

  it('dead-letters after the last attempt, then redelivers on request', async () => {
    let healthy = false;
    const r = await receiver(() => (healthy ? { status: 200 } : { status: 500 }));
    await subscribe({ url: r.url });
    const { eventId } = await replicate('dead');
    await deliverUntil(async () => (await eventPage(eventId)).deliveries[0]?.state === 'dead');
    expect((await eventPage(eventId)).deliveries[0]?.attempts).toHaveLength(5); // first + 4 retries

    healthy = true;
    const redeliver = await app.admin(`/api/events/${eventId}/redeliver`, { method: 'POST' });
    expect(redeliver.status).toBe(202);
    await deliverUntil(async () => (await eventPage(eventId)).deliveries[0]?.state === 'delivered');
    expect((await eventPage(eventId)).deliveries[0]?.attempts.at(-1)?.status).toBe(200);
    expect((await app.call(`/api/events/${eventId}/redeliver`, { method: 'POST' })).status).toBe(
      403,
    );
  });
});

describe('stalled rounds', () => {
  it('reports a round open past STALL_AFTER once, naming the missing regions', async () => {
    const r = await receiver();
    await subscribe({ url: r.url, types: ['acrgate.tag.stalled'] });
    const pushedAt = new Date(Date.now() - 5000).toISOString();
    await app.post(
      '/api/webhooks/acr/westus',
      aPushEvent({ repository: 'slow/app', tag: 'stuck', timestamp: pushedAt }),
    );
    await app.host.runTimer('sweepRounds');
    await app.host.runTimer('sweepRounds');
    await deliverUntil(() => r.received.length >= 1);
    const stalled = r.received.map(
      (x) => JSON.parse(x.body) as { type: string; subject: string; data: Record<string, unknown> },
    );
    expect(stalled).toHaveLength(1);
    expect(stalled[0]).toMatchObject({
      type: 'acrgate.tag.stalled',
      subject: 'slow/app:stuck',
      data: {
        missingRegions: ['canadacentral', 'eastus', 'westeurope'],
        arrivedRegions: ['westus'],
      },
    });
  });
});
