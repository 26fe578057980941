// End to end over HTTP: ACR arrivals delivered by Event Grid (both schemas, both handshakes) into the local host.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aDeleteEvent, aDigest, aPushEvent } from '../support/fixtures';
import {
  ADMIN_TOKEN,
  REGIONS,
  startApp,
  WEBHOOK_TOKEN,
  type RunningApp,
} from '../support/app-host';

let app: RunningApp;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.stop();
});

const REGISTRY = 'contoso.azurecr.io';
const TOPIC =
  '/subscriptions/6b1f3c2e-0d4a-4c8e-9f7a-2b5d8e1c0a93/resourceGroups/rg-release' +
  '/providers/Microsoft.ContainerRegistry/registries/contoso';
const PUSHED = 'Microsoft.ContainerRegistry.ImagePushed';
const DELETED = 'Microsoft.ContainerRegistry.ImageDeleted';

/** An event of the Event Grid schema as ACR publishes it: the webhook payload plus `location`. */
function anEventGridEvent(payload: Record<string, unknown>, region: string, type = PUSHED) {
  const target = payload.target as { repository: string; tag?: string };
  return {
    id: randomUUID(),
    topic: TOPIC,
    subject: `${target.repository}${target.tag ? `:${target.tag}` : ''}`,
    eventType: type,
    eventTime: payload.timestamp,
    data: { ...payload, location: region, actor: {}, source: {} },
    dataVersion: '1.0',
    metadataVersion: '1',
  };
}

