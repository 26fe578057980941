// The deployment package of `npm run bundle`: one file that registers every function and answers
// a webhook from a folder with no node_modules, as it would be deployed.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import Module from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../src/http/routes';
import { aDigest, aPushEvent } from '../support/fixtures';
import { appRoot, REGIONS, startApp, type RunningApp } from '../support/app-host';
import { LOOPBACK_APP_SETTINGS } from '../support/azure-platform';
import { startReceiver, type Receiver } from '../support/receiver';

/** Left out of main.js by dev/bundle.mjs, with what the app takes from each. */
const USED_EXPORTS: Record<string, string[]> = {
  '@azure/monitor-opentelemetry': ['useAzureMonitor'],
  '@azure/identity': ['DefaultAzureCredential', 'ManagedIdentityCredential'],
  undici: ['Agent', 'buildConnector', 'fetch'],
  '@azure/container-registry': ['ContainerRegistryContentClient'],
  '@azure/eventgrid': ['EventGridPublisherClient', 'AzureKeyCredential'],
  '@azure/arm-containerregistry': ['ContainerRegistryManagementClient'],
};
const LAZY_PACKAGES = Object.keys(USED_EXPORTS);

let bundle: string;
let app: RunningApp | undefined;
let topic: Receiver | undefined;
/**
 * The modules loaded once the app has started, before any test: later tests load the lazy
 * packages (by import() or require()), so what is loaded "at start" is seen here, in any order.
 */
let loadedAtStart: string[];
const loadedModules = () => Object.keys((Module as unknown as { _cache: object })._cache);

beforeAll(async () => {
  // In os.tmpdir(): no node_modules above it, so a package left out of the bundle cannot resolve.
  bundle = fs.mkdtempSync(path.join(os.tmpdir(), 'acr-gate-bundle-'));
  await promisify(execFile)(process.execPath, [
    path.join(appRoot, 'dev/bundle.mjs'),
    '--outdir',
    bundle,
  ]);
  // An Event Grid topic's loopback stand-in: publishing to it loads @azure/eventgrid from beside main.js.
  topic = await startReceiver(() => ({ status: 200 }));
  app = await startApp(
    {
      EVENTGRID_TOPIC_ENDPOINT: topic.url.replace(/\/hook$/, '/api/events'),
      EVENTGRID_TOPIC_KEY: 'topic-key-for-tests',
      // So that the conditional timer registers too (its ARM client loads on its first run).
      RECONCILE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
      RECONCILE_RESOURCE_GROUP: 'rg',
      RECONCILE_REGISTRY: 'contoso',
    },
    { appRoot: bundle },
  );
  loadedAtStart = loadedModules();
}, 120_000);

afterAll(async () => {
  await app?.stop();
  await topic?.close();
  if (bundle) fs.rmSync(bundle, { recursive: true, force: true });
});

