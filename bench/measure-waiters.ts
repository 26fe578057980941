// Measurement 7: 1,000 long-polls held on one instance (on one tag, on 1,000 tags): its memory and the store reads they cost, then after their clients hang up.
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { memoryOf, startApp, type MemoryFigures } from './measure-footprint';
import { benchEnvOf, prepareDatabase, snapshot, type BenchEnv } from './support/bench-env';
import { startChild, type Child } from './support/child-rpc';
import { diffCounts, type Counts } from './support/counting-proxy';
import { READ_TOKEN } from './support/workload';

export interface WaiterScenario {
  name: string;
  waiters: number;
  tags: number;
  /** The app instance before the long-polls, while it holds them, and after their clients left. */
  memory: { before: MemoryFigures; holding: MemoryFigures; afterAbort: MemoryFigures };
  /** Store reads per second while held, by kind (`read tag`, `read registry`, …). */
  readsPerSecond: { holding: number; byKind: Record<string, number> };
  /** After the clients hang up: reads still made, and how long until none were (null: not within the limit). */
  afterAbort: { reads: number; quietAfterSeconds: number | null };
  /** Long-polls answered while they should have been held (503 beyond MAX_WAITERS, errors). */
  answeredEarly: Record<string, number>;
}

export interface WaitersResult {
  holdSeconds: number;
  scenarios: WaiterScenario[];
}

const REGISTRY = 'waiters.azurecr.io';
const HOLD_MS = 6_000;
/** Long-polls reach the instance over this long; the window measured starts after it. */
const RAMP_MS = 6_000;
/** No store read for this long counts as quiet; past the limit, the waiters are still polling. */
const QUIET_MS = 1_000;
const QUIET_LIMIT_MS = 30_000;

const readsIn = (counts: Counts): number =>
  Object.entries(counts)
    .filter(([kind]) => kind.startsWith('read ') || kind.startsWith('query '))
    .reduce((sum, [, c]) => sum + c.requests, 0);

async function scenario(
  env: BenchEnv,
  app: Child,
  name: string,
  waiters: number,
  tags: number,
): Promise<WaiterScenario> {
  const url = String(app.info.url);
  const before = await memoryOf(app);
  const clients = Array.from({ length: waiters }, () => new AbortController());
  const answeredEarly: Record<string, number> = {};
  const polls = clients.map((client, i) =>
    fetch(
      `${url}/api/replications/${REGISTRY}/bench/waiters:${name.replace(/\W/g, '')}-${i % tags}?wait=120`,
      { headers: { authorization: `Bearer ${READ_TOKEN}` }, signal: client.signal },
    ).then(
      async (response) => {
        await response.arrayBuffer();
        answeredEarly[response.status] = (answeredEarly[response.status] ?? 0) + 1;
      },
      (error: Error) => {
        if (error.name !== 'AbortError') {
          answeredEarly[error.name] = (answeredEarly[error.name] ?? 0) + 1;
        }
      },
    ),
  );
  await sleep(RAMP_MS);
  const start = await snapshot(env);
  await sleep(HOLD_MS);
  const held = await snapshot(env);
  const holding = await memoryOf(app);
  for (const client of clients) client.abort();
  const abortedAt = Date.now();
  const aborted = await snapshot(env);
  await Promise.all(polls);
  // Reads already sent finish; then there should be none (before the fix: one per waiter and poll).
  let quietAfterSeconds: number | null = null;
  let last = aborted;
  while (Date.now() - abortedAt < QUIET_LIMIT_MS) {
    await sleep(QUIET_MS);
    const now = await snapshot(env);
    if (readsIn(diffCounts(now, last)) === 0) {
      quietAfterSeconds = (Date.now() - abortedAt - QUIET_MS) / 1000;
      break;
    }
    last = now;
  }
  const heldCounts = diffCounts(held, start);
  return {
    name,
    waiters,
    tags,
    memory: { before, holding, afterAbort: await memoryOf(app) },
    readsPerSecond: {
      holding: readsIn(heldCounts) / (HOLD_MS / 1000),
      byKind: Object.fromEntries(
        Object.entries(heldCounts)
          .filter(([kind]) => kind.startsWith('read ') || kind.startsWith('query '))
          .map(([kind, c]) => [kind, c.requests / (HOLD_MS / 1000)]),
      ),
    },
    afterAbort: { reads: readsIn(diffCounts(await snapshot(env), aborted)), quietAfterSeconds },
    answeredEarly,
  };
}

export async function measureWaiters(env: BenchEnv, app: Child): Promise<WaitersResult> {
  const scenarios: WaiterScenario[] = [];
  for (const [name, tags] of [
    ['1,000 waiters on one tag', 1],
    ['1,000 waiters on 1,000 tags', 1000],
  ] as const) {
    env.log(`  ${name}`);
    scenarios.push(await scenario(env, app, name, 1000, tags));
    // Let the instance forget the last scenario's waiters before the next.
    await sleep(2_000);
  }
  return { holdSeconds: HOLD_MS / 1000, scenarios };
}

export function waitersTable(result: WaitersResult): string {
  const mb = (n: number) => n.toFixed(0);
  const rows = result.scenarios.map(
    (s) =>
      `| ${s.name} | ${mb(s.memory.before.rssMb)} → ${mb(s.memory.holding.rssMb)} → ${mb(s.memory.afterAbort.rssMb)} | ` +
      `${mb(s.memory.before.heapUsedMb)} → ${mb(s.memory.holding.heapUsedMb)} → ${mb(s.memory.afterAbort.heapUsedMb)} | ` +
      `${s.readsPerSecond.holding.toFixed(1)} | ${s.afterAbort.reads} | ` +
      `${s.afterAbort.quietAfterSeconds === null ? `not within ${QUIET_LIMIT_MS / 1000} s` : `${s.afterAbort.quietAfterSeconds.toFixed(1)} s`} | ` +
      `${
        Object.entries(s.answeredEarly)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', ') || 'none'
      } |`,
  );
  return [
    '| scenario | RSS MB (before → holding → after abort) | heap MB (same) | store reads/s holding | store reads after abort | no more reads after | answered early |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

/** `node dist/bench/measure-waiters.js`: this measurement alone, with its own store and instance. */
async function main(): Promise<void> {
  const started = Date.now();
  const log = (line: string) =>
    process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
  const cosmos = await startChild(path.join(__dirname, 'support/cosmos-process.js'), {});
  let app: Child | undefined;
  try {
    const env = benchEnvOf(cosmos, log);
    await prepareDatabase(env, 'bench-waiters');
    app = (await startApp(env, 'bench-waiters', 'w')).child;
    const result = await measureWaiters(env, app);
    console.log(waitersTable(result));
    console.log(JSON.stringify(result));
  } finally {
    await app?.stop();
    await cosmos.stop();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
