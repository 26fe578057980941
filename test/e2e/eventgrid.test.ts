// End to end over HTTP: ACR arrivals delivered by Event Grid (both schemas, both handshakes) into the local host.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { aCloudEvent, aValidationEvent, anEventGridEvent } from '../support/event-grid-events';
import { aDigest, aPushEvent } from '../support/fixtures';
import { REGIONS, useAppBehindFaults, WEBHOOK_TOKEN } from '../support/app-host';

// Behind a fault proxy, so the outage test injects 503s instead of closing the shared store.
const { app, proxy } = useAppBehindFaults(1);

const REGISTRY = 'contoso.azurecr.io';

type Results = { results: { outcome: string; region?: string }[] };

const deliver = (body: unknown, contentType = 'application/json', query = '') =>
  app.call(`/api/webhooks/eventgrid${query}`, {
    method: 'POST',
    headers: { 'content-type': contentType, 'aeg-event-type': 'Notification' },
    body: JSON.stringify(body),
  });

const status = async (reference: string) => {
  const response = await app.call(`/api/replications/${REGISTRY}/${reference}`);
  return { response, body: (await response.json()) as Record<string, unknown> };
};

const pushes = (tag: string, digest: string) =>
  REGIONS.map((region, i) => ({
    region,
    payload: aPushEvent({ tag, digest, timestamp: `2026-03-14T10:00:0${i}.123456789Z` }),
  }));

describe('POST /api/webhooks/eventgrid', () => {
  it('records an Event Grid schema batch of four regions: replicated, one event', async () => {
    const digest = aDigest();
    const batch = pushes('eg-batch', digest).map((p) => anEventGridEvent(p.payload, p.region));
    const response = await deliver(batch);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Results;
    expect(body.results.map((r) => r.outcome)).toEqual(Array(4).fill('recorded'));
    expect(body.results.map((r) => r.region)).toEqual(REGIONS);

    const { body: tag } = await status('public/products/web:eg-batch');
    expect(tag).toMatchObject({
      digest,
      status: 'replicated',
      pushedAt: '2026-03-14T10:00:00.123456789Z',
      replicatedAt: '2026-03-14T10:00:03.123456789Z',
    });
    expect(await app.storedEventsFor('public/products/web:eg-batch')).toHaveLength(1);

    // Event Grid delivers at least once: the same batch again changes nothing.
    const again = (await (await deliver(batch)).json()) as Results;
    expect(again.results.map((r) => r.outcome)).toEqual(Array(4).fill('unchanged'));
    expect(await app.storedEventsFor('public/products/web:eg-batch')).toHaveLength(1);
  });

  it('records a single CloudEvent and a CloudEvents batch', async () => {
    const digest = aDigest();
    const [first, ...rest] = pushes('ce', digest);
    const single = await deliver(
      aCloudEvent(first!.payload, first!.region),
      'application/cloudevents+json; charset=utf-8',
    );
    expect(single.status).toBe(200);
    expect(((await single.json()) as Results).results).toEqual([
      expect.objectContaining({ outcome: 'recorded', region: 'westus' }),
    ]);
    expect((await status('public/products/web:ce')).body).toMatchObject({
      status: 'replicating',
      missingRegions: ['canadacentral', 'eastus', 'westeurope'],
    });

    const batch = await deliver(
      rest.map((p) => aCloudEvent(p.payload, p.region)),
      'application/cloudevents-batch+json',
    );
    expect(batch.status).toBe(200);
    expect(((await batch.json()) as Results).results).toHaveLength(3);
    expect((await status('public/products/web:ce')).body).toMatchObject({
      digest,
      status: 'replicated',
    });
    expect(await app.storedEventsFor('public/products/web:ce')).toHaveLength(1);
  });

  it('records the valid events of a half-valid batch, acknowledges it, and names the invalid one', async () => {
    const digest = aDigest();
    const good = pushes('half-valid', digest).map((p) => anEventGridEvent(p.payload, p.region));
    const broken = anEventGridEvent(aPushEvent({ tag: 'half-valid' }), 'westus');
    (broken.data.target as Record<string, unknown>).digest = 'md5:nope';
    const response = await deliver([...good.slice(0, 2), broken, ...good.slice(2)]);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Results & {
      rejected: { index: number; errors: { field: string }[] }[];
    };
    expect(body.results.map((r) => r.outcome)).toEqual(Array(4).fill('recorded'));
    expect(body.rejected).toEqual([
      expect.objectContaining({
        index: 2,
        errors: [expect.objectContaining({ field: '[2].data.target.digest' })],
      }),
    ]);
    expect((await status('public/products/web:half-valid')).body).toMatchObject({
      digest,
      status: 'replicated',
    });
    expect(app.logs.some((line) => /ALERT eventgrid event \[2\]/.test(line))).toBe(true);
  });

  it('takes an arrival by the regional webhook and by Event Grid as one and the same', async () => {
    const digest = aDigest();
    const all = pushes('both-paths', digest);
    const [westus, eastus] = all;
    // ACR's webhook reached us for westus; Event Grid brings westus again, with the region normalised.
    const hook = await app.post('/api/webhooks/acr/westus', westus!.payload);
    expect(hook.status).toBe(202);
    const viaGrid = await deliver([anEventGridEvent(westus!.payload, 'WestUS')]);
    expect(((await viaGrid.json()) as Results).results[0]).toMatchObject({
      outcome: 'unchanged',
      region: 'westus',
    });
    // And the other way round: Event Grid first, then the regional webhook.
    await deliver([anEventGridEvent(eastus!.payload, 'eastus')]);
    await app.post('/api/webhooks/acr/eastus', eastus!.payload);

    const { body } = await status('public/products/web:both-paths');
    const regions = body.regions as { region: string; status: string }[];
    expect(regions.filter((r) => r.status === 'arrived').map((r) => r.region)).toEqual([
      'eastus',
      'westus',
    ]);
    await deliver(all.slice(2).map((p) => anEventGridEvent(p.payload, p.region)));
    expect((await status('public/products/web:both-paths')).body.status).toBe('replicated');
    expect(await app.storedEventsFor('public/products/web:both-paths')).toHaveLength(1);
  });
});

