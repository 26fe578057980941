// End to end over HTTP: regional webhooks into the local host, status out, state in the embedded Cosmos DB.
// What needs no wire (reads, lists, registries, a delete, the field of a bad body) is checked at the
// handlers: src/http/*-handler(s).test.ts.
import { describe, expect, it } from 'vitest';
import { aDigest, aPushEvent, aQuarantineSample, permutations } from '../support/fixtures';
import { REGIONS, useAppBehindFaults } from '../support/app-host';
import { partialUpload } from '../support/partial-upload';

// Behind a fault proxy, so the outage test injects 503s instead of closing the shared store
// (which would fail every test that runs after it).
const { app, proxy } = useAppBehindFaults(2);

const REGISTRY = 'contoso.azurecr.io';
const hook = (region: string, body: unknown) => app.post(`/api/webhooks/acr/${region}`, body);
const status = async (reference: string) => {
  const response = await app.call(`/api/replications/${REGISTRY}/${reference}`);
  return { response, body: (await response.json()) as Record<string, unknown> };
};

describe('POST /api/webhooks/acr/{region}', () => {
  it('answers a ping with 200', async () => {
    const response = await hook('westus', {
      id: 'p',
      timestamp: '2026-03-14T09:00:00Z',
      action: 'ping',
    });
    expect(response.status).toBe(200);
  });

  it('acknowledges a quarantine event with 202 without validating what it does not use', async () => {
    const response = await hook('westus', aQuarantineSample());
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ status: 'ignored', action: 'quarantine' });
    expect((await status('hello-world:1')).response.status).toBe(404);
  });

  it('records four regions arriving in every order, each delivery duplicated, with one event each', async () => {
    const orders = permutations(REGIONS);
    await Promise.all(
      orders.map(async (order, n) => {
        const digest = aDigest();
        const tag = `order-${n}`;
        for (const [i, region] of order.entries()) {
          const body = aPushEvent({
            tag,
            digest,
            timestamp: `2026-03-14T09:00:0${REGIONS.indexOf(region)}.5Z`,
          });
          const first = await hook(region, body);
          const again = await hook(region, body);
          expect(first.status).toBe(202);
          expect(again.status).toBe(202);
          const answer = (await again.json()) as { status: string };
          expect(answer.status).toBe(i === order.length - 1 ? 'replicated' : 'replicating');
        }
      }),
    );
    for (const n of [0, 7, 23]) {
      const { body } = await status(`public/products/web:order-${n}`);
      expect(body).toMatchObject({
        status: 'replicated',
        pushedAt: '2026-03-14T09:00:00.500000000Z',
        replicatedAt: '2026-03-14T09:00:03.500000000Z',
      });
      expect(await app.storedEventsFor(`public/products/web:order-${n}`)).toHaveLength(1);
    }
  });

  it('answers 202 with the documented status body', async () => {
    const digest = aDigest();
    const response = await hook(
      'westus',
      aPushEvent({ repository: 'team/app/api', tag: 'v1', digest }),
    );
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({
      registry: REGISTRY,
      repository: 'team/app/api',
      tag: 'v1',
      digest,
      status: 'replicating',
      requiredRegions: ['canadacentral', 'eastus', 'westeurope', 'westus'],
      regions: [
        { region: 'canadacentral', required: true, status: 'pending' },
        { region: 'eastus', required: true, status: 'pending' },
        { region: 'westeurope', required: true, status: 'pending' },
        {
          region: 'westus',
          required: true,
          status: 'arrived',
          digest,
          arrivedAt: '2026-03-14T09:26:53.589793238Z',
        },
      ],
      missingRegions: ['canadacentral', 'eastus', 'westeurope'],
      pushedAt: '2026-03-14T09:26:53.589793238Z',
      replicatedAt: null,
      eventId: null,
    });
  });

  it('keeps a late region with an old digest stale, across a re-push mid-round', async () => {
    const [d1, d2] = [aDigest(), aDigest()];
    const tag = 'repush';
    await hook('westus', aPushEvent({ tag, digest: d1, timestamp: '2026-03-14T09:00:00Z' }));
    await hook('eastus', aPushEvent({ tag, digest: d1, timestamp: '2026-03-14T09:00:04Z' }));
    await hook('westus', aPushEvent({ tag, digest: d2, timestamp: '2026-03-14T09:05:00Z' }));
    await hook('eastus', aPushEvent({ tag, digest: d2, timestamp: '2026-03-14T09:05:03Z' }));
    await hook('canadacentral', aPushEvent({ tag, digest: d2, timestamp: '2026-03-14T09:05:05Z' }));
    await hook('westeurope', aPushEvent({ tag, digest: d1, timestamp: '2026-03-14T09:06:00Z' }));
    let { body } = await status(`public/products/web:${tag}`);
    expect(body).toMatchObject({
      digest: d2,
      status: 'replicating',
      missingRegions: ['westeurope'],
    });
    expect(body.regions).toContainEqual(
      expect.objectContaining({ region: 'westeurope', status: 'stale', digest: d1 }),
    );

    await hook('westeurope', aPushEvent({ tag, digest: d2, timestamp: '2026-03-14T09:06:30Z' }));
    ({ body } = await status(`public/products/web:${tag}`));
    expect(body).toMatchObject({ digest: d2, status: 'replicated' });
    const events = await app.storedEventsFor(`public/products/web:${tag}`);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ event: { data: { digest: d2 } } });
  });

  it('gives exactly one completion for 20 concurrent deliveries', async () => {
    const digest = aDigest();
    const tag = 'concurrent';
    const bodies = REGIONS.map((_, i) =>
      aPushEvent({ tag, digest, timestamp: `2026-03-14T11:00:0${i}Z` }),
    );
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => hook(REGIONS[i % 4] as string, bodies[i % 4])),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(202));
    expect((await status(`public/products/web:${tag}`)).body.status).toBe('replicated');
    expect(await app.storedEventsFor(`public/products/web:${tag}`)).toHaveLength(1);
  });

  it('accepts a rotated token and normalises the region name', async () => {
    const response = await app.post(
      '/api/webhooks/acr/WestUS',
      aPushEvent({ tag: 'rotated' }),
      'old-rotated-webhook-token-xyz',
    );
    expect(response.status).toBe(202);
    const body = (await response.json()) as { regions: { region: string; status: string }[] };
    expect(body.regions).toContainEqual(
      expect.objectContaining({ region: 'westus', status: 'arrived' }),
    );
  });

  it('refuses missing and wrong tokens with 401 and stores nothing', async () => {
    const body = aPushEvent({ tag: 'unauthorised' });
    expect(
      (await app.post('/api/webhooks/acr/westus', body, 'not-a-token-at-all-123')).status,
    ).toBe(401);
    const anonymous = await app.call('/api/webhooks/acr/westus', {
      method: 'POST',
      token: null,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toBe('application/problem+json');
    expect((await status('public/products/web:unauthorised')).response.status).toBe(404);
  });

  it('rejects an invalid region, a wrong content type and an oversized body', async () => {
    const bad = await hook('west-us!', aPushEvent());
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { field: string }[] }).errors[0]?.field).toBe(
      'path.region',
    );

    const text = await app.call('/api/webhooks/acr/westus', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify(aPushEvent()),
    });
    expect(text.status).toBe(415);

    const huge = aPushEvent();
    huge.padding = 'x'.repeat(70 * 1024);
    expect((await hook('westus', huge)).status).toBe(413);
  });

  it('answers an unauthenticated 10 MB upload 401 having read only what arrived (the host does not buffer it)', async () => {
    const tenMegabytes = 10 * 1024 * 1024;
    const answer = await partialUpload(
      `${app.url}/api/webhooks/acr/westus`,
      { 'content-type': 'application/json', authorization: 'Bearer not-a-token-of-ours' },
      tenMegabytes,
      64 * 1024,
    );
    expect(answer.status).toBe(401);
    expect(answer.headers['content-type']).toBe('application/problem+json');
    // The unread rest of the body is not drained on this connection.
    expect(answer.headers.connection).toBe('close');
  });

  it('logs each request', async () => {
    // Its own request: this test does not rely on the ones before it.
    expect((await hook('westus', aPushEvent({ tag: 'logged' }))).status).toBe(202);
    expect(app.logs.some((line) => /POST \/api\/webhooks\/acr\/westus -> 202/.test(line))).toBe(
      true,
    );
  });
});

describe('when the store is unavailable', () => {
  it('answers 503 and reports the store in /api/health', async () => {
    expect((await app.call('/api/health', { token: null })).status).toBe(200);
    // Every Cosmos DB request answered 503, for this test only: the others keep their store.
    proxy.setFaults({ rate: 1, kinds: ['503'] });
    try {
      const response = await hook('westus', aPushEvent({ tag: 'lost' }));
      expect(response.status).toBe(503);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      expect((await app.call('/api/health', { token: null })).status).toBe(503);
    } finally {
      proxy.setFaults({ rate: 0 });
    }
    expect((await app.call('/api/health', { token: null })).status).toBe(200);
    expect((await status('public/products/web:lost')).response.status).toBe(404);
  });
});
