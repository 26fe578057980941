// Delivers many tags' regional webhooks at once through several instances, with the app, the naive RMW and the floor.
import type { Container } from '@azure/cosmos';
import { recordArrival } from '../../src/app/record-arrival';
import type { RegionsDeps } from '../../src/app/required-regions';
import { StoreUnavailableError } from '../../src/app/ports';
import { REPLICATED_EVENT_TYPE } from '../../src/events/event-types';
import { EVENTS_PARTITION, tagId, tagPartition } from '../../src/store/ids';
import { measured, settingsFor, type BenchEnv } from './bench-env';
import { totalRequests, type Counts } from './counting-proxy';
import { mapLimit } from './stats';
import {
  aContainer,
  anAppInstance,
  anArrival,
  digestOf,
  floorArrival,
  naiveArrival,
  readNaiveRegions,
  type Arrival,
} from './workload';

export interface ContendedWorkload {
  database: string;
  registry: string;
  repository: string;
  regions: readonly string[];
  tags: number;
  /** Webhooks in flight at once, across all instances. */
  concurrency: number;
  instances: number;
}

/** Tag-major order: a tag's regions are delivered together, as ACR's replicas report close together. */
function contendedArrivals(w: ContendedWorkload, prefix: string): Arrival[] {
  const base = Date.UTC(2026, 2, 14, 9, 0, 0);
  return Array.from({ length: w.tags }, (_, t) =>
    w.regions.map((region, r) =>
      anArrival({
        registry: w.registry,
        repository: w.repository,
        tag: `${prefix}-${t}`,
        digest: digestOf(`${w.database}/${prefix}-${t}`),
        region,
        atMs: base + t * 10 + r,
      }),
    ),
  ).flat();
}

export interface AppContendedResult {
  webhooks: number;
  counts: Counts;
  roundTripsPerWebhook: number;
  retries: number[];
  /** Webhooks that gave up after STORE_MAX_ATTEMPTS: the HTTP handler would answer 503. */
  gaveUp: number;
  completedResults: number;
  eventItems: number;
  /** Region arrivals acknowledged but missing from the stored item afterwards. */
  lostUpdates: number;
  /** Tags whose stored state is not replicated with exactly one completion for their digest. */
  badTags: string[];
  ms: number;
}

export async function runAppContended(
  env: BenchEnv,
  w: ContendedWorkload,
  maxAttempts = 12,
): Promise<AppContendedResult> {
  const settings = settingsFor(env, w.database);
  const instances = Array.from({ length: w.instances }, () =>
    anAppInstance(settings, w.regions, maxAttempts),
  );
  const check = aContainer(settingsFor(env, w.database, true));
  // One uncounted round per instance: SDK caches and the container check are paid once per instance.
  await Promise.all(
    instances.map((deps, i) =>
      Promise.all(
        contendedArrivals({ ...w, tags: 1 }, `warm-${i}`).map((a) =>
          recordArrival(deps, a.intent, a.region, a.body),
        ),
      ),
    ),
  );
  const arrivals = contendedArrivals(w, 'app');
  const eventsBefore = await countEvents(check);
  const retries: number[] = [];
  let gaveUp = 0;
  let completedResults = 0;
  const { counts, ms } = await measured(env, () =>
    mapLimit(arrivals, w.concurrency, async (a, i) => {
      const deps = instances[i % instances.length] as RegionsDeps;
      try {
        const outcome = await recordArrival(deps, a.intent, a.region, a.body);
        if (outcome.kind === 'push') {
          retries.push(outcome.result.attempts - 1);
          if (outcome.result.completed) completedResults += 1;
        }
      } catch (error) {
        if (!(error instanceof StoreUnavailableError)) throw error;
        gaveUp += 1;
      }
    }),
  );
  const eventItems = (await countEvents(check)) - eventsBefore;
  const badTags: string[] = [];
  let lostUpdates = 0;
  await mapLimit(
    Array.from({ length: w.tags }, (_, t) => `app-${t}`),
    16,
    async (tag) => {
      const { resource } = await check
        .item(tagId({ tag }), tagPartition(w.registry, w.repository))
        .read<{
          status: string;
          digest: string;
          completions: { digest: string }[];
          observations: Record<string, Record<string, unknown>>;
        }>();
      const digest = digestOf(`${w.database}/${tag}`);
      lostUpdates += w.regions.filter(
        (r) => resource?.observations[r]?.[digest] === undefined,
      ).length;
      const ok =
        resource?.status === 'replicated' &&
        resource.completions.filter((c) => c.digest === resource.digest).length === 1;
      if (!ok) badTags.push(tag);
    },
  );
  return {
    webhooks: arrivals.length,
    counts,
    roundTripsPerWebhook: totalRequests(counts) / arrivals.length,
    retries,
    gaveUp,
    completedResults,
    eventItems,
    lostUpdates,
    badTags,
    ms,
  };
}

