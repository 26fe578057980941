// Webhook registration through the real ARM SDK client, against a loopback fake of ARM.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  applyWebhooks,
  discoverRegions,
  type SkippedReplica,
} from '../../src/registration/apply-webhooks';
import { createArmClient, type ArmTarget } from '../../src/registration/arm-client';
import type { WebhookTarget } from '../../src/registration/plan-webhooks';
import { startFakeArm, type FakeArm, type StoredWebhook } from '../support/fake-arm';

const SUBSCRIPTION = '6b1f3c2e-0d4a-4c8e-9f7a-2b5d8e1c0a93';
const TARGET: ArmTarget = {
  subscriptionId: SUBSCRIPTION,
  resourceGroup: 'rg-release',
  registryName: 'contoso',
};
const ARM_TOKEN = 'fake-arm-access-token';
const HOOK_TOKEN = 'webhook-token-0123456789abcdef';
const ROTATED_TOKEN = 'webhook-token-rotated-fedcba9876543210';
const API = 'https://gate.example.net/api/';
const REGISTRY_PATH =
  `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-release` +
  '/providers/Microsoft.ContainerRegistry/registries/contoso';

describe('createArmClient', () => {
  it('sends a token over http only to a loopback endpoint', () => {
    expect(() =>
      createArmClient({
        subscriptionId: SUBSCRIPTION,
        endpoint: 'http://arm.example',
        accessToken: 'x',
      }),
    ).toThrow(/loopback/);
    expect(() =>
      createArmClient({ subscriptionId: SUBSCRIPTION, endpoint: 'http://127.0.0.1:1' }),
    ).toThrow(/loopback/);
  });
});

