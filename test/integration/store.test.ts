// The use cases against the embedded Cosmos DB, through the real @azure/cosmos client: what only
// Cosmos DB has (separate clients read back independently, outages, caches, Entra ID). What every
// store must do is in test/contract/store-contract.ts, run against this adapter and the in-memory one.
import { CosmosClient } from '@azure/cosmos';
import { describe, expect, it } from 'vitest';
import { withShortLivedCache } from '../../src/app/cached-store';
import { createCosmosClient, makeCosmosStore } from '../../src/store/cosmos-store';
import { StoreUnavailableError } from '../../src/app/ports';
import { readStatus } from '../../src/app/read-status';
import { recordArrival } from '../../src/app/record-arrival';
import { setRequiredRegions, type RegionsDeps } from '../../src/app/required-regions';
import { toInstant, type Instant } from '../../src/replication/timestamp';
import { aDigest, aPushEvent, intentOf } from '../support/fixtures';
import { anInstance, cosmosSettings, freshDatabase, useEmbeddedCosmos } from '../support/cosmos';
import { anEvent, concurrentDeliveries } from '../contract/store-contract';

const at = (text: string): Instant => {
  const instant = toInstant(text);
  if (instant === undefined) throw new Error(`not an instant: ${text}`);
  return instant;
};

const REGIONS = ['westus', 'eastus', 'canadacentral', 'westeurope'];
const cosmos = useEmbeddedCosmos();

function setup(regions = REGIONS) {
  const settings = cosmosSettings(cosmos.endpoint, cosmos.key, freshDatabase());
  return { settings, instance: () => anInstance(settings, regions) };
}

/** Reads the stored events with a client of its own, not through the code under test. */
async function storedEvents(database: string): Promise<unknown[]> {
  const client = new CosmosClient({
    endpoint: cosmos.endpoint,
    key: cosmos.key,
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  const { resources } = await client
    .database(database)
    .container('replication')
    .items.query<unknown>("SELECT * FROM c WHERE c.type = 'event'")
    .fetchAll();
  return resources;
}

describe('recording arrivals in Cosmos DB', () => {
  it('stores each of 40 webhooks sent at once on one tag, through one instance, within the default attempts', async () => {
    // Found by an adversarial pass: 40 at once on one tag, and one gave up after 12 conflicting
    // writes (a 503, and ACR does not retry). Writes of one tag now queue per instance.
    const { settings } = setup();
    const deps = { ...anInstance(settings, REGIONS), maxAttempts: 12 };
    const digest = aDigest();
    const arrivals = Array.from({ length: 40 }, (_, i) => ({
      region: REGIONS[i % REGIONS.length] as string,
      intent: intentOf(
        aPushEvent({
          repository: 'team/burst',
          tag: 'v1',
          digest,
          // A region's push has one timestamp: the other webhooks of the region repeat it.
          timestamp: `2026-03-14T09:00:0${i % REGIONS.length}.000Z`,
        }),
      ),
    }));
    const outcomes = await Promise.allSettled(
      arrivals.map(({ region, intent }) => recordArrival(deps, intent, region)),
    );
    expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
    // No write of this instance raced another: each went first time, from the copy before it.
    const attempts = outcomes.map((o) =>
      o.status === 'fulfilled' && o.value.kind === 'push' ? o.value.result.attempts : -1,
    );
    expect(new Set(attempts)).toEqual(new Set([1]));
    const status = await readStatus(deps, 'contoso.azurecr.io', {
      kind: 'tag',
      repository: 'team/burst',
      tag: 'v1',
    });
    expect(status).toMatchObject({ status: 'replicated', digest });
    const replicated = (
      (await storedEvents(settings.database)) as { event: { type: string } }[]
    ).filter((e) => e.event.type === 'acrgate.tag.replicated');
    expect(replicated).toHaveLength(1);
  });

  it('gives exactly one completion for 20 concurrent deliveries from separate clients', async () => {
    const { settings, instance } = setup();
    const instances = Array.from({ length: 5 }, instance);
    const digest = aDigest();
    const deliveries = concurrentDeliveries(digest);
    const outcomes = await Promise.all(
      deliveries.map(({ region, intent }, i) =>
        recordArrival(instances[i % instances.length] as RegionsDeps, intent, region),
      ),
    );
    const completions = outcomes.filter((o) => o.kind === 'push' && o.result.completed !== null);
    expect(deliveries).toHaveLength(20);
    expect(completions).toHaveLength(1);

    const deps = instance();
    const status = await readStatus(deps, 'contoso.azurecr.io', {
      kind: 'tag',
      repository: 'team/app/api',
      tag: '1.2',
    });
    expect(status).toMatchObject({ status: 'replicated', digest, repository: 'team/app/api' });
    expect(status?.regions.map((r) => r.status)).toEqual([
      'arrived',
      'arrived',
      'arrived',
      'arrived',
    ]);
    const all = (await storedEvents(settings.database)) as {
      event: { type: string; data: { region?: string } };
    }[];
    const events = all.filter((e) => e.event.type === 'acrgate.tag.replicated');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      event: { type: 'acrgate.tag.replicated', subject: 'team/app/api:1.2' },
    });
    // One arrival per region, decided once among the 20 racing writers.
    const arrived = all.filter((e) => e.event.type === 'acrgate.tag.arrived');
    expect(arrived.map((e) => e.event.data.region).sort()).toEqual([...REGIONS].sort());
    const decided = outcomes.flatMap((o) => (o.kind === 'push' ? o.result.arrived : []));
    expect(decided.map((e) => e.event.data.region).sort()).toEqual([...REGIONS].sort());
  });

  it('raises StoreUnavailableError when Cosmos DB cannot be reached', async () => {
    const settings = cosmosSettings('http://127.0.0.1:9/', cosmos.key, freshDatabase());
    const deps = anInstance(settings);
    await expect(recordArrival(deps, intentOf(aPushEvent()), 'westus')).rejects.toBeInstanceOf(
      StoreUnavailableError,
    );
  });
});