export interface NaiveContendedResult {
  webhooks: number;
  counts: Counts;
  roundTripsPerWebhook: number;
  /** Region arrivals acknowledged but missing from the stored item afterwards. */
  lostUpdates: number;
  tagsWithLostUpdates: number;
  emitted: number;
  /** Tags that never emitted their event, and tags that emitted it more than once. */
  missedCompletions: number;
  duplicateCompletions: number;
  ms: number;
}

export async function runNaiveContended(
  env: BenchEnv,
  w: ContendedWorkload,
): Promise<NaiveContendedResult> {
  const settings = settingsFor(env, w.database);
  const containers = Array.from({ length: w.instances }, () => aContainer(settings));
  await Promise.all(
    containers.map((c, i) =>
      Promise.all(
        contendedArrivals({ ...w, tags: 1 }, `naive-warm-${i}`).map((a) =>
          naiveArrival(c, a, w.regions),
        ),
      ),
    ),
  );
  const arrivals = contendedArrivals(w, 'naive');
  const emittedByTag = new Map<string, number>();
  const { counts, ms } = await measured(env, () =>
    mapLimit(arrivals, w.concurrency, async (a, i) => {
      const result = await naiveArrival(
        containers[i % containers.length] as Container,
        a,
        w.regions,
      );
      if (result.emitted) {
        const tag = a.intent.tag ?? '';
        emittedByTag.set(tag, (emittedByTag.get(tag) ?? 0) + 1);
      }
    }),
  );
  const check = aContainer(settingsFor(env, w.database, true));
  let lostUpdates = 0;
  let tagsWithLostUpdates = 0;
  await mapLimit(
    Array.from({ length: w.tags }, (_, t) => `naive-${t}`),
    16,
    async (tag) => {
      const regions = await readNaiveRegions(check, w.registry, w.repository, tag);
      const lost = w.regions.filter((r) => regions[r] === undefined).length;
      lostUpdates += lost;
      if (lost > 0) tagsWithLostUpdates += 1;
    },
  );
  const perTag = Array.from({ length: w.tags }, (_, t) => emittedByTag.get(`naive-${t}`) ?? 0);
  return {
    webhooks: arrivals.length,
    counts,
    roundTripsPerWebhook: totalRequests(counts) / arrivals.length,
    lostUpdates,
    tagsWithLostUpdates,
    emitted: perTag.reduce((a, b) => a + b, 0),
    missedCompletions: perTag.filter((n) => n === 0).length,
    duplicateCompletions: perTag.filter((n) => n > 1).length,
    ms,
  };
}

export async function runFloorContended(
  env: BenchEnv,
  w: ContendedWorkload,
): Promise<{ webhooks: number; counts: Counts; roundTripsPerWebhook: number; ms: number }> {
  const settings = settingsFor(env, w.database);
  const containers = Array.from({ length: w.instances }, () => aContainer(settings));
  await Promise.all(
    containers.map((c, i) =>
      Promise.all(
        contendedArrivals({ ...w, tags: 1 }, `floor-warm-${i}`).map((a) => floorArrival(c, a)),
      ),
    ),
  );
  const arrivals = contendedArrivals(w, 'floor');
  const { counts, ms } = await measured(env, () =>
    mapLimit(arrivals, w.concurrency, (a, i) =>
      floorArrival(containers[i % containers.length] as Container, a),
    ),
  );
  return {
    webhooks: arrivals.length,
    counts,
    roundTripsPerWebhook: totalRequests(counts) / arrivals.length,
    ms,
  };
}

/**
 * "Replicated" event items are what "exactly once" means here: one per (tag, digest), whoever
 * wrote it. Per-region `acrgate.tag.arrived` events (one per region) are not counted.
 */
async function countEvents(container: Container): Promise<number> {
  const { resources } = await container.items
    .query<string>(
      {
        query: "SELECT VALUE c.id FROM c WHERE c.type = 'event' AND c.event.type = @type",
        parameters: [{ name: '@type', value: REPLICATED_EVENT_TYPE }],
      },
      { partitionKey: EVENTS_PARTITION },
    )
    .fetchAll();
  return resources.length;
}
