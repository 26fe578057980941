// A cold instance loads only the SDKs every request needs: ARM's (and its credential chain's) waits
// for the reconcile timer's first run, Event Grid's for the first event published to the topic.
import Module from 'node:module';
import { describe, expect, it } from 'vitest';
import { useApp } from '../support/app-host';

const app = useApp({
  // Both optional paths configured: their handlers are built, their SDKs must not load yet.
  RECONCILE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
  RECONCILE_RESOURCE_GROUP: 'rg',
  RECONCILE_REGISTRY: 'contoso',
  EVENTGRID_TOPIC_ENDPOINT: 'http://127.0.0.1:9/api/events',
  EVENTGRID_TOPIC_KEY: 'a-topic-key',
});

const loadedPackages = (): string[] =>
  Object.keys((Module as unknown as { _cache: object })._cache)
    .map((file) => /node_modules\/(@[^/]+\/[^/]+|[^/]+)\//.exec(file)?.[1])
    .filter((name): name is string => name !== undefined);

describe('start-up', () => {
  it('registers the reconcile timer and answers requests without loading the ARM or Event Grid SDK', async () => {
    expect(app.host.functions.map((f) => f.name)).toContain('reconcileWebhooks');
    expect((await app.call('/api/health')).status).toBe(200);
    const loaded = new Set(loadedPackages());
    expect(loaded.has('@azure/cosmos')).toBe(true);
    expect(loaded.has('@azure/arm-containerregistry')).toBe(false);
    expect(loaded.has('@azure/eventgrid')).toBe(false);
  });
});
