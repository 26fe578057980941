// Issue 17: seven wrong answers found by trying the gate with realistic ACR sequences.
// Each case runs the real use cases against the embedded Cosmos DB through @azure/cosmos.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import type { RegionsDeps } from '../../src/app/required-regions';
import { readFeed } from '../../src/app/read-events';
import { listStatuses, readStatus, type StatusBody } from '../../src/app/read-status';
import { recordArrival } from '../../src/app/record-arrival';
import { sweepRounds } from '../../src/app/sweep-rounds';
import { acrEventSchema, toIntent } from '../../src/replication/acr-event';
import { MAX_DIGESTS } from '../../src/replication/tag-state';
import type { EventCursor } from '../../src/app/ports';
import { tagId, tagPartition } from '../../src/store/ids';
import { anInstance, cosmosSettings, freshDatabase, useEmbeddedCosmos } from '../support/cosmos';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy';
import { aDeleteEvent, aDigest, aPushEvent } from '../support/fixtures';

const REGIONS = ['canadacentral', 'eastus', 'westeurope', 'westus'];
const REGISTRY = 'contoso.azurecr.io';

const cosmos = useEmbeddedCosmos();
const proxies: FaultProxy[] = [];

afterAll(async () => {
  for (const proxy of proxies) await proxy.close();
});

interface Gate {
  deps: RegionsDeps;
  database: string;
}

function aGate(): Gate {
  const database = freshDatabase();
  return {
    deps: anInstance(cosmosSettings(cosmos.endpoint, cosmos.key, database), REGIONS),
    database,
  };
}

/** Realistic ACR timestamps: seven fractional digits, UTC. */
const ts = (day: number, hh: number, mm: number, ss = 0): string =>
  `2026-03-${String(day).padStart(2, '0')}T${String(hh).padStart(2, '0')}:${String(mm).padStart(2, '0')}:${String(ss).padStart(2, '0')}.1234567Z`;

async function push(
  deps: RegionsDeps,
  repository: string,
  tag: string,
  digest: string,
  region: string,
  timestamp: string,
) {
  const payload = aPushEvent({ registry: REGISTRY, repository, tag, digest, timestamp });
  const intent = toIntent(acrEventSchema.parse(payload), { countQuarantine: false });
  if (intent.kind !== 'push') throw new Error('not a push');
  return recordArrival(deps, intent, region, payload);
}

async function del(
  deps: RegionsDeps,
  repository: string,
  digest: string,
  region: string,
  timestamp: string,
) {
  const payload = aDeleteEvent({ registry: REGISTRY, repository, digest, timestamp });
  const intent = toIntent(acrEventSchema.parse(payload), { countQuarantine: false });
  if (intent.kind !== 'delete') throw new Error('not a delete');
  return recordArrival(deps, intent, region, payload);
}

/** A push in `first`, then the replicas, one second apart. */
async function pushEverywhere(
  deps: RegionsDeps,
  repository: string,
  tag: string,
  digest: string,
  day: number,
  hh: number,
  mm: number,
  regions = REGIONS,
) {
  for (const [i, region] of regions.entries()) {
    await push(deps, repository, tag, digest, region, ts(day, hh, mm, i));
  }
}

const statusOfTag = async (deps: RegionsDeps, repository: string, tag: string) =>
  (await readStatus(deps, REGISTRY, { kind: 'tag', repository, tag })) as StatusBody;

const statusOfDigest = async (deps: RegionsDeps, repository: string, digest: string) =>
  (await readStatus(deps, REGISTRY, { kind: 'digest', repository, digest })) as StatusBody;

async function eventsOf(
  deps: RegionsDeps,
  subject: string,
): Promise<{ id: string; digest: string }[]> {
  const { items } = await deps.store.events.list(undefined, 100);
  return items
    .filter((e) => e.event.subject === subject && e.event.type === 'acrgate.tag.replicated')
    .map((e) => ({ id: e.event.id, digest: String(e.event.data.digest) }));
}

