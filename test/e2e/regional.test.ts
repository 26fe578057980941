// Regional rollouts end to end: a status scoped to some regions, the CLI's --regions, and one acrgate.tag.arrived per region.
import { afterEach, describe, expect, it } from 'vitest';
import { aDigest, aPushEvent } from '../support/fixtures';
import { REGIONS, removeSubscriptions, useApp, READ_TOKEN } from '../support/app-host';
import { startReceiver, type Receiver } from '../support/receiver';
import { runCli } from '../support/run-cli';

const REGISTRY = 'contoso.azurecr.io';
const app = useApp();
const receivers: Receiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
  await removeSubscriptions(app);
});

async function push(repository: string, tag: string, digest: string, region: string, i = 0) {
  const response = await app.post(
    `/api/webhooks/acr/${region}`,
    aPushEvent({ repository, tag, digest, timestamp: `2026-03-14T09:00:0${i}.5Z` }),
  );
  expect(response.status).toBe(202);
}

interface Status {
  status: string;
  scope?: string[];
  requiredRegions: string[];
  missingRegions: string[];
}
const status = async (path: string) => {
  const response = await app.call(`/api/replications/${REGISTRY}/${path}`);
  return {
    code: response.status,
    wait: response.headers.get('x-acr-gate-wait'),
    body: (await response.json()) as Status & Record<string, unknown>,
  };
};

describe('GET /api/replications/{registry}/{reference}?regions=', () => {
  it('computes the status over the scope only, and echoes it', async () => {
    const digest = aDigest();
    await push('team/regional', '1.0', digest, 'westus');
    await push('team/regional', '1.0', digest, 'eastus', 1);

    const scoped = await status('team/regional:1.0?regions=eastus,westus');
    expect(scoped.code).toBe(200);
    expect(scoped.body).toMatchObject({
      status: 'replicated',
      scope: ['eastus', 'westus'],
      requiredRegions: ['eastus', 'westus'],
      missingRegions: [],
    });
    const other = await status('team/regional:1.0?regions=westeurope');
    expect(other.body).toMatchObject({ status: 'replicating', missingRegions: ['westeurope'] });
    // Without a scope: every region, as before, and no scope field.
    const all = await status('team/regional:1.0');
    expect(all.body.status).toBe('replicating');
    expect(all.body).not.toHaveProperty('scope');
    expect(all.body.requiredRegions).toEqual([...REGIONS].sort());
    // By digest, too.
    expect((await status(`team/regional@${digest}?regions=westus`)).body.status).toBe('replicated');
  });

  it('settles a long-poll when the scope is reached, whatever the other regions do', async () => {
    const digest = aDigest();
    await push('team/regional', '2.0', digest, 'westus');
    const waiting = status(`team/regional:2.0?regions=eastus&wait=30&digest=${digest}`);
    await push('team/regional', '2.0', digest, 'eastus', 1);
    const answer = await waiting;
    expect(answer.wait).toBe('settled');
    expect(answer.body).toMatchObject({ status: 'replicated', scope: ['eastus'] });
  });

  it('refuses regions the registry does not have, naming them, and malformed lists', async () => {
    const digest = aDigest();
    await push('team/regional', '3.0', digest, 'westus');
    const unknown = await app.call(
      `/api/replications/${REGISTRY}/team/regional:3.0?regions=westus,japaneast,mars`,
    );
    expect(unknown.status).toBe(400);
    const problem = (await unknown.json()) as {
      detail: string;
      errors: { field: string }[];
      unknownRegions: string[];
    };
    expect(problem.errors[0]?.field).toBe('query.regions');
    expect(problem.unknownRegions).toEqual(['japaneast', 'mars']);
    expect(problem.detail).toContain(
      'japaneast, mars are not among the regions of contoso.azurecr.io',
    );
    for (const bad of ['', 'East%20US', 'westus,,eastus']) {
      const response = await app.call(
        `/api/replications/${REGISTRY}/team/regional:3.0?regions=${bad}`,
      );
      expect(response.status, bad).toBe(400);
    }
  });
});