describe('the event feed in Cosmos DB', () => {
  it('reads events whatever partition their writer put them in', async () => {
    const { settings } = setup();
    const store = makeCosmosStore(createCosmosClient(settings), settings);
    const inFeedPartition = anEvent('contoso.azurecr.io', 'a');
    await store.events.add(inFeedPartition, toInstant('2026-03-14T09:00:02Z') as Instant);
    // Written as a writer that keeps events in their tag's partition would write them.
    const client = new CosmosClient({
      endpoint: cosmos.endpoint,
      key: cosmos.key,
      connectionPolicy: { enableEndpointDiscovery: false },
    });
    const container = client.database(settings.database).container(settings.container);
    const elsewhere = [
      { entry: anEvent('contoso.azurecr.io', 'b'), at: '2026-03-14T09:00:01.000000000Z' },
      { entry: anEvent('fabrikam.azurecr.io', 'c'), at: '2026-03-14T09:00:03.000000000Z' },
    ];
    for (const { entry, at } of elsewhere) {
      const { registry, repository } = entry.event.data as { registry: string; repository: string };
      await container.items.create({
        id: entry.event.id,
        pk: `${registry}/${repository}`,
        type: 'event',
        event: entry.event,
        recordedAt: at,
        sortKey: `${at}|${entry.event.id}`,
      });
    }
    const [b, c] = elsewhere.map(({ entry }) => entry.event.id);
    const a = inFeedPartition.event.id;
    const ids = (events: { event: { id: string } }[]) => events.map((e) => e.event.id);
    const first = await store.events.list(undefined, 2);
    expect(ids(first.items)).toEqual([b, a]);
    const last = first.items.at(-1);
    if (!last) throw new Error('empty page');
    expect(ids((await store.events.list(last.cursor, 10)).items)).toEqual([c]);
    expect(ids(await store.events.latest(10))).toEqual([c, a, b]);
    expect(ids(await store.events.latest(10, { registry: 'contoso.azurecr.io' }))).toEqual([a, b]);
  });
});