/** The same event in the CloudEvents 1.0 schema. */
function aCloudEvent(payload: Record<string, unknown>, region: string, type = PUSHED) {
  const eg = anEventGridEvent(payload, region, type);
  return {
    specversion: '1.0',
    id: eg.id,
    source: TOPIC,
    type,
    subject: eg.subject,
    time: eg.eventTime,
    data: eg.data,
  };
}

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

  it('records an ImageDeleted as the regional delete of the manifest', async () => {
    const digest = aDigest();
    await deliver([anEventGridEvent(aPushEvent({ tag: 'eg-doomed', digest }), 'westus')]);
    const payload = aDeleteEvent({ digest, timestamp: '2026-03-14T12:00:00Z' });
    const response = await deliver([anEventGridEvent(payload, 'westus', DELETED)]);
    expect(response.status).toBe(200);
    expect(((await response.json()) as Results).results[0]?.outcome).toBe('recorded');
    const { body } = await status('public/products/web:eg-doomed');
    expect(body.status).toBe('deleted');
    expect(body.regions).toContainEqual(
      expect.objectContaining({ region: 'westus', status: 'deleted' }),
    );
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

  it('acknowledges chart, storage and subscription events without recording them', async () => {
    const chart = {
      ...anEventGridEvent(
        aPushEvent({ tag: 'chart' }),
        'westus',
        'Microsoft.ContainerRegistry.ChartPushed',
      ),
      data: {
        id: 'c1',
        timestamp: '2026-03-14T10:00:00Z',
        action: 'chart_push',
        location: 'westus',
      },
    };
    const blob = {
      id: randomUUID(),
      topic: '/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/z',
      subject: '/blobServices/default/containers/c/blobs/b',
      eventType: 'Microsoft.Storage.BlobCreated',
      eventTime: '2026-03-14T10:00:00Z',
      data: { url: 'https://z.blob.core.windows.net/c/b' },
      dataVersion: '',
    };
    const response = await deliver([chart, blob]);
    expect(response.status).toBe(200);
    expect(((await response.json()) as Results).results.map((r) => r.outcome)).toEqual([
      'ignored',
      'ignored',
    ]);
    expect((await status('public/products/web:chart')).response.status).toBe(404);
  });

  it('answers 400 naming the field of the invalid event, and stores none of the batch', async () => {
    const good = pushes('half-valid', aDigest()).slice(0, 2);
    const broken = aPushEvent({ tag: 'half-valid' });
    (broken.target as Record<string, unknown>).digest = 'md5:nope';
    const batch = [
      ...good.map((p) => anEventGridEvent(p.payload, p.region)),
      anEventGridEvent(broken, 'canadacentral'),
    ];
    const response = await deliver(batch);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const problem = (await response.json()) as { detail: string; errors: { field: string }[] };
    expect(problem.detail).toMatch(/^\[2\]\.data\.target\.digest: /);
    expect(problem.errors.map((e) => e.field)).toEqual(['[2].data.target.digest']);
    expect((await status('public/products/web:half-valid')).response.status).toBe(404);

    // The region is required and must be a region name; a single CloudEvent has no index.
    const noRegion = aCloudEvent(aPushEvent(), 'westus');
    delete (noRegion.data as Record<string, unknown>).location;
    const single = await deliver(noRegion, 'application/cloudevents+json');
    expect(((await single.json()) as { errors: { field: string }[] }).errors[0]?.field).toBe(
      'data.location',
    );
    const badEnvelope = await deliver([{ ...anEventGridEvent(aPushEvent(), 'westus'), id: 7 }]);
    expect(((await badEnvelope.json()) as { errors: { field: string }[] }).errors[0]?.field).toBe(
      '[0].id',
    );
    const wrongShape = await deliver({ not: 'an array' });
    expect(wrongShape.status).toBe(400);
  });

  it('refuses a missing or wrong token with 401, and an admin token with 403', async () => {
    const body = [anEventGridEvent(aPushEvent({ tag: 'eg-unauthorised' }), 'westus')];
    const anonymous = await app.call('/api/webhooks/eventgrid', {
      method: 'POST',
      token: null,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toBe('application/problem+json');
    const wrong = await app.call('/api/webhooks/eventgrid', {
      method: 'POST',
      token: 'not-the-webhook-token-123',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(wrong.status).toBe(401);
    const wrongQuery = await app.call('/api/webhooks/eventgrid?token=not-the-webhook-token-123', {
      method: 'POST',
      token: null,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(wrongQuery.status).toBe(401);
    const admin = await app.call('/api/webhooks/eventgrid', {
      method: 'POST',
      token: ADMIN_TOKEN,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(admin.status).toBe(403);
    expect((await status('public/products/web:eg-unauthorised')).response.status).toBe(404);
  });

  it('accepts the token as ?token= instead of a header', async () => {
    const response = await app.call(
      `/api/webhooks/eventgrid?token=${encodeURIComponent(WEBHOOK_TOKEN)}`,
      {
        method: 'POST',
        token: null,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([anEventGridEvent(aPushEvent({ tag: 'by-query' }), 'eastus')]),
      },
    );
    expect(response.status).toBe(200);
    expect((await status('public/products/web:by-query')).body.regions).toContainEqual(
      expect.objectContaining({ region: 'eastus', status: 'arrived' }),
    );
  });
});

describe('Event Grid handshakes', () => {
  const validation = (code: string) => [
    {
      id: randomUUID(),
      topic: TOPIC,
      subject: '',
      eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
      eventTime: '2026-03-14T10:00:00.0000000Z',
      data: {
        validationCode: code,
        validationUrl:
          'https://rp-westus.eventgrid.azure.net/eventsubscriptions/gate/validate?id=x',
      },
      dataVersion: '2',
      metadataVersion: '1',
    },
  ];

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

  it('refuses an unauthenticated validation event', async () => {
    const response = await app.call('/api/webhooks/eventgrid', {
      method: 'POST',
      token: null,
      headers: { 'content-type': 'application/json', 'aeg-event-type': 'SubscriptionValidation' },
      body: JSON.stringify(validation('ABC')),
    });
    expect(response.status).toBe(401);
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

  it('refuses the OPTIONS handshake without a token, so no other tenant can validate a subscription', async () => {
    const response = await app.call('/api/webhooks/eventgrid', {
      method: 'OPTIONS',
      token: null,
      headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' },
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('webhook-allowed-origin')).toBeNull();
  });

  it('refuses an OPTIONS request with a wrong token or without an origin', async () => {
    const wrong = await app.call('/api/webhooks/eventgrid?token=wrong-token-0123456789', {
      method: 'OPTIONS',
      token: null,
      headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('webhook-allowed-origin')).toBeNull();
    const noOrigin = await app.call('/api/webhooks/eventgrid', { method: 'OPTIONS' });
    expect(noOrigin.status).toBe(400);
    expect(((await noOrigin.json()) as { errors: { field: string }[] }).errors[0]?.field).toBe(
      'webhook-request-origin',
    );
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
    await app.cosmos.close();
    const response = await deliver([anEventGridEvent(aPushEvent({ tag: 'eg-lost' }), 'westus')]);
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
  });
});