/**
 * Two instances on one store, one behind the fault proxy: x completes on the slow one (its event
 * is stamped, then its write held `delayMs`), y on the other meanwhile, while a poller follows
 * the cursor every 50 ms. Returns what the poller saw once both events are past the window.
 */
async function lateWrite(settleMs: number, delayMs: number) {
  const database = freshDatabase();
  const proxy = await startFaultProxy({ target: cosmos.endpoint });
  proxies.push(proxy);
  const settings = cosmosSettings(cosmos.endpoint, cosmos.key, database);
  const fast = { ...anInstance(settings, REGIONS), feedSettleMs: settleMs };
  const slow = {
    ...anInstance({ ...settings, endpoint: proxy.endpoint }, REGIONS),
    feedSettleMs: settleMs,
  };
  const x = aDigest();
  const y = aDigest();
  for (const region of REGIONS.slice(0, 3)) {
    await push(fast, 'feed', 'x', x, region, ts(14, 9, 0));
    await push(fast, 'feed', 'y', y, region, ts(14, 9, 0));
  }
  // What a poller keeps is the opaque cursor, handed back to the store as is.
  let cursor: EventCursor | undefined;
  const seen: string[] = [];
  const poll = async () => {
    const page = await readFeed(fast, cursor, 50);
    seen.push(...page.items.map((e) => e.event.id));
    cursor = page.items.at(-1)?.cursor ?? cursor;
  };
  await poll();

  proxy.setFaults({
    rate: 1,
    kinds: ['delay-request'],
    delayMs,
    // Creates only (the event): a query is a POST too, but says so in a header.
    match: ({ method, path, headers }) =>
      method === 'POST' &&
      path.endsWith('/docs') &&
      headers['x-ms-documentdb-isquery'] === undefined,
  });
  let xLanded = false;
  const xDone = push(slow, 'feed', 'x', x, 'westus', ts(14, 9, 1)).then(() => (xLanded = true));
  while (proxy.stats.injected['delay-request'] === 0) await sleep(5);
  await push(fast, 'feed', 'y', y, 'westus', ts(14, 9, 1));
  while (!xLanded) {
    await poll();
    await sleep(50);
  }
  await xDone;
  proxy.setFaults({ rate: 0 });
  const all = (await fast.store.events.list(undefined, 100)).items;
  // Poll until the poller has caught up with the whole feed (every event past the window).
  const latest = Math.max(...all.map((e) => Date.parse(e.recordedAt.slice(0, 23) + 'Z')));
  while (Date.now() <= latest + settleMs) await sleep(50);
  await poll();
  return { seen, all };
}

