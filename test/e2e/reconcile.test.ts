// Recovering lost webhook deliveries from ARM listEvents: the CLI and the timer, against a loopback fake of ARM.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { aDigest, aPushEvent } from '../support/fixtures';
import { loadSettings } from '../../src/config/settings';
import { ADMIN_TOKEN, REGIONS, useApp, WEBHOOK_TOKEN } from '../support/app-host';
import type { ReconcileReport } from '../../src/app/reconcile-webhooks';
import { createArmClient } from '../../src/registration/arm-client';
import {
  listRegionalWebhooks,
  listWebhookEvents,
} from '../../src/registration/list-webhook-events';
import { startFakeArm, type FakeArm } from '../support/fake-arm';
import { runCli } from '../support/run-cli';

const SUBSCRIPTION = '6b1f3c2e-0d4a-4c8e-9f7a-2b5d8e1c0a93';
const RESOURCE_GROUP = 'rg-release';
const ARM_TOKEN = 'fake-arm-access-token';
const REGISTRY = 'contoso.azurecr.io';

let arm: FakeArm;
beforeAll(async () => {
  // Small pages, so listEvents has to follow nextLink.
  arm = await startFakeArm({
    subscriptionId: SUBSCRIPTION,
    resourceGroup: RESOURCE_GROUP,
    registryName: 'contoso',
    replicas: REGIONS.map((location) => ({ location })),
    token: ARM_TOKEN,
    eventsPageSize: 1,
  });
});
afterAll(async () => {
  await arm?.close();
});
const app = useApp(() => ({
  RECONCILE_SUBSCRIPTION_ID: SUBSCRIPTION,
  RECONCILE_RESOURCE_GROUP: RESOURCE_GROUP,
  RECONCILE_REGISTRY: 'contoso',
  RECONCILE_ARM_ENDPOINT: arm.endpoint,
  RECONCILE_ARM_TOKEN: ARM_TOKEN,
}));
beforeAll(() => {
  // Our regional webhooks as `webhooks apply` creates them, and one of somebody else's.
  for (const region of [...REGIONS, 'team']) {
    const name = region === 'team' ? 'teamdeployhook' : `acrgate${region}`;
    arm.webhooks.set(name, {
      name,
      location: region === 'team' ? 'westus' : region,
      status: 'enabled',
      actions: ['push', 'delete'],
      serviceUri: `${app.url}/api/webhooks/acr/${region}`,
      customHeaders: { Authorization: `Bearer ${WEBHOOK_TOKEN}` },
    });
  }
});

// Each test starts from ACR's event log as `webhooks apply` leaves it (the ping it sends), and
// seeds the deliveries it replays itself: no test counts what another one left behind.
beforeEach(() => {
  arm.webhookEvents.clear();
  arm.seedEvents('acrgatewestus', [
    {
      content: { id: 'ping-1', timestamp: '2026-03-14T10:59:00Z', action: 'ping' },
      statusCode: 200,
    },
  ]);
});

const cliEnv = () => ({ ACR_GATE_URL: `${app.url}/api`, ACR_GATE_WEBHOOK_TOKEN: WEBHOOK_TOKEN });
const reconcileArgs = () => [
  'reconcile',
  '--registry',
  'contoso',
  '--subscription',
  SUBSCRIPTION,
  '--resource-group',
  RESOURCE_GROUP,
  '--arm-endpoint',
  arm.endpoint,
  '--arm-token',
  ARM_TOKEN,
  '--json',
];

const status = async (reference: string) => {
  const response = await app.call(`/api/replications/${REGISTRY}/${reference}`);
  return { response, body: (await response.json()) as Record<string, unknown> };
};

/**
 * One push reported by each region: the regions in `delivered` reached the gate (and are in its
 * store), the others are in ACR's event log only, answered 503 or not at all.
 */
async function pushWithLostDeliveries(tag: string, delivered: string[]) {
  const digest = aDigest();
  for (const [i, region] of REGIONS.entries()) {
    const payload = aPushEvent({ tag, digest, timestamp: `2026-03-14T11:00:0${i}.987654321Z` });
    let statusCode: number | null;
    if (delivered.includes(region)) {
      const response = await app.post(`/api/webhooks/acr/${region}`, payload);
      expect(response.status).toBe(202);
      statusCode = response.status;
    } else {
      statusCode = i % 2 === 0 ? 503 : null;
    }
    arm.seedEvents(`acrgate${region}`, [{ content: payload, statusCode }]);
  }
  return digest;
}

