// Measurement 7: from the completing webhook to TaskCompleted at a stand-in for Azure DevOps (Callback mode),
// beside what the ApiResponse mode's re-evaluation every minute costs on average.
// Standalone: `tsc -p tsconfig.bench.json && node dist/bench/measure-callback.js [--quick]`.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { aPushEvent } from '../test/support/fixtures';
import { benchEnvOf, prepareDatabase, type BenchEnv } from './support/bench-env';
import { startApp } from './measure-footprint';
import { startChild, type Child } from './support/child-rpc';
import { summarize, type Summary } from './support/stats';
import { FOUR_REGIONS, READ_TOKEN, WEBHOOK_TOKEN, acrTime, digestOf } from './support/workload';

export interface CallbackResult {
  rounds: number;
  /** From sending the completing webhook to TaskCompleted arriving at the stand-in. */
  callback: Summary;
  /** One ApiResponse evaluation: a GET of the status, as the check would make it. */
  evaluation: Summary;
  /** ApiResponse mode at a one-minute interval: completion lands anywhere in the minute. */
  apiResponse: { intervalMs: number; expectedMs: number; worstMs: number };
  failures: number;
}

const REGISTRY = 'callback.azurecr.io';
const REPOSITORY = 'callback/app';
const INTERVAL_MS = 60_000;
const headers = {
  authorization: `Bearer ${WEBHOOK_TOKEN}`,
  'content-type': 'application/json',
  'user-agent': 'AzureContainerRegistry/1.0',
};

/** The Azure DevOps events endpoint, stood in on loopback: records when each plan's TaskCompleted came. */
async function startStandIn() {
  const waiting = new Map<string, (at: number) => void>();
  const server = createServer((req, res) => {
    const at = performance.now();
    req.resume();
    req.on('end', () => {
      const planId = /\/plans\/([^/]+)\/events/.exec(req.url ?? '')?.[1] ?? '';
      waiting.get(planId)?.(at);
      waiting.delete(planId);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/org/`;
  return {
    url,
    arrival(planId: string, timeoutMs: number): Promise<number | null> {
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(null), timeoutMs);
        waiting.set(planId, (at) => {
          clearTimeout(timer);
          resolve(at);
        });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function push(baseUrl: string, tag: string, region: number): Promise<void> {
  const response = await fetch(`${baseUrl}/api/webhooks/acr/${FOUR_REGIONS[region]}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(
      aPushEvent({
        registry: REGISTRY,
        repository: REPOSITORY,
        tag,
        digest: digestOf(tag),
        timestamp: acrTime(Date.UTC(2026, 2, 14, 9, 0, region)),
      }),
    ),
  });
  await response.arrayBuffer();
  if (response.status !== 202) throw new Error(`webhook answered ${response.status}`);
}

export async function measureCallback(
  env: Pick<BenchEnv, 'quick' | 'log'>,
  app: Child,
): Promise<CallbackResult> {
  const baseUrl = String(app.info.url);
  const stand = await startStandIn();
  const rounds = env.quick ? 10 : 40;
  const latencies: number[] = [];
  const evaluations: number[] = [];
  let failures = 0;
  try {
    for (let i = 0; i < rounds; i++) {
      const tag = `cb-${randomUUID().slice(0, 8)}`;
      for (const region of [0, 1, 2]) await push(baseUrl, tag, region);
      const planId = randomUUID();
      const check = await fetch(`${baseUrl}/api/azure-pipelines/checks`, {
        method: 'POST',
        headers: {
          ...headers,
          // The check reads: a read token (a webhook token only delivers arrivals).
          authorization: `Bearer ${READ_TOKEN}`,
          PlanUrl: stand.url,
          ProjectId: randomUUID(),
          HubName: 'build',
          PlanId: planId,
          JobId: randomUUID(),
          TimelineId: randomUUID(),
          TaskInstanceId: randomUUID(),
          AuthToken: 'bench-system-access-token',
        },
        body: JSON.stringify({ image: `${REGISTRY}/${REPOSITORY}:${tag}` }),
      });
      await check.arrayBuffer();
      if (check.status !== 200) throw new Error(`the check answered ${check.status}`);

      // What one ApiResponse-mode evaluation costs: a status read.
      const evaluated = performance.now();
      const status = await fetch(`${baseUrl}/api/replications/${REGISTRY}/${REPOSITORY}:${tag}`, {
        headers: { authorization: `Bearer ${READ_TOKEN}` },
      });
      await status.arrayBuffer();
      evaluations.push(performance.now() - evaluated);

      const arrived = stand.arrival(planId, 30_000);
      const sent = performance.now();
      await push(baseUrl, tag, 3);
      const at = await arrived;
      if (at === null) failures += 1;
      else latencies.push(at - sent);
    }
  } finally {
    await stand.close();
  }
  const evaluation = summarize(evaluations);
  env.log(
    `callback: p50 ${summarize(latencies).p50.toFixed(1)} ms over ${latencies.length} rounds, ${failures} missing`,
  );
  return {
    rounds,
    callback: summarize(latencies),
    evaluation,
    apiResponse: {
      intervalMs: INTERVAL_MS,
      // Completion is equally likely anywhere between two evaluations: half an interval on average.
      expectedMs: INTERVAL_MS / 2 + evaluation.p50,
      worstMs: INTERVAL_MS + evaluation.p99,
    },
    failures,
  };
}

/** Run alone: an embedded Cosmos DB and one app instance, nothing else. */
async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const children: Child[] = [];
  try {
    const cosmos = await startChild(path.join(__dirname, 'support/cosmos-process.js'), {});
    children.push(cosmos);
    const env = benchEnvOf(cosmos, log, quick);
    const database = 'bench-callback';
    await prepareDatabase(env, database);
    // The same app settings as every bench instance (its loopback stand-in is on the allowlist).
    const { child: app } = await startApp(env, database, 'callback');
    children.push(app);
    const result = await measureCallback(env, app);
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await Promise.allSettled(children.map((c) => c.stop()));
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
