// Measurement 4: 10 regions x 200 tags at once through five instances: retries, and exactly one completion per tag.
import { prepareDatabase, type BenchEnv } from './support/bench-env';
import {
  runAppContended,
  runNaiveContended,
  type ContendedWorkload,
  type NaiveContendedResult,
} from './support/contended-run';
import type { Counts } from './support/counting-proxy';
import { mean, percentile } from './support/stats';
import { TEN_REGIONS } from './support/workload';

export interface ContentionResult {
  workload: Omit<ContendedWorkload, 'database'>;
  webhooks: number;
  retriesMean: number;
  retriesP99: number;
  retriesMax: number;
  /** Webhooks whose attempts ran out (STORE_MAX_ATTEMPTS, 12): the handler would answer 503. */
  gaveUp: number;
  roundTripsPerWebhook: number;
  counts: Counts;
  webhooksPerSecond: number;
  completedResults: number;
  eventItems: number;
  lostUpdates: number;
  badTags: string[];
  /** Everything that is not exactly one completion per tag; empty when all is well. */
  mismatches: string[];
  naive: NaiveContendedResult;
}

export async function measureContention(env: BenchEnv): Promise<ContentionResult> {
  const database = 'bench-contention';
  await prepareDatabase(env, database);
  const workload: ContendedWorkload = {
    database,
    registry: 'contention.azurecr.io',
    repository: 'contention/app',
    regions: TEN_REGIONS,
    tags: env.quick ? 40 : 200,
    concurrency: 50,
    instances: 5,
  };
  const app = await runAppContended(env, workload);
  env.log(`  contention: app done in ${(app.ms / 1000).toFixed(1)} s`);
  const naive = await runNaiveContended(env, workload);
  env.log(`  contention: naive done in ${(naive.ms / 1000).toFixed(1)} s`);

  const mismatches: string[] = [];
  if (app.eventItems !== workload.tags) {
    mismatches.push(`${app.eventItems} event items for ${workload.tags} tags`);
  }
  if (app.completedResults !== workload.tags) {
    mismatches.push(`${app.completedResults} completing writes for ${workload.tags} tags`);
  }
  if (app.badTags.length > 0) {
    mismatches.push(
      `${app.badTags.length} tags not replicated exactly once: ${app.badTags.slice(0, 5).join(', ')}`,
    );
  }
  if (app.lostUpdates > 0) mismatches.push(`${app.lostUpdates} region arrivals lost`);
  if (app.gaveUp > 0) mismatches.push(`${app.gaveUp} webhooks gave up after 12 attempts (503)`);
  const { database: _database, ...shown } = workload;
  return {
    workload: shown,
    webhooks: app.webhooks,
    retriesMean: mean(app.retries),
    retriesP99: percentile(app.retries, 99),
    retriesMax: Math.max(0, ...app.retries),
    gaveUp: app.gaveUp,
    roundTripsPerWebhook: app.roundTripsPerWebhook,
    counts: app.counts,
    webhooksPerSecond: app.webhooks / (app.ms / 1000),
    completedResults: app.completedResults,
    eventItems: app.eventItems,
    lostUpdates: app.lostUpdates,
    badTags: app.badTags,
    mismatches,
    naive,
  };
}