describe('acr-gate reconcile', () => {
  it('replays the two lost regions: the tag becomes replicated with exactly one event', async () => {
    arm.seedEvents('teamdeployhook', [
      {
        content: aPushEvent({ tag: 'not-ours', timestamp: '2026-03-14T11:00:00Z' }),
        statusCode: 500,
      },
    ]);
    const digest = await pushWithLostDeliveries('lost-cli', ['westus', 'eastus']);
    expect((await status('public/products/web:lost-cli')).body).toMatchObject({
      status: 'replicating',
      missingRegions: ['canadacentral', 'westeurope'],
    });

    const run = await runCli(reconcileArgs(), cliEnv());
    expect(run.stderr).toContain('reconcile: replayed push');
    expect(run.code).toBe(0);
    // The two we had stored count as known: replayed with all nine fractional digits, they change nothing.
    expect(JSON.parse(run.stdout) as ReconcileReport).toMatchObject({
      webhooks: 4,
      events: 5,
      replayed: 2,
      alreadyKnown: 2,
      skipped: 1,
      failed: 0,
    });
    expect((await status('public/products/web:lost-cli')).body).toMatchObject({
      digest,
      status: 'replicated',
      pushedAt: '2026-03-14T11:00:00.987654321Z',
      replicatedAt: '2026-03-14T11:00:03.987654321Z',
    });
    expect(await app.storedEventsFor('public/products/web:lost-cli')).toHaveLength(1);
    // Somebody else's webhook is not ours to replay.
    expect((await status('public/products/web:not-ours')).response.status).toBe(404);
    // Page two and on come from nextLink.
    expect(arm.requests.some((r) => r.method === 'GET' && r.path.endsWith('/listEvents'))).toBe(
      true,
    );
  });

  it('replays nothing new on a second run', async () => {
    await pushWithLostDeliveries('lost-twice', ['westus', 'eastus']);
    const first = await runCli(reconcileArgs(), cliEnv());
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout) as ReconcileReport).toMatchObject({ replayed: 2 });

    const run = await runCli(
      reconcileArgs().filter((a) => a !== '--json'),
      cliEnv(),
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      '4 webhook(s), 5 event(s): 0 replayed, 4 already known, 1 skipped, 0 failed\n',
    );
    expect(await app.storedEventsFor('public/products/web:lost-twice')).toHaveLength(1);
  });

  it('exits 77 when the gate refuses the webhook token', async () => {
    // A lost delivery of its own, so that there is something to replay.
    await pushWithLostDeliveries('refused', ['westus']);
    const refused = await runCli(reconcileArgs(), {
      ...cliEnv(),
      ACR_GATE_WEBHOOK_TOKEN: 'not-a-webhook-token-0123',
    });
    expect(refused.stderr).toContain('the webhook token was refused (401)');
    expect(refused.code).toBe(77);
  });
});

describe('listRegionalWebhooks and listWebhookEvents', () => {
  const client = () =>
    createArmClient({
      subscriptionId: SUBSCRIPTION,
      endpoint: arm.endpoint,
      accessToken: ARM_TOKEN,
    });
  const target = {
    subscriptionId: SUBSCRIPTION,
    resourceGroup: RESOURCE_GROUP,
    registryName: 'contoso',
  };

  it('finds our acrgate<region> webhooks, or exactly the ones named', async () => {
    expect(await listRegionalWebhooks(client(), target)).toEqual(
      [...REGIONS].sort().map((region) => ({ name: `acrgate${region}`, location: region })),
    );
    expect(await listRegionalWebhooks(client(), target, { names: ['TeamDeployHook'] })).toEqual([
      { name: 'teamdeployhook', location: 'westus' },
    ]);
    await expect(listRegionalWebhooks(client(), target, { names: ['nosuchhook'] })).rejects.toThrow(
      'registry contoso has no webhook named nosuchhook',
    );
  });

  it('returns every page with the body exactly as sent and our status code', async () => {
    await pushWithLostDeliveries('listed', ['westus', 'eastus']);
    const events = await listWebhookEvents(client(), target, 'acrgatewestus');
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(events[0]).toMatchObject({ content: { action: 'ping' }, responseStatus: 200 });
    expect(events[1]).toMatchObject({
      content: { action: 'push', timestamp: '2026-03-14T11:00:00.987654321Z' },
      responseStatus: 202,
    });
    expect(await listWebhookEvents(client(), target, 'acrgatewesteurope')).toContainEqual(
      expect.objectContaining({ responseStatus: null }),
    );
  });
});

