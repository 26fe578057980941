// A cold instance loads only the SDKs every request needs: ARM's (and its credential chain's) waits
// for the reconcile timer's first run, Event Grid's for the first event published to the topic.
import Module from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../support/app-host';

let app: RunningApp | undefined;
beforeAll(async () => {
  app = await startApp({
    // Both optional paths configured: their handlers are built, their SDKs must not load yet.
    RECONCILE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
    RECONCILE_RESOURCE_GROUP: 'rg',
    RECONCILE_REGISTRY: 'contoso',
    EVENTGRID_TOPIC_ENDPOINT: 'http://127.0.0.1:9/api/events',
    EVENTGRID_TOPIC_KEY: 'a-topic-key',
  });
});
afterAll(async () => {
  await app?.stop();
});

const loadedPackages = (): string[] =>
  Object.keys((Module as unknown as { _cache: object })._cache)
    .map((file) => /node_modules\/(@[^/]+\/[^/]+|[^/]+)\//.exec(file)?.[1])
    .filter((name): name is string => name !== undefined);

describe('start-up', () => {
  it('registers the reconcile timer and answers requests without loading the ARM or Event Grid SDK', async () => {
    const running = app as RunningApp;
    expect(running.host.functions.map((f) => f.name)).toContain('reconcileWebhooks');
    expect((await running.call('/api/health')).status).toBe(200);
    const loaded = new Set(loadedPackages());
    expect(loaded.has('@azure/cosmos')).toBe(true);
    expect(loaded.has('@azure/arm-containerregistry')).toBe(false);
    expect(loaded.has('@azure/eventgrid')).toBe(false);
  });
});
