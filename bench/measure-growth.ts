// Measurement 5: cost per webhook, status reads and list pages as the store grows to 1 000, 10 000 and 100 000 tags.
import { performance } from 'node:perf_hooks';
import type { Container, ItemDefinition, OperationInput } from '@azure/cosmos';
import { makeApprovalRepository } from '../src/store/approval-repository';
import { tagId, tagPartition } from '../src/store/ids';
import { instantFromDate } from '../src/replication/timestamp';
import {
  measured,
  prepareDatabase,
  settingsFor,
  snapshot,
  type BenchEnv,
} from './support/bench-env';
import type { Child } from './support/child-rpc';
import { diffCounts, totalRequests } from './support/counting-proxy';
import { mean, summarize, type Summary } from './support/stats';
import { READ_TOKEN, aContainer, acrTime, postPush } from './support/workload';

export const GROWTH_DATABASE = 'bench-growth';
const REGISTRY = 'growth.azurecr.io';
const REPOSITORIES = 100;
/**
 * The embedded server answers every query by scanning the whole container. Its query engine's scan
 * was quadratic (over 10 s, the SDK timeout, at 30,000 items); the bench's Cosmos DB process makes
 * it linear (bench/support/linear-scan.ts), so the approvals timer's query, the subscriptions query
 * and the completing webhook are measured at every size. A list page sorts every tag of the
 * registry (ORDER BY updatedAt: about 5 s at 100,000 when probed, blocking the single-threaded
 * server meanwhile), so list pages are measured only up to this size. Real Cosmos DB answers them
 * from the index.
 */
const LIST_MAX_TAGS = 10_000;

export interface ListFigures {
  latency: Summary;
  bytes: number;
  items: number;
  hasMore: boolean;
  roundTrips: number;
}

export interface GrowthPoint {
  /** Seeded tags in the container when measured (plus the few the measurement itself adds). */
  tags: number;
  target: number;
  seedSeconds: number;
  /** Non-completing arrivals (first, later), which use point operations only. */
  arrivalRoundTrips: number;
  arrivalByOperation: Record<string, number>;
  arrivalLatency: Summary;
  /** The completing arrival queries subscriptions (cached 5 s): a scan of the container on the embedded server. */
  completingRoundTrips: number;
  completingLatency: Summary;
  statusRead: Summary;
  /** Baseline: a bare SDK point read of the same items, through the same proxy. */
  pointRead: Summary;
  listRegistry: ListFigures | null;
  listRepository: ListFigures | null;
  /** Why the scanning figures were left out at this size, if they were. */
  skipped: string | null;
  /**
   * Approvals queries the app made while this size was measured (reads, arrivals, lists): none
   * when no approval waits, since a tag write looks them up only where one does.
   */
  approvalQueries: number;
  /** The approvals timer's query (`listDue`, cross-partition), run as the timer runs it. */
  timerQuery: { latency: Summary; roundTrips: number };
  cosmosRssMb: number;
}

export interface GrowthResult {
  targets: number[];
  /** Size of one tag item (a completed 4-region round) as stored: what RU on a real account depend on. */
  tagItemBytes: number;
  seedBudgetSeconds: number;
  points: GrowthPoint[];
  /** Set when the seeding budget ran out before the largest size. */
  shortfall: string | null;
}

const repositoryOf = (i: number): string => `growth/svc-${i % REPOSITORIES}`;

async function timedGet(url: string): Promise<{ ms: number; status: number; text: string }> {
  const started = performance.now();
  const response = await fetch(url, { headers: { authorization: `Bearer ${READ_TOKEN}` } });
  const text = await response.text();
  return { ms: performance.now() - started, status: response.status, text };
}

const postWebhook = (baseUrl: string, tag: string, repository: string, region: number) =>
  postPush(baseUrl, { registry: REGISTRY, repository, tag }, region);

