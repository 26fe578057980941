// Adversarial cases for the completing write's check of its digest's deletes (one operation in the
// tag's batch instead of a read first), against the embedded Cosmos DB through the real SDK, with
// two instances (two CosmosClients, two tag caches) on one database.
import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { readStatus } from '../../src/app/read-status';
import { recordArrival } from '../../src/app/record-arrival';
import type { RegionsDeps } from '../../src/app/required-regions';
import { sweepRounds } from '../../src/app/sweep-rounds';
import { REPLICATED_EVENT_TYPE } from '../../src/events/event-types';
import type { Instant } from '../../src/replication/timestamp';
import { deletionId, tagPartition } from '../../src/store/ids';
import { anInstance, cosmosSettings, freshDatabase, useEmbeddedCosmos } from '../support/cosmos';
import { aDeleteEvent, aDigest, aPushEvent, aSubscription, intentOf } from '../support/fixtures';
import { aGate } from '../support/holding-gate';

const REGIONS = ['canadacentral', 'eastus', 'westeurope', 'westus'] as const;
const REGISTRY = 'contoso.azurecr.io';
const REPOSITORY = 'team/app';
/** The production default of STORE_MAX_ATTEMPTS (src/config/settings.ts). */
const PRODUCTION_MAX_ATTEMPTS = 12;
const NEVER_STALL = 100 * 365 * 86_400_000;

const cosmos = useEmbeddedCosmos();

const stamp = (second: number): string =>
  `2026-03-14T09:${String(Math.floor(second / 60)).padStart(2, '0')}:${String(second % 60).padStart(2, '0')}.000000000Z`;

async function push(
  deps: RegionsDeps,
  tag: string | null,
  digest: string,
  region: string,
  second: number,
) {
  const payload = aPushEvent({
    registry: REGISTRY,
    repository: REPOSITORY,
    tag: tag ?? undefined,
    digest,
    timestamp: stamp(second),
  });
  const outcome = await recordArrival(deps, intentOf(payload), region, payload);
  if (outcome.kind !== 'push') throw new Error('not a push');
  return outcome.result;
}

async function remove(deps: RegionsDeps, digest: string, region: string, second: number) {
  const payload = aDeleteEvent({
    registry: REGISTRY,
    repository: REPOSITORY,
    digest,
    timestamp: stamp(second),
  });
  return recordArrival(deps, intentOf(payload), region, payload);
}

/** One more instance on `database`, reaching Cosmos DB through `endpoint`. */
function anInstanceOn(database: string, endpoint: string): RegionsDeps {
  const settings = cosmosSettings(endpoint, cosmos.key, database);
  return { ...anInstance(settings, REGIONS), maxAttempts: PRODUCTION_MAX_ATTEMPTS };
}

/** Two instances on a fresh database; `production` keeps STORE_MAX_ATTEMPTS at its default. */
function twoInstances(endpoints: { second?: string } = {}) {
  const database = freshDatabase();
  const settings = cosmosSettings(cosmos.endpoint, cosmos.key, database);
  const production = (deps: RegionsDeps): RegionsDeps => ({
    ...deps,
    maxAttempts: PRODUCTION_MAX_ATTEMPTS,
  });
  const one = production(anInstance(settings, REGIONS));
  const other = production(
    anInstance({ ...settings, endpoint: endpoints.second ?? cosmos.endpoint }, REGIONS),
  );
  const container = cosmos.reader.database(database).container('replication');
  return { database, one, other, container };
}

async function replicatedEvents(deps: RegionsDeps) {
  const { items } = await deps.store.events.list(undefined, 1000);
  return items.filter((e) => e.event.type === REPLICATED_EVENT_TYPE);
}

const statusOf = (deps: RegionsDeps, tag: string) =>
  readStatus(deps, REGISTRY, { kind: 'tag', repository: REPOSITORY, tag });

/**
 * Holds the first transactional batch carrying a check of the deletes (a completing write) until
 * released; every other request passes.
 */
