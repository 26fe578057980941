// End to end over HTTP: regional webhooks into the local host, status out, state in the embedded Cosmos DB.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aDeleteEvent, aDigest, aPushEvent, permutations } from '../support/fixtures';
import {
  ADMIN_TOKEN,
  REGIONS,
  startApp,
  WEBHOOK_TOKEN,
  type RunningApp,
} from '../support/app-host';
import { partialUpload } from '../support/partial-upload';

let app: RunningApp;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.stop();
});

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
    const response = await hook('westus', {
      id: '0d799b14-404b-4859-b2f6-50c5ee2a2c3a',
      timestamp: '2018-02-01T00:52:01.8925612Z',
      action: 'quarantine',
      target: {
        size: 524,
        digest: 'sha256:xxxxx',
        length: 524,
        repository: 'hello-world',
        tag: '1',
      },
      request: { id: 'c2b8ff99', host: 'myregistry.azurecr.io:443/', method: 'GET' },
    });
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

  it('marks a deleted manifest in the region that reported it', async () => {
    const digest = aDigest();
    await hook('westus', aPushEvent({ tag: 'doomed', digest }));
    const response = await hook(
      'westus',
      aDeleteEvent({ digest, timestamp: '2026-03-14T12:00:00Z' }),
    );
    expect(response.status).toBe(202);
    const { body } = await status('public/products/web:doomed');
    expect(body.status).toBe('deleted');
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

  it('names the offending field of an invalid body in problem+json', async () => {
    const body = aPushEvent();
    (body.target as Record<string, unknown>).digest = 'md5:nope';
    const response = await hook('westus', body);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const problem = (await response.json()) as { detail: string; errors: { field: string }[] };
    expect(problem.detail).toMatch(/^target\.digest: /);
    expect(problem.errors[0]?.field).toBe('target.digest');
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

  it('logs each request', () => {
    expect(app.logs.some((line) => /POST \/api\/webhooks\/acr\/westus -> 202/.test(line))).toBe(
      true,
    );
  });
});

describe('GET /api/replications', () => {
  it('reads a tag of a repository with slashes, and by digest', async () => {
    const digest = aDigest();
    await hook('eastus', aPushEvent({ repository: 'team/app/api', tag: '2.0', digest }));
    const byTag = await status('team/app/api:2.0');
    expect(byTag.response.status).toBe(200);
    expect(byTag.body).toMatchObject({ repository: 'team/app/api', tag: '2.0', digest });
    const byDigest = await status(`team/app/api@${digest}`);
    expect(byDigest.body).toMatchObject({ repository: 'team/app/api', tag: '2.0', digest });
  });

  it('answers 404 problem+json for an unknown tag and 400 for a malformed reference', async () => {
    const unknown = await status('team/app/api:never-pushed');
    expect(unknown.response.status).toBe(404);
    expect(unknown.response.headers.get('content-type')).toBe('application/problem+json');
    const malformed = await status('team/app/api');
    expect(malformed.response.status).toBe(400);
    expect(malformed.body.detail).toMatch(/reference/);
  });

  it('lists tags in pages with continuation tokens', async () => {
    for (let i = 0; i < 5; i++)
      await hook('westus', aPushEvent({ repository: 'paged/repo', tag: `t${i}` }));
    const seen: string[] = [];
    let token: string | null = null;
    do {
      const query = new URLSearchParams({ repository: 'paged/repo', pageSize: '2' });
      if (token) query.set('continuationToken', token);
      const response = await app.call(`/api/replications/${REGISTRY}?${query.toString()}`);
      expect(response.status).toBe(200);
      const page = (await response.json()) as {
        items: { tag: string }[];
        continuationToken: string | null;
      };
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((i) => i.tag));
      token = page.continuationToken;
    } while (token);
    expect(seen.sort()).toEqual(['t0', 't1', 't2', 't3', 't4']);
  });
});

describe('/api/registries/{registry}', () => {
  it('falls back to REPLICATION_REGIONS, and refuses webhook and read tokens', async () => {
    const forbidden = await app.call(`/api/registries/${REGISTRY}`, { token: WEBHOOK_TOKEN });
    expect(forbidden.status).toBe(403);
    // app.call's default here is the read token: it reads, it does not configure.
    expect((await app.call(`/api/registries/${REGISTRY}`)).status).toBe(403);
    const response = await app.call('/api/registries/other.azurecr.io', { token: ADMIN_TOKEN });
    expect(await response.json()).toMatchObject({
      regions: [...REGIONS].sort(),
      source: 'default',
    });
  });

  it('re-evaluates open rounds when the region set changes', async () => {
    const registry = 'fabrikam.azurecr.io';
    const digest = aDigest();
    for (const region of ['westus', 'eastus', 'canadacentral']) {
      await hook(region, aPushEvent({ registry, tag: 'waiting', digest }));
    }
    const before = await app.call(`/api/replications/${registry}/public/products/web:waiting`);
    expect(((await before.json()) as { status: string }).status).toBe('replicating');

    const put = await app.call(`/api/registries/${registry}`, {
      method: 'PUT',
      token: ADMIN_TOKEN,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ regions: ['westus', 'eastus', 'canadacentral'] }),
    });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ reevaluated: 1, completed: 1 });
    const after = await app.call(`/api/replications/${registry}/public/products/web:waiting`);
    expect(await after.json()).toMatchObject({ status: 'replicated' });
  });
});

describe('when the store is unavailable', () => {
  it('answers 503 and reports the store in /api/health', async () => {
    expect((await app.call('/api/health', { token: null })).status).toBe(200);
    await app.cosmos.close();
    const response = await hook('westus', aPushEvent({ tag: 'lost' }));
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect((await app.call('/api/health', { token: null })).status).toBe(503);
  });
});
