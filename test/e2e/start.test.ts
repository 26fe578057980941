// `npm start`'s entry point refuses invalid settings with one message naming the setting.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appRoot } from '../support/app-host';

const start = (env: Record<string, string>) =>
  spawnSync(process.execPath, [path.join(appRoot, 'dist-dev/start.js')], {
    cwd: appRoot,
    encoding: 'utf8',
    timeout: 20_000,
    env: {
      PATH: process.env.PATH,
      ACR_GATE_LOCAL_HOST: '1',
      COSMOS_ENDPOINT: 'http://127.0.0.1:9/',
      COSMOS_KEY: 'unused',
      PORT: '0',
      WEBHOOK_TOKENS: 'a-webhook-token-long-enough',
      ADMIN_TOKENS: 'an-admin-token-long-enough',
      REPLICATION_REGIONS: 'westus,eastus',
      ...env,
    },
  });

describe('start-up with invalid settings', () => {
  it.each([
    [
      { REPLICATION_REGIONS: '' },
      /invalid setting REPLICATION_REGIONS: must name at least one region/,
    ],
    [{ REPLICATION_REGIONS: 'westus,west us' }, /invalid setting REPLICATION_REGIONS/],
    [{ WEBHOOK_TOKENS: 'short' }, /invalid setting WEBHOOK_TOKENS: each token must be at least 16/],
    [{ COSMOS_ENDPOINT: 'not a url' }, /invalid setting COSMOS_ENDPOINT/],
    [
      { ADMIN_TOKENS: 'a-webhook-token-long-enough' },
      /invalid setting ADMIN_TOKENS: must not reuse/,
    ],
    [
      { AZURE_PIPELINES_HOSTS: 'https://dev.azure.com/' },
      /invalid setting AZURE_PIPELINES_HOSTS: must be host names/,
    ],
    [
      { GITHUB_APP_ID: '12345', GITHUB_WEBHOOK_SECRET: 'a-webhook-token-long-enough' },
      /invalid setting GITHUB_APP_PRIVATE_KEY: set GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY and GITHUB_WEBHOOK_SECRET together/,
    ],
    [
      {
        GITHUB_APP_ID: '12345',
        GITHUB_APP_PRIVATE_KEY:
          '-----BEGIN RSA PRIVATE KEY-----\\nMIIabc\\n-----END RSA PRIVATE KEY-----',
        GITHUB_WEBHOOK_SECRET: 'a-webhook-token-long-enough',
        GITHUB_API_URL: 'http://api.github.com',
      },
      /invalid setting GITHUB_API_URL: http:\/\/ is only for a loopback/,
    ],
    [{ READ_TOKENS: 'short' }, /invalid setting READ_TOKENS: each token must be at least 16/],
    [
      { READ_TOKENS: 'a-read-token-long-enough,a-webhook-token-long-enough' },
      /invalid setting READ_TOKENS: must not reuse a WEBHOOK_TOKENS token \(each token has one role\)/,
    ],
    [
      { READ_TOKENS: 'an-admin-token-long-enough' },
      /invalid setting ADMIN_TOKENS: must not reuse a READ_TOKENS token/,
    ],
  ])('stops with one line naming the setting (%j)', (env, message) => {
    const result = start(env);
    expect(result.status).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(lines[0]).toMatch(/^acr-replication-gate: /);
    expect(result.stderr).not.toContain('a-webhook-token-long-enough');
    expect(result.stderr).not.toContain('an-admin-token-long-enough');
  });
});

describe('npm start on the embedded default', () => {
  it('serves the API with an embedded Cosmos DB, and stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [path.join(appRoot, 'dist-dev/start.js')], {
      cwd: appRoot,
      env: {
        PATH: process.env.PATH,
        ACR_GATE_LOCAL_HOST: '1',
        PORT: '0',
        EMBEDDED_COSMOS_PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed:\n${output}`)), 20_000);
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.on('exit', () => reject(new Error(`exited early:\n${output}`)));
    });
    try {
      const health = await fetch(`${url}/api/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ store: { status: 'reachable' } });
      expect(output).toContain('embedded in-memory Cosmos DB');
      // The committed example's read token reads; its webhook token only delivers arrivals.
      const read = (token: string) =>
        fetch(`${url}/api/replications/contoso.azurecr.io/web:never`, {
          headers: { authorization: `Bearer ${token}` },
        });
      expect((await read('local-read-token-change-me-three')).status).toBe(404);
      expect((await read('local-webhook-token-change-me')).status).toBe(403);
    } finally {
      const exited = new Promise<number | null>((resolve) =>
        child.on('exit', (code) => resolve(code)),
      );
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