export async function measureGrowth(env: BenchEnv, app: Child): Promise<GrowthResult> {
  const url = String(app.info.url);
  const targets = env.quick ? [1_000, 5_000] : [1_000, 10_000, 100_000];
  const seedBudgetSeconds = env.quick ? 30 : 100;
  await prepareDatabase(env, GROWTH_DATABASE);
  const direct = aContainer(settingsFor(env, GROWTH_DATABASE, true));
  const proxied = aContainer(settingsFor(env, GROWTH_DATABASE));

  // A real tag item, written by the app, is the template every seeded tag is cloned from.
  for (const region of [0, 1, 2, 3]) await postWebhook(url, 'template', repositoryOf(0), region);
  const { resource: raw } = await direct
    .item(tagId({ tag: 'template' }), tagPartition(REGISTRY, repositoryOf(0)))
    .read<ItemDefinition>();
  if (!raw) throw new Error('template tag not found');
  const { _rid, _self, _etag, _ts, _attachments, ...template } = raw;
  const seedOp = (i: number): OperationInput => ({
    operationType: 'Create',
    resourceBody: {
      ...template,
      id: tagId({ tag: `s${i}` }),
      pk: tagPartition(REGISTRY, repositoryOf(i)),
      repository: repositoryOf(i),
      tag: `s${i}`,
      updatedAt: acrTime(Date.UTC(2026, 0, 1) + i * 1000),
    },
  });

  const deadline = performance.now() + seedBudgetSeconds * 1000;
  const points: GrowthPoint[] = [];
  let seeded = 0;
  let shortfall: string | null = null;
  for (const target of targets) {
    const started = performance.now();
    const stopped = await seed(direct, seedOp, seeded, target, deadline, (n) => (seeded = n));
    const seedSeconds = (performance.now() - started) / 1000;
    env.log(`  growth: ${seeded} tags seeded (${seedSeconds.toFixed(1)} s for this step)`);
    if (stopped) {
      shortfall = `seeding stopped at ${seeded} of ${target} tags when the ${seedBudgetSeconds} s budget ran out`;
    }
    const skipped =
      seeded > LIST_MAX_TAGS
        ? `over ${LIST_MAX_TAGS.toLocaleString('en-US')} items a list page makes the embedded server ` +
          'sort every tag of the registry for seconds: list pages not measured'
        : null;
    points.push(await measureAt(env, url, proxied, seeded, target, seedSeconds, skipped));
    if (stopped) break;
  }
  return {
    targets,
    tagItemBytes: Buffer.byteLength(JSON.stringify(raw)),
    seedBudgetSeconds,
    points,
    shortfall,
  };
}

/** Bulk creates through the SDK, a few batches in flight; returns true if the deadline stopped it. */
async function seed(
  container: Container,
  op: (i: number) => OperationInput,
  from: number,
  to: number,
  deadline: number,
  progress: (seeded: number) => void,
): Promise<boolean> {
  const chunk = 1_000;
  for (let start = from; start < to; start += chunk * 2) {
    if (performance.now() > deadline) return true;
    const starts = [start, start + chunk].filter((s) => s < to);
    await Promise.all(
      starts.map(async (s) => {
        const ops = Array.from({ length: Math.min(chunk, to - s) }, (_, k) => op(s + k));
        // The deprecated `bulk` is about twice as fast as executeBulkOperations on the embedded server.
        const results = await container.items.bulk(ops);
        const failed = results.filter((r) => r.statusCode !== 201).length;
        if (failed > 0) throw new Error(`${failed} seed creates failed`);
      }),
    );
    progress(Math.min(to, start + chunk * 2));
  }
  return false;
}