describe('npm run bundle', () => {
  it('writes a whole app root: host.json, main.js, a package.json with main and no dependencies', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(bundle, 'package.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(pkg.main).toBe('main.js');
    expect(pkg.dependencies).toBeUndefined();
    expect(fs.readFileSync(path.join(bundle, 'host.json'), 'utf8')).toBe(
      fs.readFileSync(path.join(appRoot, 'host.json'), 'utf8'),
    );
    // The packages left out of main.js, each bundled on its own (loaded only on the paths that use them).
    const files = fs.readdirSync(path.join(bundle, 'node_modules'), { recursive: true });
    expect(files.filter((file) => String(file).endsWith(`${path.sep}index.js`)).sort()).toEqual(
      LAZY_PACKAGES.map((name) => path.join(name, 'index.js')).sort(),
    );
  });

  it('registers every function functions/routes.ts registers (src/http/routes.ts, timers) from main.js alone', () => {
    const routes = fs.readFileSync(path.join(appRoot, 'functions', 'routes.ts'), 'utf8');
    // The HTTP functions are declared in src/http/routes.ts; the timers are registered one by one.
    const timers = [...routes.matchAll(/app\.timer\(\s*'([^']+)'/g)].map((m) => m[1]);
    const declared = [...ROUTES.map((r) => r.name), ...timers];
    expect(declared.length).toBeGreaterThan(10);
    expect(app?.host.functions.map((f) => f.name).sort()).toEqual(declared.sort());
    // The only module loaded from the bundle's folder is the bundle itself.
    const fromBundle = loadedAtStart.filter((file) => file.startsWith(bundle + path.sep));
    expect(fromBundle).toEqual([path.join(bundle, 'main.js')]);
  });

  it('loads no lazy package at start; each resolves beside main.js, as CommonJS with the exports the app uses', () => {
    expect(
      loadedAtStart.filter((file) => file.startsWith(path.join(bundle, 'node_modules'))),
    ).toEqual([]);
    // As main.js's require() finds them: from the bundle's folder, no node_modules above it.
    const fromMain = Module.createRequire(path.join(bundle, 'main.js'));
    for (const name of LAZY_PACKAGES) {
      expect(fromMain.resolve(name)).toBe(path.join(bundle, 'node_modules', name, 'index.js'));
      if (name === '@azure/monitor-opentelemetry') continue; // loaded in a process of its own below
      const loaded = fromMain(name) as Record<string, unknown>;
      for (const used of USED_EXPORTS[name] ?? [])
        expect(typeof loaded[used], `${name}.${used}`).toBe('function');
    }
  });

  it('answers a webhook and stores the arrival in Cosmos DB', async () => {
    const running = app as RunningApp;
    const digest = aDigest();
    const response = await running.post(
      '/api/webhooks/acr/westus',
      aPushEvent({ repository: 'bundle/app', tag: '1.0', digest }),
    );
    expect(response.status).toBe(202);
    const status = await running.call('/api/replications/contoso.azurecr.io/bundle/app:1.0');
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({
      digest,
      status: 'replicating',
      missingRegions: ['canadacentral', 'eastus', 'westeurope'],
    });
  });

  it("publishes to Event Grid through main.js's import() of the package beside it", async () => {
    const running = app as RunningApp;
    const digest = aDigest();
    for (const [i, region] of REGIONS.entries()) {
      const response = await running.post(
        `/api/webhooks/acr/${region}`,
        aPushEvent({
          repository: 'bundle/topic',
          tag: '1.0',
          digest,
          timestamp: `2026-03-14T09:00:0${i}Z`,
        }),
      );
      expect(response.status).toBe(202);
    }
    // The first attempt goes out without the timer; a package import() could not read fails it.
    for (let i = 0; i < 100 && topic?.received.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(topic?.received).toHaveLength(1);
    expect(JSON.parse(topic?.received[0]?.body ?? '[]')).toMatchObject([
      { type: 'acrgate.tag.replicated', data: { digest, tag: '1.0' } },
    ]);
    expect(loadedModules()).toContain(
      path.join(bundle, 'node_modules', '@azure', 'eventgrid', 'index.js'),
    );
  });

  it('loads Azure Monitor from its own file beside main.js only when Application Insights is set', async () => {
    // A fresh process: the local host loads an app once per process.
    const script = `
      const { loadFunctionApp } = require(${JSON.stringify(path.join(appRoot, 'dist-dev/local-host.js'))});
      loadFunctionApp({ appRoot: ${JSON.stringify(bundle)}, log: () => undefined }).then((host) => {
        const loaded = Object.keys(require.cache).filter((k) => k.includes('monitor-opentelemetry'));
        process.stdout.write(JSON.stringify({ functions: host.functions.length, loaded }));
        process.exit(0);
      });`;
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['-e', script], {
      env: {
        PATH: process.env.PATH ?? '',
        ...LOOPBACK_APP_SETTINGS,
        READ_TOKENS: 'read-token-0123456789abcd',
        RECONCILE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
        RECONCILE_RESOURCE_GROUP: 'rg',
        RECONCILE_REGISTRY: 'contoso',
        APPLICATIONINSIGHTS_CONNECTION_STRING:
          'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/',
      },
    });
    const result = JSON.parse(stdout) as { functions: number; loaded: string[] };
    expect(result.functions).toBe(app?.host.functions.length);
    expect(result.loaded).toEqual([
      path.join(bundle, 'node_modules', '@azure', 'monitor-opentelemetry', 'index.js'),
    ]);
    // Its ESM build, bundled, could not find its own folder (import.meta.url) and said so here.
    expect(stderr).toBe('');
  });
});
