// Measurement 2: webhooks per second and latency over HTTP with autocannon, the app beside a bare one-upsert server.
import autocannon from 'autocannon';
import { quiesce, snapshot, type BenchEnv } from './support/bench-env';
import type { Child } from './support/child-rpc';
import { diffCounts, totalRequests, type Counts } from './support/counting-proxy';
import { FOUR_REGIONS, WEBHOOK_TOKEN, acrTime, digestOf } from './support/workload';
import { aPushEvent } from '../test/support/fixtures';

export interface IngestRun {
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMeanMs: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationSeconds: number;
  /** Cosmos DB round trips per answered webhook, retries included. */
  roundTripsPerWebhook: number;
  counts: Counts;
}

export interface IngestResult {
  connections: number;
  durationSeconds: number;
  app: IngestRun;
  baseline: IngestRun;
  /** The baseline's upsert as a function on the app's host: what the host path costs alone. */
  hostedFunction?: IngestRun;
}

const REPOSITORIES = 16;

/**
 * Unique webhooks: tag after tag, each reported by the four regions in turn, so a tag's regions
 * are in flight together on different connections, as replicas report close together.
 */
export function webhookRequests(prefix: string): autocannon.Request[] {
  let n = 0;
  const t0 = Date.UTC(2026, 2, 14, 9, 0, 0);
  return [
    {
      method: 'POST',
      setupRequest: (request) => {
        const i = n++;
        const tagIndex = Math.floor(i / FOUR_REGIONS.length);
        const region = FOUR_REGIONS[i % FOUR_REGIONS.length] as string;
        const tag = `${prefix}-${tagIndex}`;
        const body = aPushEvent({
          registry: 'ingest.azurecr.io',
          repository: `ingest/svc-${tagIndex % REPOSITORIES}`,
          tag,
          digest: digestOf(tag),
          timestamp: acrTime(t0 + tagIndex * 10 + (i % FOUR_REGIONS.length)),
        });
        return { ...request, path: `/api/webhooks/acr/${region}`, body: JSON.stringify(body) };
      },
    },
  ];
}

/** autocannon posting `webhookRequests(prefix)` as ACR does, with a webhook token. */
export function postWebhooks(
  url: string,
  prefix: string,
  connections: number,
  seconds: number,
): Promise<autocannon.Result> {
  return autocannon({
    url,
    connections,
    duration: seconds,
    timeout: 30,
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${WEBHOOK_TOKEN}`,
      'user-agent': 'AzureContainerRegistry/1.0',
    },
    requests: webhookRequests(prefix),
  });
}

async function cannon(
  env: BenchEnv,
  url: string,
  prefix: string,
  connections: number,
  seconds: number,
): Promise<IngestRun> {
  const before = await snapshot(env);
  const result = await postWebhooks(url, prefix, connections, seconds);
  // Webhooks still in flight when autocannon stopped finish before the count is taken.
  await quiesce(env);
  const counts = diffCounts(await snapshot(env), before);
  const answered = result['2xx'] + result.non2xx;
  return {
    requestsPerSecond: result.requests.average,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    latencyMeanMs: result.latency.average,
    requests: answered,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationSeconds: result.duration,
    roundTripsPerWebhook: answered === 0 ? Number.NaN : totalRequests(counts) / answered,
    counts,
  };
}

export async function measureIngest(
  env: BenchEnv,
  app: Child,
  baseline: Child,
  hostedFunction: Child,
): Promise<IngestResult> {
  const connections = 8;
  const seconds = env.quick ? 3 : 10;
  const warmup = env.quick ? 1 : 2;
  const appUrl = String(app.info.url);
  const baselineUrl = String(baseline.info.url);
  const functionUrl = String(hostedFunction.info.url);
  // Warm all three (JIT, SDK caches, sockets) before anything is recorded.
  await cannon(env, appUrl, 'warm-app', connections, warmup);
  await cannon(env, baselineUrl, 'warm-base', connections, warmup);
  await cannon(env, functionUrl, 'warm-function', connections, warmup);
  const appRun = await cannon(env, appUrl, 'app', connections, seconds);
  env.log(`  ingest: app ${appRun.requestsPerSecond.toFixed(0)} webhooks/s`);
  const baselineRun = await cannon(env, baselineUrl, 'base', connections, seconds);
  env.log(`  ingest: baseline ${baselineRun.requestsPerSecond.toFixed(0)} webhooks/s`);
  const functionRun = await cannon(env, functionUrl, 'function', connections, seconds);
  env.log(`  ingest: hosted function ${functionRun.requestsPerSecond.toFixed(0)} webhooks/s`);
  return {
    connections,
    durationSeconds: seconds,
    app: appRun,
    baseline: baselineRun,
    hostedFunction: functionRun,
  };
}