function aBatchGate(upstream: string) {
  let batches = 0;
  const isBatch = (headers: IncomingHttpHeaders) =>
    String(headers['x-ms-cosmos-is-batch-request'] ?? '').toLowerCase() === 'true';
  return aGate(
    upstream,
    (req, body) => isBatch(req.headers) && body.includes('"id":"deleted:') && batches++ === 0,
  );
}

describe('the completing write beside what it decided', () => {
  it('lands with 99 events and deliveries: the deletes check is one more operation of the batch', async () => {
    // 97 subscriptions to replicated events: the completing write decides the last region's
    // arrival and the round's event (2 events) and 97 deliveries, 99 items beside the tag: inline
    // by the count of one request (100 items), but the check of the deletes makes it 101.
    const { one, database } = twoInstances();
    for (let i = 0; i < 97; i++) {
      await one.store.subscriptions.create(
        aSubscription({ id: `s${i}`, url: `https://hooks.example.net/${i}` }),
      );
    }
    const digest = aDigest();
    for (const [i, region] of REGIONS.slice(0, 3).entries())
      await push(one, 'v1', digest, region, i);
    const last = await push(one, 'v1', digest, 'westus', 10);
    expect(last.completed).not.toBeNull();
    const [event, ...more] = await replicatedEvents(one);
    expect(more).toEqual([]);
    expect(await one.store.deliveries.listForEvent(event?.event.id ?? '')).toHaveLength(97);
    expect((await statusOf(one, 'v1'))?.status).toBe('replicated');
    await cosmos.reader.database(database).delete();
  });
});

describe('a delete racing the completing write', () => {
  it.each([
    ['recorded and applied to the tag', true],
    ['recorded only (its instance stopped before applying it)', false],
  ])(
    'a delete %s while the completing batch is on its way: no event, the tag reads deleted',
    async (_name, applied) => {
      const { one, database } = twoInstances();
      const gate = await aBatchGate(cosmos.endpoint);
      try {
        const slow = anInstanceOn(database, gate.endpoint);
        const digest = aDigest();
        for (const [i, region] of REGIONS.slice(0, 3).entries()) {
          await push(one, 'v1', digest, region, i);
        }
        const completing = push(slow, 'v1', digest, 'westus', 10);
        await gate.held;
        // eastus had the image at second 1; it is deleted there at second 30.
        if (applied) await remove(one, digest, 'eastus', 30);
        else {
          await one.store.deletions.record(
            REGISTRY,
            REPOSITORY,
            digest,
            'eastus',
            stamp(30) as Instant,
            stamp(30) as Instant,
          );
        }
        gate.release();
        const result = await completing;
        expect(result.completed).toBeNull();
        expect(result.record.evaluation.status).toBe('deleted');
        expect(await replicatedEvents(one)).toEqual([]);
        expect((await statusOf(one, 'v1'))?.status).toBe('deleted');
        // Nothing left for the sweep to get wrong either.
        expect((await sweepRounds({ ...one, stallAfterMs: NEVER_STALL })).completed).toBe(0);
        expect(await replicatedEvents(one)).toEqual([]);
      } finally {
        await gate.close();
        await cosmos.reader.database(database).delete();
      }
    },
  );

  it('a delete recorded after the completing batch landed is applied to the completed tag', async () => {
    const { one, other, database } = twoInstances();
    const digest = aDigest();
    for (const [i, region] of REGIONS.slice(0, 3).entries())
      await push(one, 'v1', digest, region, i);
    const completing = await push(other, 'v1', digest, 'westus', 10);
    expect(completing.completed).not.toBeNull();
    const deleted = await remove(one, digest, 'eastus', 30);
    expect(deleted.kind === 'delete' && deleted.results.map((r) => r.written)).toEqual([true]);
    expect((await statusOf(other, 'v1'))?.status).toBe('deleted');
    expect(await replicatedEvents(one)).toHaveLength(1);
    // The delete replaced the no-deletion item: the sweep sees it, once, with its region.
    expect(await one.store.deletions.listChangedSince(stamp(0) as Instant)).toEqual([
      { registry: REGISTRY, repository: REPOSITORY, digest, regions: { eastus: stamp(30) } },
    ]);
    await cosmos.reader.database(database).delete();
  });
});

