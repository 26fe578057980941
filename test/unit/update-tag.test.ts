// The tag write's two ways of storing what it decided: in its own batch, or, past the store's
// limit per request, through the outbox published after it. In memory: the store's contract
// suite holds the in-memory store to the Cosmos DB adapter's behaviour.
import { describe, expect, it } from 'vitest';
import { withShortLivedCache } from '../../src/app/cached-store';
import type { Store } from '../../src/app/ports';
import { recordArrival } from '../../src/app/record-arrival';
import type { RegionsDeps } from '../../src/app/required-regions';
import { makeTagCache } from '../../src/app/tag-cache';
import type { NewDelivery } from '../../src/app/update-tag';
import { REPLICATED_EVENT_TYPE } from '../../src/events/event-types';
import type { Subscription } from '../../src/events/types';
import { acrEventSchema, toIntent } from '../../src/replication/acr-event';
import { instantFromDate } from '../../src/replication/timestamp';
import { aDigest, aPushEvent } from '../support/fixtures';
import { makeMemoryStore } from '../support/memory-store';

const REGIONS = ['westus', 'eastus', 'canadacentral', 'westeurope'];

const subscription = (id: string): Subscription => ({
  id,
  url: `https://receiver.example/${id}`,
  format: 'cloudevents',
  secret: 'whsec_c2VjcmV0',
  filter: {},
  headers: {},
  types: [REPLICATED_EVENT_TYPE],
  enabled: true,
  createdAt: instantFromDate(new Date(0)),
});

async function aRound(subscriptions: number) {
  const store = makeMemoryStore();
  for (let i = 0; i < subscriptions; i++) await store.subscriptions.create(subscription(`s${i}`));
  const claimed: NewDelivery[] = [];
  const deps: RegionsDeps = {
    store,
    clock: { now: () => instantFromDate(new Date()) },
    defaultRegions: REGIONS,
    maxAttempts: 12,
    tagCache: makeTagCache(),
    onNewDeliveries: (d) => claimed.push(...d),
    firstAttemptLeaseMs: 35_000,
  };
  const digest = aDigest();
  for (const region of REGIONS) {
    const intent = toIntent(acrEventSchema.parse(aPushEvent({ tag: 'v1', digest })), {
      countQuarantine: false,
    });
    if (intent.kind !== 'push') throw new Error('not a push');
    await recordArrival(deps, intent, region);
  }
  const [event] = (await store.events.latest(10)).filter(
    (e) => e.event.type === REPLICATED_EVENT_TYPE,
  );
  if (!event) throw new Error('no replicated event');
  const tag = await store.tags.get({
    registry: 'contoso.azurecr.io',
    repository: 'public/products/web',
    tag: 'v1',
  });
  return { store, claimed, event, tag };
}

describe('what a completing write decided', () => {
  it('is stored with it, claimed for a first attempt sent at once', async () => {
    const { store, claimed, event, tag } = await aRound(3);
    const deliveries = await store.deliveries.listForEvent(event.event.id);
    expect(deliveries.map((d) => d.record.subscriptionId).sort()).toEqual(['s0', 's1', 's2']);
    // Claimed: the timer leaves them to the instance that decided them.
    expect(deliveries.every((d) => (d.record.nextAttemptAt ?? '') > event.recordedAt)).toBe(true);
    expect(claimed.map((c) => c.subscription.id).sort()).toEqual(['s0', 's1', 's2']);
    expect(claimed.every((c) => c.event.event.id === event.event.id)).toBe(true);
    expect(tag?.record.outbox).toEqual([]);
  });

  it('goes through the outbox when it is more than one request can carry', async () => {
    // 120 deliveries and the event: past the 100 items of one batch.
    const { store, event, tag } = await aRound(120);
    const deliveries = await store.deliveries.listForEvent(event.event.id);
    expect(deliveries).toHaveLength(120);
    // Published after the write: due at once, for the delivery timer (or the immediate sender).
    expect(deliveries.every((d) => d.record.state === 'pending')).toBe(true);
    expect(tag?.record.outbox).toEqual([]);
  });
});

