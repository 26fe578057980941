// A registry's required regions: its own setting when one was PUT, else REPLICATION_REGIONS.
import type { Instant } from '../replication/timestamp';
import type { ImageDeps } from './follow-image';
import type { Store } from './ports';
import { updateTag, type UpdateDeps } from './update-tag';

export interface RegionsDeps extends UpdateDeps {
  store: Pick<
    Store,
    'registries' | 'tags' | 'deletions' | 'events' | 'subscriptions' | 'deliveries' | 'images'
  >;
  defaultRegions: readonly string[];
  /** Multi-platform images and region verification; absent: a manifest's webhook is the arrival. */
  images?: ImageDeps;
}

export interface RequiredRegions {
  registry: string;
  regions: string[];
  source: 'registry' | 'default';
  updatedAt: Instant | null;
}

export async function getRequiredRegions(
  deps: { store: Pick<Store, 'registries'>; defaultRegions: readonly string[] },
  registry: string,
  options?: { fresh?: boolean },
): Promise<RequiredRegions> {
  const own = await deps.store.registries.getRegions(registry, options);
  return own
    ? { registry, regions: own.regions, source: 'registry', updatedAt: own.updatedAt }
    : { registry, regions: [...deps.defaultRegions], source: 'default', updatedAt: null };
}

export type ScopeCheck =
  { ok: true; scope: string[] } | { ok: false; unknown: string[]; configured: string[] };

/** A subset of the registry's regions to compute a status over; regions it does not have are named. */
export async function checkScope(
  deps: { store: Pick<Store, 'registries'>; defaultRegions: readonly string[] },
  registry: string,
  requested: readonly string[],
): Promise<ScopeCheck> {
  const { regions } = await getRequiredRegions(deps, registry);
  const unknown = [...new Set(requested)].filter((r) => !regions.includes(r)).sort();
  return unknown.length > 0
    ? { ok: false, unknown, configured: regions }
    : { ok: true, scope: [...new Set(requested)].sort() };
}

/** Stores the regions, then re-evaluates every open round so a tag waiting only on a removed region completes. */
export async function setRequiredRegions(
  deps: RegionsDeps,
  registry: string,
  regions: string[],
): Promise<RequiredRegions & { reevaluated: number; completed: number }> {
  const sorted = [...new Set(regions)].sort();
  const at = deps.clock.now();
  await deps.store.registries.putRegions(registry, sorted, at);
  let reevaluated = 0;
  let completed = 0;
  for await (const key of deps.store.tags.listOpen(registry)) {
    const result = await updateTag(deps, key, (s) => s, sorted);
    reevaluated += 1;
    if (result.completed) completed += 1;
  }
  return { registry, regions: sorted, source: 'registry', updatedAt: at, reevaluated, completed };
}
