// Measurement 1: Cosmos DB round trips per webhook by kind of arrival, beside the floor and a naive read-modify-write.
import type { Container } from '@azure/cosmos';
import { recordArrival } from '../src/app/record-arrival';
import type { RegionsDeps } from '../src/app/required-regions';
import { measured, prepareDatabase, settingsFor, type BenchEnv } from './support/bench-env';
import {
  runAppContended,
  runFloorContended,
  runNaiveContended,
  type AppContendedResult,
  type ContendedWorkload,
  type NaiveContendedResult,
} from './support/contended-run';
import { estimateRu } from './request-units';
import { totalCharge, totalRequests, type Counts } from './support/counting-proxy';
import { mean, percentile, round } from './support/stats';
import {
  FOUR_REGIONS,
  aContainer,
  aSubscription,
  anAppInstance,
  anArrival,
  digestOf,
  floorArrival,
  naiveArrival,
  type Arrival,
} from './support/workload';

export const KINDS = ['first', 'later', 'completing', 'duplicate', 're-push', 'stale'] as const;
export type Kind = (typeof KINDS)[number];
type Impl = 'app' | 'naive' | 'floor';

export interface KindCost {
  n: number;
  roundTrips: number;
  charge: number;
  /** Write operations per webhook (create, replace, upsert, outbox clear). */
  writes: number;
  /** Mean round trips per webhook, by operation. */
  byOperation: Record<string, number>;
  /** RU a real account would charge, estimated from `byOperation` and the stored sizes (bench/request-units.ts). */
  ru: number;
  latencyP50Ms: number;
}

export interface StoreCostResult {
  sequential: Record<Impl, Record<Kind, KindCost>>;
  /** Mean round trips per webhook over a 4-region round (first, later, later, completing). */
  roundAverage: Record<Impl, number>;
  /** Mean stored size (JSON, system properties included) of each item type after the run, in bytes. */
  itemBytes: Record<string, number>;
  /** Estimated RU of a whole 4-region round (first + 2 later + completing), documented per operation. */
  ruPerRound: Record<Impl, number>;
  contended: {
    workload: Omit<ContendedWorkload, 'database'>;
    app: Omit<AppContendedResult, 'retries' | 'badTags'> & {
      retriesMean: number;
      retriesMax: number;
      badTags: number;
    };
    naive: NaiveContendedResult;
    floor: { roundTripsPerWebhook: number; webhooks: number };
  };
}

interface Sample {
  kind: Kind;
  counts: Counts;
  ms: number;
}

const REGISTRY = 'storecost.azurecr.io';
const REPOSITORY = 'bench/store-cost';

const isWrite = (operation: string): boolean =>
  /^(create|replace|upsert|patch|put|delete|batch)\b/.test(operation) ||
  operation === 'outbox clear';

/** The webhooks of one tag, labelled with the kind of arrival each is. */
function script(
  family: 'round' | 'repush',
  tag: string,
): { kind: Kind | null; arrival: Arrival }[] {
  const t0 = Date.UTC(2026, 2, 14, 9, 0, 0);
  const at = (region: number, digest: string, offsetMs: number) =>
    anArrival({
      registry: REGISTRY,
      repository: REPOSITORY,
      tag,
      digest,
      region: FOUR_REGIONS[region] as string,
      atMs: t0 + offsetMs,
    });
  const a = digestOf(`${tag}/a`);
  const b = digestOf(`${tag}/b`);
  if (family === 'round') {
    const later = at(1, a, 1000);
    return [
      { kind: 'first', arrival: at(0, a, 0) },
      { kind: 'later', arrival: later },
      { kind: 'later', arrival: at(2, a, 2000) },
      { kind: 'completing', arrival: at(3, a, 3000) },
      // ACR retrying a delivery sends the very same payload.
      { kind: 'duplicate', arrival: later },
    ];
  }
  return [
    { kind: null, arrival: at(0, a, 0) },
    { kind: null, arrival: at(1, a, 1000) },
    // A re-push: a new digest, pushed a minute later, starts a new round on an existing tag.
    { kind: 're-push', arrival: at(0, b, 60_000) },
    // A region that had not reported the old digest yet does so now.
    { kind: 'stale', arrival: at(2, a, 2000) },
  ];
}

