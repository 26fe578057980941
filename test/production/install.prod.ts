// `npm run test:production` (CI): a production install (`npm ci --omit=dev`) of the build output still
// loads and registers every function: nothing the app imports at run time may be a devDependency.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import Module from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFunctionApp, type LocalHost } from '../../dev/local-host';

// Not from test/support/app-host: that imports the embedded Cosmos DB, a devDependency.
const appRoot = path.resolve(__dirname, '../..');
let installed: string;
let host: LocalHost | undefined;

function run(command: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // Not the env of the `npm test` around us: its npm_config_* would leak into this install.
    const env = { PATH: process.env.PATH, HOME: process.env.HOME };
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} exited ${code}: ${stderr}`)),
    );
  });
}

beforeAll(async () => {
  installed = fs.mkdtempSync(path.join(os.tmpdir(), 'acr-gate-production-'));
  for (const file of ['package.json', 'package-lock.json', 'host.json']) {
    fs.copyFileSync(path.join(appRoot, file), path.join(installed, file));
  }
  for (const dir of ['functions', 'src']) {
    fs.cpSync(path.join(appRoot, 'dist', dir), path.join(installed, 'dist', dir), {
      recursive: true,
    });
  }
  // Optional dependencies (Core Tools, Azurite) are local tools too; scripts would download them.
  const flags = ['--omit=dev', '--omit=optional', '--ignore-scripts', '--prefer-offline'];
  await run('npm', ['ci', ...flags, '--no-audit', '--no-fund'], installed);
});

afterAll(async () => {
  await host?.close();
  fs.rmSync(installed, { recursive: true, force: true });
});

describe('a production install of dist/', () => {
  it('holds no devDependency', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(appRoot, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    const lock = JSON.parse(fs.readFileSync(path.join(appRoot, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    // A devDependency that a production dependency needs too (@types/node, through
    // @azure/monitor-opentelemetry's instrumentations) is rightly installed; no other may be.
    const devOnly = Object.keys(pkg.devDependencies).filter(
      (name) => lock.packages[`node_modules/${name}`]?.dev === true,
    );
    expect(devOnly).toContain('@vercel/cosmosdb-server');
    for (const name of devOnly) {
      expect(fs.existsSync(path.join(installed, 'node_modules', name)), name).toBe(false);
    }
  });

  it('loads every function of functions/routes.ts from its own node_modules', async () => {
    Object.assign(process.env, {
      COSMOS_ENDPOINT: 'http://127.0.0.1:9/',
      COSMOS_KEY: 'unused',
      WEBHOOK_TOKENS: 'a-webhook-token-long-enough',
      ADMIN_TOKENS: 'an-admin-token-long-enough',
      REPLICATION_REGIONS: 'westus,eastus',
      // So that the conditional timer registers too, with its ARM client.
      RECONCILE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
      RECONCILE_RESOURCE_GROUP: 'rg',
      RECONCILE_REGISTRY: 'contoso',
    });
    host = await loadFunctionApp({ appRoot: installed, log: () => undefined });

    const routes = fs.readFileSync(path.join(appRoot, 'functions', 'routes.ts'), 'utf8');
    // The HTTP functions are declared in src/http/routes.ts (read from the install); the timers one by one.
    const fromInstalled = Module.createRequire(path.join(installed, 'package.json'));
    const { ROUTES } = fromInstalled('./dist/src/http/routes.js') as { ROUTES: { name: string }[] };
    const timers = [...routes.matchAll(/app\.timer\(\s*'([^']+)'/g)].map((m) => m[1]);
    const declared = [...ROUTES.map((r) => r.name), ...timers];
    expect(declared.length).toBeGreaterThan(10);
    expect(host.functions.map((f) => f.name).sort()).toEqual(declared.sort());

    const loaded = Object.keys((Module as unknown as { _cache: object })._cache);
    const fromInstall = path.join(installed, 'node_modules', '@azure', 'functions') + path.sep;
    expect(loaded.some((file) => file.startsWith(fromInstall))).toBe(true);
    expect(loaded.filter((file) => file.includes('cosmosdb-server'))).toEqual([]);
  });

  it('serves a request', async () => {
    const { url } = await (host as LocalHost).listen(0);
    const res = await fetch(`${url}/api/openapi.json`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { openapi: string }).openapi).toMatch(/^3\./);
  });
});
