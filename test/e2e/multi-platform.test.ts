// The walk-through of docs/multi-platform.md, end to end: `npm start`'s entry point as a child process
// trusting the test's certificate through NODE_EXTRA_CA_CERTS, real registries, HTTP and the CLI.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appRoot } from '../support/app-host';
import { aPushEvent } from '../support/fixtures';
import { runCli } from '../support/run-cli';
import {
  buildIndex,
  OCI_INDEX,
  pushIndex,
  registryAvailable,
  startRegistries,
  type BuiltIndex,
  type RegistryFleet,
} from '../support/registries';

const available = registryAvailable();
const REGIONS = ['westus', 'eastus', 'canadacentral', 'westeurope'];
const REGISTRY = 'contoso.azurecr.io';
const WEBHOOK_TOKEN = 'e2e-multi-webhook-token-0123';
const ADMIN_TOKEN = 'e2e-multi-admin-token-0123456';
const READ_TOKEN = 'e2e-multi-read-token-01234567';

interface Spawned {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/** `npm start` as a user runs it; NODE_EXTRA_CA_CERTS is read at process start, so it is set here. */
async function spawnApp(env: Record<string, string>): Promise<Spawned> {
  const child = spawn(process.execPath, [path.join(appRoot, 'dist-dev/start.js')], {
    cwd: appRoot,
    env: {
      PATH: process.env.PATH,
      ACR_GATE_LOCAL_HOST: '1',
      PORT: '0',
      EMBEDDED_COSMOS_PORT: '0',
      REPLICATION_REGIONS: REGIONS.join(','),
      WEBHOOK_TOKENS: WEBHOOK_TOKEN,
      ADMIN_TOKENS: ADMIN_TOKEN,
      READ_TOKENS: READ_TOKEN,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    });
    child.on('exit', () => reject(new Error(`exited early:\n${output}`)));
  });
  return { child, url, output: () => output };
}

async function stopApp(app: Spawned | undefined): Promise<void> {
  if (!app || app.child.exitCode !== null) return;
  const exited = new Promise((resolve) => app.child.once('exit', resolve));
  app.child.kill('SIGTERM');
  await exited;
}

describe.skipIf(!available)('a multi-platform push through the running app', () => {
  let fleet: RegistryFleet;
  let app: Spawned;
  beforeAll(async () => {
    fleet = await startRegistries(['home', ...REGIONS]);
    app = await spawnApp({
      NODE_EXTRA_CA_CERTS: fleet.certificate.certFile,
      REGISTRY_AUTH: 'anonymous',
      REGISTRY_ENDPOINTS: `${REGISTRY}=${fleet.url('home')}`,
      REGIONAL_ENDPOINTS: REGIONS.map((r) => `${r}=${fleet.url(r)}`).join(','),
    });
  }, 60_000);
  afterAll(async () => {
    await stopApp(app);
    await fleet?.stop();
  });

  let second = 0;
  const hook = (region: string, digest: string, options: { tag?: string; mediaType?: string }) => {
    const body = aPushEvent({
      repository: 'multi/app',
      digest,
      tag: options.tag,
      timestamp: `2026-03-14T10:00:${String(second++ % 60).padStart(2, '0')}Z`,
    });
    if (options.mediaType) (body.target as Record<string, unknown>).mediaType = options.mediaType;
    return fetch(`${app.url}/api/webhooks/acr/${region}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WEBHOOK_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  };
  const status = async (tag: string) =>
    (await (
      await fetch(`${app.url}/api/replications/${REGISTRY}/multi/app:${tag}`, {
        headers: { authorization: `Bearer ${READ_TOKEN}` },
      })
    ).json()) as {
      status: string;
      regions: { region: string; status: string; missing?: string[] }[];
    };
  const cli = (...args: string[]) =>
    runCli(args, { ACR_GATE_URL: `${app.url}/api`, ACR_GATE_TOKEN: READ_TOKEN });

  const pushEverywhere = async (image: BuiltIndex, tag: string, regions: string[]) => {
    await pushIndex(fleet.certificate.ca, fleet.url('home'), 'multi/app', tag, image);
    for (const r of regions) {
      await pushIndex(fleet.certificate.ca, fleet.url(r), 'multi/app', tag, image);
    }
  };

  it('is not replicated while three regions lack the platforms, then is; verify confirms each region', async () => {
    const image = buildIndex();
    await pushEverywhere(image, 'v1', ['westus']);
    for (const region of REGIONS) {
      const answer = await hook(region, image.index.digest, { tag: 'v1', mediaType: OCI_INDEX });
      expect(answer.status).toBe(202);
    }
    for (const child of image.platforms) {
      expect((await hook('westus', child.digest, {})).status).toBe(202);
    }
    const open = await status('v1');
    expect(open.status).toBe('replicating');
    expect(open.regions.filter((r) => r.missing?.length === 2).map((r) => r.region)).toEqual([
      'canadacentral',
      'eastus',
      'westeurope',
    ]);

    const table = await cli('status', `${REGISTRY}/multi/app:v1`);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/MISSING/);
    expect(table.stdout).toMatch(/eastus\s+pending/);

    // Only westus's endpoint holds the image: verify says so, region by region.
    const partial = await cli('verify', `${REGISTRY}/multi/app:v1`);
    expect(partial.code).toBe(6);
    expect(partial.stdout).toMatch(/westus\s+confirmed/);
    expect(partial.stdout).toMatch(/eastus\s+missing/);

    for (const region of REGIONS.slice(1)) {
      await pushIndex(fleet.certificate.ca, fleet.url(region), 'multi/app', 'v1', image);
      for (const child of image.platforms) await hook(region, child.digest, {});
    }
    expect((await status('v1')).status).toBe('replicated');
    const all = await cli('verify', `${REGISTRY}/multi/app:v1`);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain('CONFIRMED IN EVERY REGION');
  });
});