describe('the reconcileWebhooks timer', () => {
  it('is registered, as RECONCILE_* are set, every 5 minutes', () => {
    expect(app.host.functions).toContainEqual(
      expect.objectContaining({ name: 'reconcileWebhooks', schedule: '0 */5 * * * *' }),
    );
  });

  it('replays lost deliveries straight into the store', async () => {
    const digest = await pushWithLostDeliveries('lost-timer', ['westus']);
    expect((await status('public/products/web:lost-timer')).body.status).toBe('replicating');

    let from = app.logs.length;
    await app.host.runTimer('reconcileWebhooks');
    expect((await status('public/products/web:lost-timer')).body).toMatchObject({
      digest,
      status: 'replicated',
      pushedAt: '2026-03-14T11:00:00.987654321Z',
    });
    expect(await app.storedEventsFor('public/products/web:lost-timer')).toHaveLength(1);
    // The ping seeded before each test, and this test's four pushes.
    expect(app.logs.slice(from).join('\n')).toMatch(
      /reconcile: 4 webhook\(s\), 5 event\(s\): 3 replayed, 1 already known, 1 skipped, 0 failed/,
    );

    from = app.logs.length;
    await app.host.runTimer('reconcileWebhooks');
    expect(app.logs.slice(from).join('\n')).toMatch(
      /reconcile: 4 webhook\(s\), 5 event\(s\): 0 replayed, 4 already known, 1 skipped, 0 failed/,
    );
    expect(await app.storedEventsFor('public/products/web:lost-timer')).toHaveLength(1);
  });
});

describe('RECONCILE_* settings', () => {
  const base = {
    COSMOS_ENDPOINT: 'https://acct.documents.azure.com:443/',
    REPLICATION_REGIONS: 'westus',
    WEBHOOK_TOKENS: WEBHOOK_TOKEN,
    ADMIN_TOKENS: ADMIN_TOKEN,
  };
  const target = {
    RECONCILE_SUBSCRIPTION_ID: SUBSCRIPTION,
    RECONCILE_RESOURCE_GROUP: RESOURCE_GROUP,
    RECONCILE_REGISTRY: 'contoso.azurecr.io',
  };

  it('turn the timer on only when all three name a registry', () => {
    expect(loadSettings(base).reconcile).toBeUndefined();
    expect(loadSettings({ ...base, ...target }).reconcile).toEqual({
      subscriptionId: SUBSCRIPTION,
      resourceGroup: RESOURCE_GROUP,
      registryName: 'contoso',
      webhooks: undefined,
      armEndpoint: undefined,
      armToken: undefined,
    });
    expect(() => loadSettings({ ...base, RECONCILE_REGISTRY: 'contoso' })).toThrow(
      /invalid setting RECONCILE_SUBSCRIPTION_ID: set .* together, or none/,
    );
    expect(() =>
      loadSettings({ ...base, ...target, RECONCILE_SUBSCRIPTION_ID: 'not-a-guid' }),
    ).toThrow(/invalid setting RECONCILE_SUBSCRIPTION_ID: must be a subscription id/);
  });

  it('take a static ARM token only with a loopback endpoint', () => {
    expect(() => loadSettings({ ...base, ...target, RECONCILE_ARM_TOKEN: 'static-token' })).toThrow(
      /invalid setting RECONCILE_ARM_TOKEN: only for a loopback/,
    );
    expect(() =>
      loadSettings({
        ...base,
        ...target,
        RECONCILE_ARM_ENDPOINT: 'https://management.example.net',
        RECONCILE_ARM_TOKEN: 'static-token',
      }),
    ).toThrow(/RECONCILE_ARM_TOKEN/);
    expect(() =>
      loadSettings({ ...base, ...target, RECONCILE_ARM_ENDPOINT: 'http://127.0.0.1:1' }),
    ).toThrow(/invalid setting RECONCILE_ARM_ENDPOINT: http:\/\/ is only for a loopback fake/);
  });
});