async function measureAt(
  env: BenchEnv,
  url: string,
  proxied: Container,
  seeded: number,
  target: number,
  seedSeconds: number,
  skipped: string | null,
): Promise<GrowthPoint> {
  const countsAtStart = await snapshot(env);
  const reads = env.quick ? 30 : 100;
  const picks = Array.from({ length: reads }, () => Math.floor(Math.random() * seeded));

  const statusMs: number[] = [];
  for (const i of picks) {
    const r = await timedGet(`${url}/api/replications/${REGISTRY}/${repositoryOf(i)}:s${i}`);
    if (r.status !== 200) throw new Error(`status read answered ${r.status}`);
    statusMs.push(r.ms);
  }
  const pointMs: number[] = [];
  for (const i of picks) {
    const started = performance.now();
    await proxied.item(tagId({ tag: `s${i}` }), tagPartition(REGISTRY, repositoryOf(i))).read();
    pointMs.push(performance.now() - started);
  }

  // Rounds on new tags, one webhook at a time so each one's round trips are its own.
  const rounds = env.quick ? 2 : 3;
  const arrivalMs: number[] = [];
  const arrivalRt: number[] = [];
  const arrivalByOperation: Record<string, number> = {};
  const completingMs: number[] = [];
  const completingRt: number[] = [];
  for (let k = 0; k < rounds; k++) {
    const tag = `w${target}-${k}`;
    for (const region of [0, 1, 2, 3]) {
      const { counts, ms } = await measured(env, () =>
        postWebhook(url, tag, repositoryOf(k), region),
      );
      if (region === 3) {
        completingMs.push(ms);
        completingRt.push(totalRequests(counts));
        continue;
      }
      arrivalMs.push(ms);
      arrivalRt.push(totalRequests(counts));
      for (const [op, c] of Object.entries(counts)) {
        arrivalByOperation[op] = (arrivalByOperation[op] ?? 0) + c.requests;
      }
    }
  }

  const list = async (query: string): Promise<ListFigures> => {
    const pages = env.quick ? 3 : 5;
    const ms: number[] = [];
    let last = { status: 0, text: '' };
    let roundTrips = 0;
    for (let p = 0; p < pages; p++) {
      const { result, counts } = await measured(env, () =>
        timedGet(`${url}/api/replications/${REGISTRY}?${query}`),
      );
      if (result.status !== 200) throw new Error(`list answered ${result.status}`);
      ms.push(result.ms);
      last = result;
      roundTrips = totalRequests(counts);
    }
    const body = JSON.parse(last.text) as { items: unknown[]; continuationToken: string | null };
    return {
      latency: summarize(ms),
      bytes: Buffer.byteLength(last.text),
      items: body.items.length,
      hasMore: body.continuationToken !== null,
      roundTrips,
    };
  };
  const listRegistry = skipped ? null : await list('pageSize=50');
  const listRepository = skipped
    ? null
    : await list(`repository=${encodeURIComponent(repositoryOf(7))}&pageSize=50`);
  const approvalQueries =
    diffCounts(await snapshot(env), countsAtStart)['query approval']?.requests ?? 0;
  // The approvals timer's query, as the timer runs it every 10 s (on one instance).
  const approvals = makeApprovalRepository(() => Promise.resolve(proxied));
  const timerMs: number[] = [];
  let timerRoundTrips = 0;
  for (let k = 0; k < 3; k++) {
    const run = await measured(env, () => approvals.listDue(instantFromDate(new Date()), 500));
    timerMs.push(run.ms);
    timerRoundTrips = totalRequests(run.counts);
  }
  const memory = await env.cosmos.call<NodeJS.MemoryUsage>('memory');
  env.log(`  growth: measured at ${seeded} tags${skipped ? ' (no list pages)' : ''}`);
  return {
    tags: seeded,
    target,
    seedSeconds,
    arrivalRoundTrips: mean(arrivalRt),
    arrivalByOperation: Object.fromEntries(
      Object.entries(arrivalByOperation).map(([op, n]) => [op, n / arrivalRt.length]),
    ),
    arrivalLatency: summarize(arrivalMs),
    completingRoundTrips: mean(completingRt),
    completingLatency: summarize(completingMs),
    statusRead: summarize(statusMs),
    pointRead: summarize(pointMs),
    listRegistry,
    listRepository,
    skipped,
    approvalQueries,
    timerQuery: { latency: summarize(timerMs), roundTrips: timerRoundTrips },
    cosmosRssMb: memory.rss / 2 ** 20,
  };
}