/** The store, counting every call by repository and method (the round trips a Cosmos DB store makes). */
function counted(store: Store): { store: Store; calls: string[] } {
  const calls: string[] = [];
  const wrap = <T extends object>(name: string, repository: T): T =>
    new Proxy(repository, {
      get(target, method, receiver) {
        const value = Reflect.get(target, method, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls.push(`${name}.${String(method)}`);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  const wrapped = Object.fromEntries(
    Object.entries(store).map(([name, repository]) => [
      name,
      typeof repository === 'object' && repository !== null ? wrap(name, repository) : repository,
    ]),
  ) as unknown as Store;
  return { store: wrapped, calls };
}

/** One instance's dependencies over `store`: its caches as the app wires them. */
const anInstanceOver = (store: Store): RegionsDeps => ({
  store: withShortLivedCache(store, 60_000),
  clock: { now: () => instantFromDate(new Date()) },
  defaultRegions: REGIONS,
  maxAttempts: 12,
  tagCache: makeTagCache(),
});

describe('what each arrival of a round asks of the store', () => {
  it('one write for an arrival that does not complete; the regions and one write (checking the deletes) for the one that does', async () => {
    const { store, calls } = counted(makeMemoryStore());
    await store.subscriptions.create(subscription('s0'));
    const deps = anInstanceOver(store);
    const digest = aDigest();
    const perArrival: string[][] = [];
    const arrive = async (region: string) => {
      calls.length = 0;
      const intent = toIntent(acrEventSchema.parse(aPushEvent({ tag: 'cost', digest })), {
        countQuarantine: false,
      });
      if (intent.kind !== 'push') throw new Error('not a push');
      await recordArrival(deps, intent, region);
      perArrival.push([...calls]);
    };
    await arrive('westus'); // warms the instance's regions and subscriptions caches
    for (const region of REGIONS.slice(1)) await arrive(region);
    await arrive('eastus'); // a duplicate
    expect(perArrival.slice(1)).toEqual([
      ['tags.save'],
      ['tags.save'],
      ['registries.getRegions', 'tags.save'],
      ['tags.get'],
    ]);
  });

  /** An instance over `store` whose calls are counted per push. */
  function anInstance(store: Store, calls: string[]) {
    const deps = anInstanceOver(store);
    return async (tag: string, digest: string, region: string) => {
      calls.length = 0;
      const event = aPushEvent({
        tag,
        digest,
        repository: 'team/app',
        timestamp: '2026-03-14T09:00:00Z',
      });
      const intent = toIntent(acrEventSchema.parse(event), { countQuarantine: false });
      if (intent.kind !== 'push') throw new Error('not a push');
      const outcome = await recordArrival(deps, intent, region);
      if (outcome.kind !== 'push') throw new Error('not a push');
      return { calls: [...calls], completed: outcome.result.completed !== null };
    };
  }

  it('a delete recorded before the completing push refuses its write, is read, and the round stays open', async () => {
    const { store, calls } = counted(makeMemoryStore());
    const push = anInstance(store, calls);
    const digest = aDigest();
    for (const region of REGIONS.slice(0, 3)) await push('v1', digest, region);
    // Recorded (by a delete webhook elsewhere) but not yet applied to the tag.
    await store.deletions.record(
      'contoso.azurecr.io',
      'team/app',
      digest,
      'westeurope',
      instantFromDate(new Date('2026-03-14T09:05:00Z')),
      instantFromDate(new Date()),
    );
    const last = await push('v1', digest, 'westeurope');
    expect(last).toEqual({
      calls: ['registries.getRegions', 'tags.save', 'deletions.get', 'tags.save'],
      completed: false,
    });
    const stored = await store.tags.get({
      registry: 'contoso.azurecr.io',
      repository: 'team/app',
      tag: 'v1',
    });
    expect(stored?.record.evaluation.status).not.toBe('replicated');
  });

  it('a second tag of the same digest completes on one instance without a read; on another, with one', async () => {
    const { store, calls } = counted(makeMemoryStore());
    const one = anInstance(store, calls);
    const other = anInstance(store, calls);
    const digest = aDigest();
    const completing: Record<string, string[]> = {};
    for (const tag of ['latest', '1.2.3']) {
      for (const region of REGIONS) {
        const { calls: made, completed } = await one(tag, digest, region);
        if (completed) completing[tag] = made;
      }
    }
    for (const region of REGIONS) {
      const { calls: made, completed } = await other('1.2', digest, region);
      if (completed) completing['1.2'] = made;
    }
    expect(completing).toEqual({
      latest: ['registries.getRegions', 'tags.save'],
      '1.2.3': ['registries.getRegions', 'tags.save'],
      '1.2': ['registries.getRegions', 'tags.save', 'deletions.get', 'tags.save'],
    });
  });
});

describe('arrivals of one tag that come at once', () => {
  it('queue behind the running write and go together in one, each told what it changed', async () => {
    const { store, calls } = counted(makeMemoryStore());
    const deps: RegionsDeps = {
      store: withShortLivedCache(store, 60_000),
      clock: { now: () => instantFromDate(new Date()) },
      defaultRegions: [...REGIONS, 'japaneast'],
      maxAttempts: 12,
      tagCache: makeTagCache(),
    };
    const digest = aDigest();
    const push = (region: string) => {
      const intent = toIntent(acrEventSchema.parse(aPushEvent({ tag: 'together', digest })), {
        countQuarantine: false,
      });
      if (intent.kind !== 'push') throw new Error('not a push');
      return recordArrival(deps, intent, region);
    };
    // They queue behind the first write or join it before it starts (one is a duplicate).
    const outcomes = await Promise.all(
      ['westus', 'eastus', 'canadacentral', 'westeurope', 'eastus'].map(push),
    );
    const saves = calls.filter((c) => c === 'tags.save').length;
    expect(saves).toBeGreaterThanOrEqual(1);
    expect(saves).toBeLessThanOrEqual(2);
    expect(outcomes.map((o) => o.kind === 'push' && o.result.written)).toEqual([
      true,
      true,
      true,
      true,
      false,
    ]);
    const tag = await store.tags.get({
      registry: 'contoso.azurecr.io',
      repository: 'public/products/web',
      tag: 'together',
    });
    expect(tag?.record.evaluation.missingRegions).toEqual(['japaneast']);
  });
});

describe('tags of one digest completing at once on one instance', () => {
  it('take turns, and each stamps its events when its turn comes, not before it waited', async () => {
    // Each write takes 1.5 s of the instance's clock: a stamp taken before waiting for the other
    // tag's write would be 3 s old when its own write lands, late for the feed (FEED_SETTLE_MS).
    const store = makeMemoryStore();
    let clockMs = Date.parse('2026-03-14T10:00:00Z');
    const save = store.tags.save.bind(store.tags);
    const slow: Store = {
      ...store,
      tags: {
        ...store.tags,
        save: async (...args) => {
          clockMs += 1_500;
          return save(...args);
        },
      },
    };
    const deps: RegionsDeps = {
      ...anInstanceOver(slow),
      clock: { now: () => instantFromDate(new Date(clockMs)) },
    };
    const digest = aDigest();
    const push = async (tag: string, region: string) => {
      const event = aPushEvent({ tag, digest, timestamp: '2026-03-14T09:00:00Z' });
      const intent = toIntent(acrEventSchema.parse(event), { countQuarantine: false });
      if (intent.kind !== 'push') throw new Error('not a push');
      return recordArrival(deps, intent, region);
    };
    for (const tag of ['latest', '1.2.3']) {
      for (const region of REGIONS.slice(0, 3)) await push(tag, region);
    }
    await Promise.all([push('latest', 'westeurope'), push('1.2.3', 'westeurope')]);
    const { items } = await store.events.list(undefined, 100);
    const stamps = items
      .filter((e) => e.event.type === REPLICATED_EVENT_TYPE)
      .map((e) => Date.parse(e.recordedAt.slice(0, 23) + 'Z'))
      .sort((a, b) => a - b);
    expect(stamps).toHaveLength(2);
    const [first = 0, second = 0] = stamps;
    expect(second - first).toBeGreaterThanOrEqual(1_500);
  });
});
