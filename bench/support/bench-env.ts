// What every measurement gets: the Cosmos DB side (through the counting proxy, or direct) and the run's options.
import { performance } from 'node:perf_hooks';
import {
  ensureContainer,
  createCosmosClient,
  type CosmosSettings,
} from '../../src/store/cosmos-store';
import type { Child } from './child-rpc';
import { diffCounts, totalRequests, type Counts } from './counting-proxy';

export interface BenchEnv {
  /** The child running the embedded Cosmos DB server and the counting proxy. */
  cosmos: Child;
  /** Through the counting proxy: every client that is measured uses this. */
  endpoint: string;
  /** Straight to the server: seeding and checks that should not be counted. */
  directEndpoint: string;
  key: string;
  quick: boolean;
  log(line: string): void;
}

/** The environment of measurements against the Cosmos DB child (support/cosmos-process.ts). */
export const benchEnvOf = (
  cosmos: Child,
  log: (line: string) => void,
  quick = false,
): BenchEnv => ({
  cosmos,
  endpoint: String(cosmos.info.endpoint),
  directEndpoint: String(cosmos.info.directEndpoint),
  key: String(cosmos.info.key),
  quick,
  log,
});

export function settingsFor(env: BenchEnv, database: string, direct = false): CosmosSettings {
  return {
    endpoint: direct ? env.directEndpoint : env.endpoint,
    key: env.key,
    database,
    container: 'replication',
  };
}

/** Creates the database and container as the app would, so instances start as on Azure: it exists. */
export async function prepareDatabase(env: BenchEnv, database: string): Promise<void> {
  const settings = settingsFor(env, database, true);
  const client = createCosmosClient(settings);
  await ensureContainer(client, settings);
  client.dispose();
}

export const snapshot = (env: BenchEnv): Promise<Counts> => env.cosmos.call<Counts>('snapshot');

/** Waits until no round trips are in flight (work a load generator left running has finished). */
export async function quiesce(env: BenchEnv, maxMs = 10_000): Promise<void> {
  const started = performance.now();
  let last = -1;
  while (performance.now() - started < maxMs) {
    const now = totalRequests(await snapshot(env));
    if (now === last) return;
    last = now;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/** Runs `work` alone and returns what it cost in round trips (by operation) and in time. */
export async function measured<T>(
  env: BenchEnv,
  work: () => Promise<T>,
): Promise<{ result: T; counts: Counts; ms: number }> {
  const before = await snapshot(env);
  const started = performance.now();
  const result = await work();
  const ms = performance.now() - started;
  const after = await snapshot(env);
  return { result, counts: diffCounts(after, before), ms };
}