function aggregate(samples: Sample[], itemBytes: Record<string, number>): Record<Kind, KindCost> {
  const out = {} as Record<Kind, KindCost>;
  for (const kind of KINDS) {
    const mine = samples.filter((s) => s.kind === kind);
    const totals: Record<string, number> = {};
    for (const s of mine) {
      for (const [op, c] of Object.entries(s.counts)) totals[op] = (totals[op] ?? 0) + c.requests;
    }
    // Sum first, divide once: means that are whole numbers stay whole.
    const byOperation = Object.fromEntries(
      Object.entries(totals).map(([op, n]) => [op, round(n / mine.length, 3)]),
    );
    out[kind] = {
      n: mine.length,
      roundTrips: mean(mine.map((s) => totalRequests(s.counts))),
      charge: mean(mine.map((s) => totalCharge(s.counts))),
      writes: round(
        Object.entries(byOperation)
          .filter(([op]) => isWrite(op))
          .reduce((sum, [, n]) => sum + n, 0),
        3,
      ),
      byOperation,
      ru: round(estimateRu(byOperation, itemBytes), 2),
      latencyP50Ms: percentile(
        mine.map((s) => s.ms),
        50,
      ),
    };
  }
  return out;
}

export async function measureStoreCost(env: BenchEnv): Promise<StoreCostResult> {
  const database = 'bench-store-cost';
  await prepareDatabase(env, database);
  const settings = settingsFor(env, database);
  const app: RegionsDeps = anAppInstance(settings, FOUR_REGIONS);
  // One subscription, so completing also opens a delivery, as it would in use.
  await app.store.subscriptions.create(aSubscription());
  const naive: Container = aContainer(settings);
  const floor: Container = aContainer(settings);
  const run: Record<Impl, (a: Arrival) => Promise<unknown>> = {
    app: (a) => recordArrival(app, a.intent, a.region, a.body),
    naive: (a) => naiveArrival(naive, a, FOUR_REGIONS),
    floor: (a) => floorArrival(floor, a),
  };

  const tags = env.quick ? 8 : 30;
  const samples: Record<Impl, Sample[]> = { app: [], naive: [], floor: [] };
  const perTagRound: Record<Impl, number[]> = { app: [], naive: [], floor: [] };
  for (const impl of ['app', 'naive', 'floor'] as const) {
    // Uncounted warm-up: the SDK's metadata caches and the app's container check.
    for (const step of [...script('round', 'warm'), ...script('repush', 'warm-repush')]) {
      await run[impl](step.arrival);
    }
    for (let i = 0; i < tags; i++) {
      let round = 0;
      for (const family of ['round', 'repush'] as const) {
        for (const step of script(family, `${family}-${i}`)) {
          // One webhook at a time, so every round trip between two snapshots is this webhook's.
          const { counts, ms } = await measured(env, () => run[impl](step.arrival));
          if (step.kind === null) continue;
          samples[impl].push({ kind: step.kind, counts, ms });
          if (family === 'round' && step.kind !== 'duplicate') round += totalRequests(counts);
        }
      }
      perTagRound[impl].push(round / 4);
    }
    env.log(`  store cost: ${impl} done`);
  }

  // What each item type weighs as stored, for the RU estimate (read straight from the server).
  const { resources: items } = await aContainer(settingsFor(env, database, true))
    .items.query<{ type?: string }>('SELECT * FROM c')
    .fetchAll();
  const sizes: Record<string, number[]> = {};
  for (const item of items) {
    (sizes[item.type ?? 'other'] ??= []).push(Buffer.byteLength(JSON.stringify(item)));
  }
  const itemBytes = Object.fromEntries(
    Object.entries(sizes).map(([type, bytes]) => [type, Math.round(mean(bytes))]),
  );
  const sequential = {
    app: aggregate(samples.app, itemBytes),
    naive: aggregate(samples.naive, itemBytes),
    floor: aggregate(samples.floor, itemBytes),
  };
  const ruPerRound = (impl: Impl): number => {
    const k = sequential[impl];
    return round(k.first.ru + 2 * k.later.ru + k.completing.ru, 2);
  };

  const workload: ContendedWorkload = {
    database,
    registry: REGISTRY,
    repository: 'bench/contended-4',
    regions: FOUR_REGIONS,
    tags: env.quick ? 20 : 60,
    concurrency: 16,
    instances: 5,
  };
  const appContended = await runAppContended(env, workload);
  const naiveContended = await runNaiveContended(env, workload);
  const floorContended = await runFloorContended(env, workload);
  const { database: _db, ...shownWorkload } = workload;
  const { retries, badTags, ...appTotals } = appContended;
  return {
    sequential,
    roundAverage: {
      app: mean(perTagRound.app),
      naive: mean(perTagRound.naive),
      floor: mean(perTagRound.floor),
    },
    itemBytes,
    ruPerRound: { app: ruPerRound('app'), naive: ruPerRound('naive'), floor: ruPerRound('floor') },
    contended: {
      workload: shownWorkload,
      app: {
        ...appTotals,
        retriesMean: mean(retries),
        retriesMax: Math.max(0, ...retries),
        badTags: badTags.length,
      },
      naive: naiveContended,
      floor: {
        roundTripsPerWebhook: floorContended.roundTripsPerWebhook,
        webhooks: floorContended.webhooks,
      },
    },
  };
}
