// The acr-gate CLI end to end: the real binary against the local host and the embedded Cosmos DB.
import { beforeAll, describe, expect, it } from 'vitest';
import { aDigest, aPushEvent } from '../support/fixtures';
import { ADMIN_TOKEN, READ_TOKEN, REGIONS, useApp, WEBHOOK_TOKEN } from '../support/app-host';
import { runCli } from '../support/run-cli';
import { startFakeArm } from '../support/fake-arm';

const app = useApp();
let env: Record<string, string>;
beforeAll(() => {
  env = { ACR_GATE_URL: `${app.url}/api`, ACR_GATE_TOKEN: READ_TOKEN };
});

const IMAGE = 'contoso.azurecr.io/team/app/api';
const hook = (region: string, body: unknown) => app.post(`/api/webhooks/acr/${region}`, body);
const pushEverywhere = async (tag: string, digest: string, regions = REGIONS) => {
  for (const [i, region] of regions.entries()) {
    await hook(
      region,
      aPushEvent({ repository: 'team/app/api', tag, digest, timestamp: `2026-03-14T09:00:0${i}Z` }),
    );
  }
};

describe('acr-gate wait', () => {
  it('exits 0 once the last regional webhook arrives', async () => {
    const digest = aDigest();
    const waiting = runCli(['wait', `${IMAGE}:1.0`, '--timeout', '30s'], env);
    await new Promise((resolve) => setTimeout(resolve, 700));
    await pushEverywhere('1.0', digest);
    const result = await waiting;
    expect(result.stderr).toContain('is in all 4 regions');
    expect(result.code).toBe(0);
  });

  it('prints the status body with --json', async () => {
    const digest = aDigest();
    await pushEverywhere('json', digest);
    const result = await runCli(['wait', `${IMAGE}:json`, '--timeout', '5s', '--json'], env);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'replicated', digest, tag: 'json' });
  });

  it('exits 2 on timeout, naming the regions still missing', async () => {
    await pushEverywhere('partial', aDigest(), ['westus', 'eastus']);
    const result = await runCli(['wait', `${IMAGE}:partial`, '--timeout', '2s'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /timed out after 2\.0s: .*2\/4 regions, waiting for canadacentral, westeurope/,
    );
  });

  it('exits 3 when the tag moved past the digest it waits for', async () => {
    const [old, next] = [aDigest(), aDigest()];
    await hook(
      'westus',
      aPushEvent({
        repository: 'team/app/api',
        tag: 'moving',
        digest: old,
        timestamp: '2026-03-14T09:00:00Z',
      }),
    );
    await hook(
      'westus',
      aPushEvent({
        repository: 'team/app/api',
        tag: 'moving',
        digest: next,
        timestamp: '2026-03-14T09:01:00Z',
      }),
    );
    const result = await runCli(
      ['wait', `${IMAGE}:moving`, '--digest', old, '--timeout', '30s'],
      env,
    );
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(next);
  });

  it('exits 4 when nothing arrives, 77 with a bad token and 64 on bad usage', async () => {
    expect((await runCli(['wait', `${IMAGE}:ghost`, '--timeout', '1s'], env)).code).toBe(4);
    expect(
      (await runCli(['wait', `${IMAGE}:x`], { ...env, ACR_GATE_TOKEN: 'wrong-token-0123456789' }))
        .code,
    ).toBe(77);
    // A webhook token delivers arrivals only: it cannot read, so it cannot gate.
    const asWebhook = await runCli(['wait', `${IMAGE}:x`], {
      ...env,
      ACR_GATE_TOKEN: WEBHOOK_TOKEN,
    });
    expect(asWebhook.code).toBe(77);
    expect(asWebhook.stderr).toContain('webhook tokens only deliver arrivals');
    const usage = await runCli(['wait', 'not-a-reference'], env);
    expect(usage.code).toBe(64);
    expect(usage.stderr).toContain('invalid image reference');
  });
});

describe('acr-gate status', () => {
  it('prints a table of regions with arrival times and lag', async () => {
    const digest = aDigest();
    await pushEverywhere('table', digest);
    const result = await runCli(['status', `${IMAGE}:table`], env);
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe(`${IMAGE}:table  REPLICATED`);
    expect(result.stdout).toContain(`digest      ${digest}`);
    expect(result.stdout).toContain('(3.0s after the push)');
    expect(lines).toContainEqual(
      expect.stringMatching(/^REGION\s+STATUS\s+DIGEST\s+ARRIVED\s+LAG$/),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^westeurope\s+arrived\s+sha256:[0-9a-f]{12}…\s+2026-03-14T09:00:03\.000000000Z\s+\+3\.0s$/,
      ),
    );
  });
});

