// A few seconds of memory for what every webhook reads and almost never changes: regions, subscriptions.
import type { RegistryRepository, Store, SubscriptionRepository } from './ports';

/**
 * Saves a read per webhook. A change made on this instance is seen at once; on another instance
 * after `ttlMs`. The sweep re-evaluates rounds of registries whose regions changed recently, so a
 * round written with the old regions in that window still completes (see sweep-rounds.ts).
 */
export function withShortLivedCache<S extends Pick<Store, 'registries' | 'subscriptions'>>(
  store: S,
  ttlMs: number,
  nowMs: () => number = Date.now,
): S {
  const regions = new Map<
    string,
    { at: number; value: ReturnType<RegistryRepository['getRegions']> }
  >();
  let subscriptions: { at: number; value: ReturnType<SubscriptionRepository['list']> } | undefined;
  const fresh = (entry: { at: number } | undefined) =>
    entry !== undefined && nowMs() - entry.at < ttlMs;

  const registries: RegistryRepository = {
    ...store.registries,
    getRegions: (registry, options) => {
      const cached = regions.get(registry);
      if (cached && fresh(cached) && options?.fresh !== true) return cached.value;
      const value = store.registries.getRegions(registry);
      regions.set(registry, { at: nowMs(), value });
      // A failed read is not remembered.
      void value.catch(() => regions.delete(registry));
      return value;
    },
    putRegions: async (registry, list, at) => {
      regions.delete(registry);
      await store.registries.putRegions(registry, list, at);
      regions.delete(registry);
    },
  };

  const forget = <R>(run: () => Promise<R>): Promise<R> => {
    subscriptions = undefined;
    return run();
  };
  const subs: SubscriptionRepository = {
    ...store.subscriptions,
    list: () => {
      if (subscriptions && fresh(subscriptions)) return subscriptions.value;
      const value = store.subscriptions.list();
      subscriptions = { at: nowMs(), value };
      void value.catch(() => (subscriptions = undefined));
      return value;
    },
    create: (subscription) => forget(() => store.subscriptions.create(subscription)),
    delete: (id) => forget(() => store.subscriptions.delete(id)),
    disable: (id, reason) => forget(() => store.subscriptions.disable(id, reason)),
  };

  return { ...store, registries, subscriptions: subs };
}