describe('tags of one digest completing at once', () => {
  it.each([
    [2, 16],
    [6, 120],
  ])(
    'on %i instances, %i tags: one event per tag, none given up on',
    async (count, tags) => {
      const { database } = twoInstances();
      const instances = Array.from({ length: count }, () =>
        anInstanceOn(database, cosmos.endpoint),
      );
      const on = (i: number): RegionsDeps => instances[i % count] as RegionsDeps;
      const digest = aDigest();
      const names = Array.from({ length: tags }, (_, i) => `1.${i}`);
      for (const [t, tag] of names.entries()) {
        for (const [i, region] of REGIONS.slice(0, 3).entries()) {
          await push(on(t + i), tag, digest, region, i);
        }
      }
      // The last region's webhooks of every tag at once, spread over the instances.
      const settled = await Promise.allSettled(
        names.map((tag, t) => push(on(t), tag, digest, 'westus', 10)),
      );
      const refused = settled.flatMap((s): unknown[] =>
        s.status === 'rejected' ? [s.reason] : [],
      );
      // A refused webhook is a 503, and ACR does not retry it: that region's arrival is lost.
      expect(refused.map(String)).toEqual([]);
      const results = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
      expect(results.filter((r) => r.completed !== null)).toHaveLength(tags);
      const events = await replicatedEvents(on(0));
      const perTag = events.map((e) => (e.event.data as { tag: string }).tag).sort();
      expect(perTag).toEqual([...names].sort());
      await cosmos.reader.database(database).delete();
    },
    60_000,
  );
});