describe('acr-gate simulate', () => {
  it('posts one push per region and the tag becomes replicated', async () => {
    const result = await runCli(
      [
        'simulate',
        '--registry',
        'contoso.azurecr.io',
        '--repository',
        'demo/app',
        '--tag',
        'sim',
        '--regions',
        REGIONS.join(','),
        '--delay',
        '50ms',
        '--duplicate',
      ],
      { ...env, ACR_GATE_WEBHOOK_TOKEN: WEBHOOK_TOKEN },
    );
    expect(result.code).toBe(0);
    expect(result.stderr.match(/ 202/g)).toHaveLength(8);
    const status = await app.call('/api/replications/contoso.azurecr.io/demo/app:sim');
    expect(await status.json()).toMatchObject({ status: 'replicated' });
  });
});

describe('acr-gate webhooks plan', () => {
  it('prints one az acr webhook create per region, without the token', async () => {
    const result = await runCli(
      [
        'webhooks',
        'plan',
        '--registry',
        'contoso.azurecr.io',
        '--url',
        'https://gate.azurewebsites.net/api',
        '--regions',
        'westus,EastUS',
      ],
      { ACR_GATE_WEBHOOK_TOKEN: WEBHOOK_TOKEN, ACR_GATE_TOKEN: ADMIN_TOKEN },
    );
    expect(result.code).toBe(0);
    const commands = result.stdout.split('\n').filter((line) => line.startsWith('az '));
    expect(commands).toHaveLength(2);
    expect(commands[0]).toContain('--location eastus');
    expect(commands[0]).toContain('--uri https://gate.azurewebsites.net/api/webhooks/acr/eastus');
    expect(commands[1]).toContain('--location westus');
    expect(result.stdout).not.toContain(WEBHOOK_TOKEN);
    // No scope: every event, pushes by digest included; nothing to warn about.
    expect(result.stderr).toBe('');
  });

  it('warns that a scope may not cover pushes by digest (the children of a multi-platform image)', async () => {
    const result = await runCli([
      'webhooks',
      'plan',
      '--registry',
      'contoso.azurecr.io',
      '--url',
      'https://gate.azurewebsites.net/api',
      '--regions',
      'westus',
      '--scope',
      'web:*',
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^warning: --scope 'web:\*' may not cover pushes by digest/);
    expect(result.stdout).toContain("--scope 'web:*'");
  });
});

describe('acr-gate webhooks apply', () => {
  it('creates one webhook per replica through ARM, sets the required regions, and changes nothing the second time', async () => {
    const arm = await startFakeArm({
      subscriptionId: '00000000-0000-0000-0000-000000000001',
      resourceGroup: 'rg-registry',
      registryName: 'northwind',
      replicas: [{ location: 'westus' }, { location: 'eastus' }, { location: 'japaneast' }],
      token: 'arm-access-token',
    });
    try {
      const args = [
        'webhooks',
        'apply',
        '--registry',
        'northwind.azurecr.io',
        '--url',
        `${app.url}/api`,
        '--subscription',
        '00000000-0000-0000-0000-000000000001',
        '--resource-group',
        'rg-registry',
        '--arm-endpoint',
        arm.endpoint,
        '--set-regions',
      ];
      const cliEnv = {
        ...env,
        ACR_GATE_TOKEN: ADMIN_TOKEN,
        ACR_GATE_ARM_TOKEN: 'arm-access-token',
        ACR_GATE_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
      };
      const first = await runCli(args, cliEnv);
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      expect(first.stdout).toContain('created    acrgateeastus, acrgatejapaneast, acrgatewestus');
      expect(
        [...arm.webhooks.values()].map((w) => [
          w.name,
          w.location,
          w.serviceUri,
          w.actions.sort(),
          w.customHeaders,
        ]),
      ).toEqual(
        ['eastus', 'japaneast', 'westus'].map((region) => [
          `acrgate${region}`,
          region,
          `${app.url}/api/webhooks/acr/${region}`,
          ['delete', 'push'],
          { Authorization: `Bearer ${WEBHOOK_TOKEN}` },
        ]),
      );
      const regions = await app.call('/api/registries/northwind.azurecr.io', {
        token: ADMIN_TOKEN,
      });
      expect(await regions.json()).toMatchObject({
        regions: ['eastus', 'japaneast', 'westus'],
        source: 'registry',
      });

      const writesBefore = arm.writes().length;
      const second = await runCli(args, cliEnv);
      expect(second.code).toBe(0);
      expect(second.stdout).toContain('unchanged  acrgateeastus, acrgatejapaneast, acrgatewestus');
      expect(arm.writes()).toHaveLength(writesBefore);
    } finally {
      await arm.close();
    }
  });
});