describe('applyWebhooks against ARM', () => {
  let fake: FakeArm;
  const client = () =>
    createArmClient({
      subscriptionId: SUBSCRIPTION,
      endpoint: fake.endpoint,
      accessToken: ARM_TOKEN,
    });
  const hook = (name: string): StoredWebhook => {
    const stored = fake.webhooks.get(name);
    if (stored === undefined) throw new Error(`no webhook ${name}`);
    return stored;
  };
  const webhook: WebhookTarget = { apiUrl: API, token: HOOK_TOKEN };
  const ALL = ['acrgatecanadacentral', 'acrgateeastus', 'acrgatewesteurope', 'acrgatewestus'];

  // A fresh ARM per test: each arranges the webhooks it starts from (see `applied`).
  beforeEach(async () => {
    fake = await startFakeArm({
      ...TARGET,
      token: ARM_TOKEN,
      replicas: [
        { location: 'westus' }, // home region: ARM lists it as a replication too
        { location: 'eastus' },
        { location: 'westeurope', regionEndpointEnabled: false },
        { location: 'canadacentral' },
        { location: 'northeurope', provisioningState: 'Creating' },
      ],
    });
  });
  afterEach(async () => {
    await fake.close();
  });
  /** The registry after a first apply with `token`; the requests it made are forgotten. */
  const applied = async (token = HOOK_TOKEN) => {
    await applyWebhooks(client(), TARGET, { ...webhook, token });
    fake.requests.length = 0;
  };

  it('discovers the provisioned replicas, home region and disabled endpoints included', async () => {
    const skipped: SkippedReplica[] = [];
    const regions = await discoverRegions(client(), TARGET, (s) => skipped.push(s));
    expect(regions).toEqual(['canadacentral', 'eastus', 'westeurope', 'westus']);
    expect(skipped).toEqual([{ location: 'northeurope', provisioningState: 'Creating' }]);
  });

  it('creates one webhook per replica', async () => {
    const result = await applyWebhooks(client(), TARGET, webhook);
    expect(result).toEqual({
      regions: ['canadacentral', 'eastus', 'westeurope', 'westus'],
      created: ALL,
      updated: [],
      unchanged: [],
      skipped: [{ location: 'northeurope', provisioningState: 'Creating' }],
    });
    for (const region of result.regions) {
      expect(hook(`acrgate${region}`)).toEqual({
        name: `acrgate${region}`,
        location: region,
        status: 'enabled',
        actions: ['push', 'delete'],
        serviceUri: `https://gate.example.net/api/webhooks/acr/${region}`,
        customHeaders: { Authorization: `Bearer ${HOOK_TOKEN}` },
      });
    }
    expect(fake.writes()).toContainEqual({
      method: 'PUT',
      path: `${REGISTRY_PATH}/webhooks/acrgatewesteurope`,
      apiVersion: '2025-11-01',
      body: {
        location: 'westeurope',
        properties: {
          serviceUri: 'https://gate.example.net/api/webhooks/acr/westeurope',
          customHeaders: { Authorization: `Bearer ${HOOK_TOKEN}` },
          status: 'enabled',
          actions: ['push', 'delete'],
        },
      },
    });
  });

  it('changes nothing on a second run', async () => {
    await applied();
    const result = await applyWebhooks(client(), TARGET, webhook);
    expect(result).toMatchObject({ created: [], updated: [], unchanged: ALL });
    expect(fake.writes()).toEqual([]);
  });

  it('updates every webhook when the token changes', async () => {
    await applied();
    const result = await applyWebhooks(client(), TARGET, { ...webhook, token: ROTATED_TOKEN });
    expect(result).toMatchObject({ created: [], updated: ALL, unchanged: [] });
    expect(fake.writes().map((r) => r.method)).toEqual(['PATCH', 'PATCH', 'PATCH', 'PATCH']);
    for (const name of ALL) {
      expect(hook(name).customHeaders).toEqual({ Authorization: `Bearer ${ROTATED_TOKEN}` });
    }
  });

  it('creates the webhook of a replica that became ready later', async () => {
    await applied(ROTATED_TOKEN);
    const northeurope = fake.replicas.find((r) => r.location === 'northeurope');
    if (northeurope === undefined) throw new Error('fixture changed');
    northeurope.provisioningState = 'Succeeded';
    const result = await applyWebhooks(client(), TARGET, { ...webhook, token: ROTATED_TOKEN });
    expect(result).toMatchObject({ created: ['acrgatenortheurope'], updated: [], skipped: [] });
    expect(result.unchanged).toEqual(ALL);
    expect(hook('acrgatenortheurope').location).toBe('northeurope');
  });

  it('recreates a webhook that is in the wrong location', async () => {
    await applied(ROTATED_TOKEN);
    hook('acrgateeastus').location = 'westus';
    const result = await applyWebhooks(client(), TARGET, { ...webhook, token: ROTATED_TOKEN });
    expect(result.updated).toEqual(['acrgateeastus']);
    expect(fake.writes().map((r) => `${r.method} ${r.path.split('/').pop()}`)).toEqual([
      'DELETE acrgateeastus',
      'PUT acrgateeastus',
    ]);
    expect(hook('acrgateeastus')).toMatchObject({
      location: 'eastus',
      serviceUri: 'https://gate.example.net/api/webhooks/acr/eastus',
    });
  });

  it('repairs drift, keeps foreign headers and leaves other webhooks alone', async () => {
    await applied(ROTATED_TOKEN);
    const drifted = hook('acrgatewestus');
    drifted.status = 'disabled';
    drifted.actions = ['push'];
    drifted.customHeaders = { ...drifted.customHeaders, 'X-Team': 'release' };
    const foreign: StoredWebhook = {
      name: 'ciwebhook',
      location: 'westus',
      status: 'enabled',
      actions: ['push'],
      serviceUri: 'https://ci.example.net/hook',
      customHeaders: {},
    };
    fake.webhooks.set('ciwebhook', { ...foreign });

    const result = await applyWebhooks(client(), TARGET, { ...webhook, token: ROTATED_TOKEN });
    expect(result.updated).toEqual(['acrgatewestus']);
    expect(hook('acrgatewestus')).toMatchObject({
      status: 'enabled',
      actions: ['push', 'delete'],
      customHeaders: { 'X-Team': 'release', Authorization: `Bearer ${ROTATED_TOKEN}` },
    });
    expect(hook('ciwebhook')).toEqual(foreign);
    expect(fake.writes().map((r) => r.method)).toEqual(['PATCH']);
  });

  it('applies a scope, then treats it as settled', async () => {
    await applied(ROTATED_TOKEN);
    const scoped = { ...webhook, token: ROTATED_TOKEN, scope: 'web/frontend:*' };
    const first = await applyWebhooks(client(), TARGET, scoped, ['westus', 'eastus']);
    expect(first).toEqual({
      regions: ['eastus', 'westus'],
      created: [],
      updated: ['acrgateeastus', 'acrgatewestus'],
      unchanged: [],
      skipped: [],
    });
    expect(hook('acrgatewestus').scope).toBe('web/frontend:*');
    // Regions given explicitly: the replications are not read.
    expect(fake.requests.some((r) => r.path.endsWith('/replications'))).toBe(false);

    fake.requests.length = 0;
    const second = await applyWebhooks(client(), TARGET, scoped, ['westus', 'eastus']);
    expect(second.unchanged).toEqual(['acrgateeastus', 'acrgatewestus']);
    expect(fake.writes()).toEqual([]);
  });

  it('refuses to apply without a token, before sending anything', async () => {
    await expect(applyWebhooks(client(), TARGET, { ...webhook, token: '' })).rejects.toThrow(
      /token must be/,
    );
    expect(fake.requests).toEqual([]);
  });

  it('surfaces ARM errors: a rejected token is a 401, an unknown webhook a 404', async () => {
    const stranger = createArmClient({
      subscriptionId: SUBSCRIPTION,
      endpoint: fake.endpoint,
      accessToken: 'not-the-arm-token',
    });
    await expect(discoverRegions(stranger, TARGET)).rejects.toMatchObject({ statusCode: 401 });
    await expect(
      client().webhooks.getCallbackConfig(TARGET.resourceGroup, TARGET.registryName, 'nosuchhook'),
    ).rejects.toMatchObject({ statusCode: 404, code: 'ResourceNotFound' });
  });
});