describe('what the check leaves in the store', () => {
  it('a check applied beside a refused tag write (the embedded server does not roll back) misleads nothing', async () => {
    const { one: plain, other, container, database } = twoInstances();
    // The reads of the deletes `one` makes (none, but after a refused check).
    const reads: string[] = [];
    const deletions = plain.store.deletions;
    const one: RegionsDeps = {
      ...plain,
      store: {
        ...plain.store,
        deletions: {
          ...deletions,
          get: (registry, repository, digest) => {
            reads.push(digest);
            return deletions.get(registry, repository, digest);
          },
        },
      },
    };
    const digest = aDigest();
    for (const [i, region] of REGIONS.slice(0, 3).entries())
      await push(one, 'v1', digest, region, i);
    // Another instance writes the tag (eastus reports the digest again, later): `one`'s copy is stale.
    expect((await push(other, 'v1', digest, 'eastus', 5)).written).toBe(true);
    const completing = await push(one, 'v1', digest, 'westus', 10);
    expect(completing.completed).not.toBeNull();
    // Refused on the tag (a counted attempt), then on the deletes: its own check, applied by the
    // refused batch, moved their version; read once, and not counted.
    expect(completing.attempts).toBe(2);
    expect(reads).toEqual([digest]);
    expect(await replicatedEvents(one)).toHaveLength(1);
    const { resource } = await container
      .item(deletionId(digest), tagPartition(REGISTRY, REPOSITORY))
      .read<{ type: string; regions?: unknown }>();
    expect(resource).toMatchObject({ type: 'no-deletion' });
    expect(resource?.regions).toBeUndefined();
    // It is no deletion: not for the sweep, not for the digest's status.
    expect(await one.store.deletions.listChangedSince(stamp(0) as Instant)).toEqual([]);
    expect(
      (await readStatus(one, REGISTRY, { kind: 'digest', repository: REPOSITORY, digest }))?.status,
    ).toBe('replicated');
    // A delete after it replaces it, and every instance's next completing write sees it.
    await remove(other, digest, 'eastus', 30);
    expect((await statusOf(one, 'v1'))?.status).toBe('deleted');
    for (const [i, region] of REGIONS.entries()) await push(one, 'v2', digest, region, i);
    expect((await statusOf(one, 'v2'))?.status).toBe('deleted');
    expect(await replicatedEvents(one)).toHaveLength(1);
    await cosmos.reader.database(database).delete();
  });

  it('a no-deletion item gone (expired) while an instance holds its version: the next write re-creates it, a delete recorded since still refuses', async () => {
    const { one, other, container, database } = twoInstances();
    const digest = aDigest();
    const item = container.item(deletionId(digest), tagPartition(REGISTRY, REPOSITORY));
    for (const [i, region] of REGIONS.entries()) await push(one, 'v1', digest, region, i);
    expect(await replicatedEvents(one)).toHaveLength(1);
    // Its ttl ran out (the embedded server keeps no clock for ttl: removed by hand).
    await item.delete();
    for (const [i, region] of REGIONS.entries()) await push(one, 'v2', digest, region, i);
    expect((await statusOf(one, 'v2'))?.status).toBe('replicated');
    expect(await replicatedEvents(one)).toHaveLength(2);
    expect((await item.read<{ type: string }>()).resource?.type).toBe('no-deletion');
    // Gone again, and a delete recorded on the other instance where it was (a new item, a new
    // version): `one` still holds the version of the expired one.
    await item.delete();
    await remove(other, digest, 'eastus', 30);
    for (const [i, region] of REGIONS.entries()) await push(one, 'v3', digest, region, i);
    expect((await statusOf(one, 'v3'))?.status).toBe('deleted');
    expect(await replicatedEvents(one)).toHaveLength(2);
    await cosmos.reader.database(database).delete();
  });

  it.each([
    ['before its push there (re-pushed after it): the round completes', 0, 'replicated', 1],
    ['after its push there: the round never completes', 30, 'deleted', 0],
  ])(
    'a deletion item an earlier version wrote, its delete %s',
    async (_name, deletedAtSecond, status, events) => {
      const { one, other, container, database } = twoInstances();
      const digest = aDigest();
      // As earlier versions stored it (no ttl, no version of ours), before any push below.
      const legacy = {
        id: deletionId(digest),
        pk: tagPartition(REGISTRY, REPOSITORY),
        type: 'deletion',
        registry: REGISTRY,
        repository: REPOSITORY,
        digest,
        regions: { eastus: stamp(deletedAtSecond) },
        updatedAt: '2026-03-14T08:00:00.000000000Z',
      };
      await one.store.deletions.get(REGISTRY, REPOSITORY, digest); // creates the container
      await container.items.create(legacy);
      // eastus pushes at second 1; regions spread over both instances.
      for (const [i, region] of REGIONS.entries()) {
        await push(i % 2 === 0 ? one : other, 'v1', digest, region, i);
      }
      expect((await statusOf(one, 'v1'))?.status).toBe(status);
      expect(await replicatedEvents(one)).toHaveLength(events);
      // The check wrote back what it read: regions and updatedAt as they were.
      const { resource } = await container.item(legacy.id, legacy.pk).read<typeof legacy>();
      expect(resource).toMatchObject(legacy);
      await cosmos.reader.database(database).delete();
    },
  );

  it('an untagged digest (a digest: tag) with a delete recorded before its completing push does not complete', async () => {
    const { one, other, database } = twoInstances();
    const digest = aDigest();
    for (const [i, region] of REGIONS.slice(0, 3).entries())
      await push(one, null, digest, region, i);
    await other.store.deletions.record(
      REGISTRY,
      REPOSITORY,
      digest,
      'canadacentral',
      stamp(20) as Instant,
      stamp(20) as Instant,
    );
    const last = await push(one, null, digest, 'westus', 10);
    expect(last.completed).toBeNull();
    expect(last.record.evaluation.status).toBe('deleted');
    expect(await replicatedEvents(one)).toEqual([]);
    await cosmos.reader.database(database).delete();
  });
});
