import { describe, expect, it } from 'vitest';
import { withShortLivedCache } from '../../src/app/cached-store';
import type { RegistryRepository, SubscriptionRepository } from '../../src/app/ports';
import type { Subscription } from '../../src/events/types';
import type { Instant } from '../../src/replication/timestamp';

const AT = '2026-03-14T09:00:00.000000000Z' as Instant;

/** An in-memory fake of the two ports that counts its reads. */
function fakeStore() {
  const regions = new Map<string, string[]>();
  const subscriptions: Subscription[] = [];
  const reads = { regions: 0, subscriptions: 0 };
  const registries: RegistryRepository = {
    getRegions: (registry) => {
      reads.regions += 1;
      const list = regions.get(registry);
      return Promise.resolve(list && { regions: list, updatedAt: AT });
    },
    putRegions: (registry, list) => {
      regions.set(registry, list);
      return Promise.resolve();
    },
    listChangedSince: () => Promise.resolve([...regions.keys()]),
  };
  const subs: SubscriptionRepository = {
    create: (s) => {
      subscriptions.push(s);
      return Promise.resolve();
    },
    get: (id) => Promise.resolve(subscriptions.find((s) => s.id === id)),
    list: () => {
      reads.subscriptions += 1;
      return Promise.resolve([...subscriptions]);
    },
    delete: () => Promise.resolve(true),
    disable: () => Promise.resolve(),
  };
  return { store: { registries, subscriptions: subs }, reads };
}

describe('the short-lived cache', () => {
  it('reads regions once per TTL, and sees its own PUT at once', async () => {
    const { store, reads } = fakeStore();
    let now = 0;
    const cached = withShortLivedCache(store, 5_000, () => now);
    await cached.registries.putRegions('r', ['westus'], AT);
    expect(await cached.registries.getRegions('r')).toMatchObject({ regions: ['westus'] });
    await cached.registries.getRegions('r');
    expect(reads.regions).toBe(1);

    await cached.registries.putRegions('r', ['eastus'], AT);
    expect(await cached.registries.getRegions('r')).toMatchObject({ regions: ['eastus'] });
    expect(reads.regions).toBe(2);

    // A change made elsewhere shows after the TTL.
    await store.registries.putRegions('r', ['japaneast'], AT);
    now = 4_999;
    expect(await cached.registries.getRegions('r')).toMatchObject({ regions: ['eastus'] });
    now = 5_000;
    expect(await cached.registries.getRegions('r')).toMatchObject({ regions: ['japaneast'] });
  });

  it('forgets subscriptions when one is created here', async () => {
    const { store, reads } = fakeStore();
    const cached = withShortLivedCache(store, 60_000, () => 0);
    expect(await cached.subscriptions.list()).toHaveLength(0);
    await cached.subscriptions.list();
    expect(reads.subscriptions).toBe(1);
    await cached.subscriptions.create({ id: 's' } as Subscription);
    expect(await cached.subscriptions.list()).toHaveLength(1);
  });
});