describe('instances that cache the required regions', () => {
  it('never complete a round without a region another instance just added', async () => {
    const { settings } = setup(['westus']);
    const cachedInstance = () => {
      const deps = anInstance(settings, ['westus']);
      return { ...deps, store: withShortLivedCache(deps.store, 60_000) };
    };
    const [a, b] = [cachedInstance(), cachedInstance()];
    const registry = 'contoso.azurecr.io';
    // a has the regions in its cache: westus only.
    await recordArrival(a, intentOf(aPushEvent({ tag: 'warm' })), 'eastus');
    // b adds eastus; a's cache still says westus only for a minute.
    await setRequiredRegions(b, registry, ['eastus', 'westus']);
    const digest = aDigest();
    const outcome = await recordArrival(a, intentOf(aPushEvent({ tag: 'new', digest })), 'westus');
    expect(outcome.kind === 'push' && outcome.result.completed).toBeNull();
    expect(outcome.kind === 'push' && outcome.result.record.evaluation).toMatchObject({
      status: 'replicating',
      missingRegions: ['eastus'],
    });
  });
});

describe('without COSMOS_KEY', () => {
  it('authenticates with Entra ID (DefaultAzureCredential), which has no identity to use here', async () => {
    const settings = {
      ...cosmosSettings(cosmos.endpoint, cosmos.key, freshDatabase()),
      key: undefined,
    };
    const store = makeCosmosStore(createCosmosClient(settings), settings);
    const error: unknown = await store.ping().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    // The failure is the credential chain's, not the server's: no key was sent.
    expect(String((error as Error).message)).toMatch(/credential|token|authentication/i);
  });
});

describe('items stored before events and deliveries moved beside their tag', () => {
  it('are still read, listed, claimed and settled where they are', async () => {
    const { settings } = setup();
    const store = makeCosmosStore(createCosmosClient(settings), settings);
    await store.ping();
    const container = new CosmosClient({
      endpoint: cosmos.endpoint,
      key: cosmos.key,
      connectionPolicy: { enableEndpointDiscovery: false },
    })
      .database(settings.database)
      .container('replication');
    const recordedAt = '2026-03-14T09:00:00.000000000Z';
    // Exactly as the previous version wrote them: one events partition, a partition per event.
    await container.items.create({
      id: 'old-event',
      pk: 'events',
      type: 'event',
      event: {
        specversion: '1.0',
        id: 'old-event',
        type: 'acrgate.tag.replicated',
        source: '/acr-replication-gate',
        subject: 'contoso.azurecr.io/team/app:v1',
        time: recordedAt,
        datacontenttype: 'application/json',
        data: { registry: 'contoso.azurecr.io', repository: 'team/app', tag: 'v1' },
      },
      recordedAt,
      sortKey: `${recordedAt}|old-event`,
    });
    await container.items.create({
      id: 'delivery:sub-1',
      pk: 'deliveries:old-event',
      type: 'delivery',
      eventId: 'old-event',
      subscriptionId: 'sub-1',
      state: 'pending',
      attempts: [],
      attemptsInRound: 0,
      nextAttemptAt: recordedAt,
      updatedAt: recordedAt,
    });

    expect((await store.events.get('old-event'))?.recordedAt).toBe(recordedAt);
    const feed = await store.events.list(undefined, 10);
    expect(feed.items.map((e) => e.event.id)).toEqual(['old-event']);
    const [due] = await store.deliveries.listDue(at('2026-03-14T10:00:00Z'), 10);
    if (!due) throw new Error('the old delivery is not due');
    const saved = await store.deliveries.save(
      { ...due.record, state: 'delivered', nextAttemptAt: null },
      due.etag,
    );
    expect(saved).toMatchObject({ ok: true });
    const { resources } = await container.items
      .query<{ id: string; pk: string; state: string }>(
        "SELECT c.id, c.pk, c.state FROM c WHERE c.type = 'delivery'",
      )
      .fetchAll();
    // Settled in place: no second copy in the new layout.
    expect(resources).toEqual([
      { id: 'delivery:sub-1', pk: 'deliveries:old-event', state: 'delivered' },
    ]);
  });
});