describe('issue 17: the gate answers right', () => {
  it('1. a deleted digest pushed again later under a new tag replicates (a delete counts only against pushes it follows)', async () => {
    const { deps } = aGate();
    const d = aDigest();
    await pushEverywhere(deps, 'web', 'old', d, 14, 10, 0);
    for (const [i, region] of REGIONS.entries())
      await del(deps, 'web', d, region, ts(14, 11, 0, i));
    expect((await statusOfTag(deps, 'web', 'old')).status).toBe('deleted');

    // The next day the same content is built again and pushed as web:new in westus.
    await push(deps, 'web', 'new', d, 'westus', ts(15, 9, 0));
    const started = await statusOfTag(deps, 'web', 'new');
    expect(started.status).toBe('replicating');
    expect(started.regions.find((r) => r.region === 'westus')?.status).toBe('arrived');
    expect(started.missingRegions).toEqual(['canadacentral', 'eastus', 'westeurope']);
    expect(started.regions.filter((r) => r.status === 'deleted')).toEqual([]);

    for (const [i, region] of ['canadacentral', 'eastus', 'westeurope'].entries()) {
      await push(deps, 'web', 'new', d, region, ts(15, 9, 1, i));
    }
    const done = await statusOfTag(deps, 'web', 'new');
    expect(done.status).toBe('replicated');
    expect(done.eventId).not.toBeNull();
    // The old tag stays deleted: its push was undone.
    expect((await statusOfTag(deps, 'web', 'old')).status).toBe('deleted');
  });

  it('2. an out-of-range timestamp is refused naming `timestamp`, and one unreadable stored tag stops neither the sweep nor the list', async () => {
    for (const timestamp of ['9999-12-31T23:59:59-01:00', '0000-01-01T00:00:00+01:00']) {
      const parsed = acrEventSchema.safeParse(aPushEvent({ timestamp }));
      expect(parsed.success, timestamp).toBe(false);
      expect(parsed.error?.issues.map((i) => i.path.join('.'))).toEqual(['timestamp']);
    }

    const { deps, database } = aGate();
    const good = aDigest();
    await push(deps, 'web', 'good', good, 'westus', ts(14, 9, 0));
    await push(deps, 'web', 'poisoned', aDigest(), 'westus', ts(14, 9, 0));
    // A tag stored before the fix, with a timestamp nothing can read back.
    const container = cosmos.reader.database(database).container('replication');
    const id = tagId({ tag: 'poisoned' });
    const { resource } = await container
      .item(id, tagPartition(REGISTRY, 'web'))
      .read<Record<string, unknown>>();
    const observations = resource?.observations as Record<
      string,
      Record<string, Record<string, string>>
    >;
    for (const byDigest of Object.values(observations)) {
      for (const o of Object.values(byDigest)) o.firstSeen = '+010000-01-01T00:59.000000000Z';
    }
    await container.item(id, tagPartition(REGISTRY, 'web')).replace({ ...resource, observations });

    // The sweep still reports the good round stalled, and says which item it skipped.
    const report = await sweepRounds({ ...deps, stallAfterMs: 60_000 });
    expect(report.stalled).toBe(1);
    expect(report.malformed).toEqual([`tag ${REGISTRY}/web:poisoned`]);
    const list = await listStatuses(deps, { registry: REGISTRY, pageSize: 50 });
    expect(list.items.map((i) => i.tag)).toEqual(['good']);
    // The unreadable item's own read is an internal error, not "store unavailable".
    await expect(statusOfTag(deps, 'web', 'poisoned')).rejects.toMatchObject({
      name: 'StoredItemMalformedError',
    });
    expect((await statusOfTag(deps, 'web', 'good')).status).toBe('replicating');
  });

  it('3. a poller following the cursor sees an event whose write landed late on another instance', async () => {
    // The write is held 2.5 s, within the 4 s window: every event exactly once.
    const { seen, all } = await lateWrite(Number(process.env.TEST_FEED_SETTLE_MS ?? 4_000), 2_500);
    // Two rounds: two replicated events (besides one acrgate.tag.arrived per region).
    expect(all.filter((e) => e.event.type === 'acrgate.tag.replicated')).toHaveLength(2);
    expect([...seen].sort()).toEqual(all.map((e) => e.event.id).sort());
  });

  it('3b. an event whose write lands after the settle window is stamped again, so the poller still sees it', async () => {
    const { seen, all } = await lateWrite(1_000, 2_500);
    expect(all.filter((e) => e.event.type === 'acrgate.tag.replicated')).toHaveLength(2);
    expect([...new Set(seen)].sort()).toEqual(all.map((e) => e.event.id).sort());
  });

  it('4. a late replica event of a digest the tag has forgotten does not become the target', async () => {
    const { deps } = aGate();
    const digests = Array.from({ length: MAX_DIGESTS + 1 }, () => aDigest());
    // #1 reaches three regions; westus lags behind.
    await pushEverywhere(deps, 'app', 'main', digests[0] as string, 14, 8, 0, REGIONS.slice(0, 3));
    for (const [k, d] of digests.slice(1).entries()) {
      await pushEverywhere(deps, 'app', 'main', d, 14, 9 + Math.floor(k / 6), (k % 6) * 10);
    }
    const newest = digests.at(-1) as string;
    const before = await statusOfTag(deps, 'app', 'main');
    expect(before).toMatchObject({ digest: newest, status: 'replicated' });

    await push(deps, 'app', 'main', digests[0] as string, 'westus', ts(14, 13, 0));
    const after = await statusOfTag(deps, 'app', 'main');
    expect(after).toMatchObject({ digest: newest, status: 'replicated', eventId: before.eventId });
  });

  it('5. a digest keeps its own status when it is tagged again', async () => {
    const { deps } = aGate();
    const d = aDigest();
    await pushEverywhere(deps, 'web', '1.2.3', d, 14, 10, 0);
    expect((await statusOfDigest(deps, 'web', d)).status).toBe('replicated');

    await push(deps, 'web', 'stable', d, 'westus', ts(14, 11, 0));
    const byDigest = await statusOfDigest(deps, 'web', d);
    expect(byDigest.status).toBe('replicated');
    expect(byDigest.digest).toBe(d);
    expect(byDigest.missingRegions).toEqual([]);
    // The new tag's own round is what is still open.
    expect((await statusOfTag(deps, 'web', 'stable')).status).toBe('replicating');
  });

  it('6. a rollback (A, then B, then A again) starts a new round for A and completes it with its own event', async () => {
    const { deps } = aGate();
    const a = aDigest();
    const b = aDigest();
    await pushEverywhere(deps, 'api', 'prod', a, 14, 10, 0);
    const firstA = await statusOfTag(deps, 'api', 'prod');
    await pushEverywhere(deps, 'api', 'prod', b, 14, 10, 10);
    expect(await statusOfTag(deps, 'api', 'prod')).toMatchObject({
      digest: b,
      status: 'replicated',
    });

    await push(deps, 'api', 'prod', a, 'canadacentral', ts(14, 10, 20));
    const rolling = await statusOfTag(deps, 'api', 'prod');
    expect(rolling).toMatchObject({
      digest: a,
      status: 'replicating',
      pushedAt: ts(14, 10, 20).replace('1234567Z', '123456700Z'),
    });
    expect(rolling.missingRegions).toEqual(['eastus', 'westeurope', 'westus']);

    for (const [i, region] of REGIONS.slice(1).entries()) {
      await push(deps, 'api', 'prod', a, region, ts(14, 10, 20, i + 1));
    }
    const rolledBack = await statusOfTag(deps, 'api', 'prod');
    expect(rolledBack).toMatchObject({ digest: a, status: 'replicated' });
    expect(rolledBack.eventId).not.toBe(firstA.eventId);
    const events = await eventsOf(deps, 'api:prod');
    expect(events.map((e) => e.digest)).toEqual([a, b, a]);
    expect(events.at(-1)?.id).toBe(rolledBack.eventId);
  });

  it('7. push, delete, push of one digest on one tag is a new round with a new event', async () => {
    const { deps } = aGate();
    const d = aDigest();
    await pushEverywhere(deps, 'svc', 'v1', d, 14, 10, 0);
    const first = await statusOfTag(deps, 'svc', 'v1');
    expect(first.status).toBe('replicated');
    for (const [i, region] of REGIONS.entries())
      await del(deps, 'svc', d, region, ts(14, 11, 0, i));
    expect((await statusOfTag(deps, 'svc', 'v1')).status).toBe('deleted');

    await push(deps, 'svc', 'v1', d, 'eastus', ts(14, 12, 0));
    const again = await statusOfTag(deps, 'svc', 'v1');
    expect(again.status).toBe('replicating');
    expect(again.missingRegions).toEqual(['canadacentral', 'westeurope', 'westus']);
    for (const [i, region] of ['canadacentral', 'westeurope', 'westus'].entries()) {
      await push(deps, 'svc', 'v1', d, region, ts(14, 12, 0, i + 1));
    }
    const done = await statusOfTag(deps, 'svc', 'v1');
    expect(done.status).toBe('replicated');
    expect(done.replicatedAt! > first.replicatedAt!).toBe(true);
    expect(done.eventId).not.toBe(first.eventId);
    const events = await eventsOf(deps, 'svc:v1');
    expect(events).toHaveLength(2);
    expect(events.at(-1)?.id).toBe(done.eventId);
  });
});