describe('acr-gate wait|status --regions', () => {
  it('exits 0 when the image is in the named region, while the others are still missing', async () => {
    const env = { ACR_GATE_URL: `${app.url}/api`, ACR_GATE_TOKEN: READ_TOKEN };
    const digest = aDigest();
    await push('team/cli-regional', '1.0', digest, 'westeurope');
    const image = `${REGISTRY}/team/cli-regional:1.0`;
    const waited = await runCli(
      ['wait', image, '--regions', 'westeurope', '--timeout', '10s'],
      env,
    );
    expect(waited.code).toBe(0);
    expect(waited.stderr).toContain('is in westeurope');
    // The same image is not in every region: without --regions it times out (exit 2).
    expect((await runCli(['wait', image, '--timeout', '1s'], env)).code).toBe(2);
    const shown = await runCli(['status', image, '--regions', 'westeurope,eastus', '--json'], env);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      status: 'replicating',
      missingRegions: ['eastus'],
    });
    const refused = await runCli(['status', image, '--regions', 'mars'], env);
    expect(refused.code).toBe(64);
    expect(refused.stderr).toContain('mars');
  });
});

describe('acrgate.tag.arrived', () => {
  async function subscribe(body: Record<string, unknown>): Promise<Receiver> {
    const r = await startReceiver();
    receivers.push(r);
    const response = await app.admin('/api/subscriptions', {
      method: 'POST',
      body: JSON.stringify({ url: r.url, ...body }),
    });
    expect(response.status).toBe(201);
    return r;
  }
  const eventsOf = (r: Receiver) =>
    r.received.map(
      (x) => JSON.parse(x.body) as { id: string; type: string; data: Record<string, unknown> },
    );

  async function deliverUntil(done: () => boolean) {
    for (let i = 0; i < 50 && !done(); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      await app.host.runTimer('deliverEvents');
    }
  }

  it('is stored once per (tag, digest, region) and sent only to subscriptions that ask for it', async () => {
    const everything = await subscribe({ filter: { repository: 'team/arrivals' } });
    const perRegion = await subscribe({ types: ['acrgate.tag.arrived'] });
    const east = await subscribe({
      types: ['acrgate.tag.arrived', 'acrgate.tag.replicated'],
      filter: { regions: ['eastus'] },
    });
    const digest = aDigest();
    for (const [i, region] of REGIONS.entries()) {
      await push('team/arrivals', '1.0', digest, region, i);
      // A duplicate webhook of every region, and a concurrent one.
      await Promise.all([
        push('team/arrivals', '1.0', digest, region, i),
        push('team/arrivals', '1.0', digest, region, i),
      ]);
    }

    const stored = (await app.storedEventsFor('team/arrivals:1.0', null)) as {
      event: {
        id: string;
        type: string;
        data: { region?: string; lagMs?: number; missingRegions?: string[] };
      };
    }[];
    const arrived = stored.filter((s) => s.event.type === 'acrgate.tag.arrived');
    expect(arrived.map((s) => s.event.data.region).sort()).toEqual([...REGIONS].sort());
    expect(new Set(arrived.map((s) => s.event.id)).size).toBe(REGIONS.length);
    expect(stored.filter((s) => s.event.type === 'acrgate.tag.replicated')).toHaveLength(1);
    // Lag after the push, and what was still missing when each region reported.
    const byRegion = new Map(arrived.map((s) => [s.event.data.region, s.event.data]));
    expect(byRegion.get(REGIONS[0])).toMatchObject({
      lagMs: 0,
      missingRegions: REGIONS.slice(1).sort(),
    });
    expect(byRegion.get(REGIONS[3])).toMatchObject({ lagMs: 3000, missingRegions: [] });

    await deliverUntil(
      () =>
        everything.received.length >= 1 &&
        perRegion.received.length >= 4 &&
        east.received.length >= 2,
    );
    await app.host.runTimer('deliverEvents');
    // An existing-style subscription (no types) still gets only the replicated event.
    expect(eventsOf(everything).map((e) => e.type)).toEqual(['acrgate.tag.replicated']);
    expect(
      eventsOf(perRegion)
        .map((e) => e.data.region)
        .sort(),
    ).toEqual([...REGIONS].sort());
    expect(
      eventsOf(east)
        .map((e) => [e.type, e.data.region])
        .sort(),
    ).toEqual([
      ['acrgate.tag.arrived', 'eastus'],
      ['acrgate.tag.replicated', undefined],
    ]);
  });

  it('refuses a regions filter that is not a list of region names', async () => {
    const response = await app.admin('/api/subscriptions', {
      method: 'POST',
      body: JSON.stringify({ url: 'https://example.net/x', filter: { regions: ['East US'] } }),
    });
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { errors: { field: string }[] };
    expect(problem.errors[0]?.field).toMatch(/^filter\.regions/);
  });
});