describe('Event Grid handshakes', () => {
  const validation = (code: string) => [aValidationEvent(code)];

  it('answers the subscription validation event with its code, authenticated by ?token=', async () => {
    const code = randomUUID().toUpperCase();
    const response = await app.call(
      `/api/webhooks/eventgrid?token=${encodeURIComponent(WEBHOOK_TOKEN)}`,
      {
        method: 'POST',
        token: null,
        headers: { 'content-type': 'application/json', 'aeg-event-type': 'SubscriptionValidation' },
        body: JSON.stringify(validation(code)),
      },
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ validationResponse: code });
  });

  it('answers the CloudEvents OPTIONS abuse-protection request that carries the webhook token', async () => {
    const withToken = await app.call(
      `/api/webhooks/eventgrid?token=${encodeURIComponent(WEBHOOK_TOKEN)}`,
      {
        method: 'OPTIONS',
        token: null,
        headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' },
      },
    );
    expect(withToken.status).toBe(200);
    expect(withToken.headers.get('webhook-allowed-origin')).toBe('eventgrid.azure.net');
    expect(withToken.headers.get('webhook-allowed-rate')).toBe('*');

    const bearer = await app.call('/api/webhooks/eventgrid', {
      method: 'OPTIONS',
      headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' },
    });
    expect(bearer.status).toBe(200);
  });
});

describe('the reconcileWebhooks timer', () => {
  it('is not registered while RECONCILE_* are unset', () => {
    expect(app.host.functions.map((f) => f.name)).not.toContain('reconcileWebhooks');
    expect(app.host.functions.map((f) => f.name)).toContain('eventGridHandshake');
  });
});

describe('when the store is unavailable', () => {
  it('answers 503 problem+json so that Event Grid retries', async () => {
    // Every Cosmos DB request answered 503, for this test only: the others keep their store.
    proxy.setFaults({ rate: 1, kinds: ['503'] });
    try {
      const response = await deliver([anEventGridEvent(aPushEvent({ tag: 'eg-lost' }), 'westus')]);
      expect(response.status).toBe(503);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
    } finally {
      proxy.setFaults({ rate: 0 });
    }
    expect((await status('public/products/web:eg-lost')).response.status).toBe(404);
  });
});
