// The registry handlers called directly over the in-memory store.
import { describe, expect, it } from 'vitest';
import { aDigest, aPushEvent } from '../../test/support/fixtures';
import {
  call,
  expectProblem,
  handlerDeps,
  REGISTRY,
  type Call,
} from '../../test/support/handler-harness';
import { makeGetRegistryHandler, makePutRegistryHandler } from './registry-handlers';
import { makeStatusHandler } from './replication-handlers';
import { makeAcrWebhookHandler } from './webhook-handler';

const get = (token = 'admin'): Call => ({
  url: `/api/registries/${REGISTRY}`,
  params: { registry: REGISTRY },
  token,
});
const put = (json: unknown, token = 'admin'): Call => ({ ...get(token), method: 'PUT', json });

describe('/api/registries/{registry}', () => {
  it('answers the default regions until PUT, then the registry own, re-evaluating open rounds', async () => {
    const deps = handlerDeps({ defaultRegions: ['westus', 'eastus'] });
    const before = await call(makeGetRegistryHandler(deps), get());
    expect(before.body).toEqual({
      registry: REGISTRY,
      regions: ['westus', 'eastus'],
      source: 'default',
      updatedAt: null,
    });
    await call(makeAcrWebhookHandler(deps), {
      url: '/api/webhooks/acr/westus',
      params: { region: 'westus' },
      token: 'webhook',
      json: aPushEvent(),
    });
    const set = await call(makePutRegistryHandler(deps), put({ regions: ['westus'] }));
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ regions: ['westus'], reevaluated: 1, completed: 1 });
    const after = await call(makeGetRegistryHandler(deps), get());
    expect(after.body).toMatchObject({ regions: ['westus'], source: 'registry' });
  });

  it('names the field of a bad body and of a bad registry name', async () => {
    const deps = handlerDeps();
    const empty = expectProblem(
      await call(makePutRegistryHandler(deps), put({ regions: [] })),
      400,
    );
    expect(empty.errors).toEqual([expect.objectContaining({ field: 'regions' })]);
    const extra = expectProblem(
      await call(makePutRegistryHandler(deps), put({ regions: ['westus'], x: 1 })),
      400,
    );
    expect(extra.detail).toMatch(/x/);
    const name = expectProblem(
      await call(makeGetRegistryHandler(deps), { ...get(), params: { registry: 'not a host' } }),
      400,
    );
    expect(name.errors).toEqual([expect.objectContaining({ field: 'path.registry' })]);
  });

  it('is for admins only', async () => {
    const deps = handlerDeps();
    expectProblem(await call(makeGetRegistryHandler(deps), get('read')), 403);
    expectProblem(
      await call(makePutRegistryHandler(deps), put({ regions: ['a'] }, 'webhook')),
      403,
    );
    expectProblem(
      await call(makePutRegistryHandler(deps), { ...put({ regions: ['a'] }), token: undefined }),
      401,
    );
    expect(await deps.store.registries.getRegions(REGISTRY)).toBeUndefined();
  });
});

describe('/api/registries/{registry} (moved down from test/e2e/webhooks.test.ts)', () => {
  const REGIONS = ['westus', 'eastus', 'canadacentral', 'westeurope'];

  it('falls back to REPLICATION_REGIONS, and refuses webhook and read tokens', async () => {
    // Settings hand the handlers REPLICATION_REGIONS sorted.
    const deps = handlerDeps({ defaultRegions: [...REGIONS].sort() });
    const handler = makeGetRegistryHandler(deps);
    const forbidden = await call(handler, get('webhook'));
    expect(forbidden.status).toBe(403);
    // A read token reads, it does not configure.
    expect((await call(handler, get('read'))).status).toBe(403);
    const response = await call(handler, {
      url: '/api/registries/other.azurecr.io',
      params: { registry: 'other.azurecr.io' },
      token: 'admin',
    });
    expect(response.body).toMatchObject({ regions: [...REGIONS].sort(), source: 'default' });
  });

  it('re-evaluates open rounds when the region set changes', async () => {
    const deps = handlerDeps({ defaultRegions: REGIONS });
    const registry = 'fabrikam.azurecr.io';
    const digest = aDigest();
    for (const region of ['westus', 'eastus', 'canadacentral']) {
      await call(makeAcrWebhookHandler(deps), {
        url: `/api/webhooks/acr/${region}`,
        params: { region },
        token: 'webhook',
        json: aPushEvent({ registry, tag: 'waiting', digest }),
      });
    }
    const read = () =>
      call(makeStatusHandler(deps), {
        url: `/api/replications/${registry}/public/products/web:waiting`,
        params: { registry, reference: 'public/products/web:waiting' },
        token: 'read',
      });
    expect((await read()).body.status).toBe('replicating');
    const put = await call(makePutRegistryHandler(deps), {
      method: 'PUT',
      url: `/api/registries/${registry}`,
      params: { registry },
      token: 'admin',
      json: { regions: ['westus', 'eastus', 'canadacentral'] },
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ reevaluated: 1, completed: 1 });
    expect((await read()).body).toMatchObject({ status: 'replicated' });
  });
});
