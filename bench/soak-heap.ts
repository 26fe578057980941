// `node dist/bench/soak-heap.js [--seconds=600] [--connections=4] [--window=30]`: is the app's heap after GC flat
// under a long run of webhooks, and if not, what grows? The app runs alone in a child process (with
// its timers), the embedded Cosmos DB in another, so neither the load generator nor the stored data
// is counted. Heap snapshots after warm-up and at the end are compared by constructor.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { webhookRequests } from './measure-ingest';
import { benchEnvOf, prepareDatabase, quiesce } from './support/bench-env';
import { startChild, type Child } from './support/child-rpc';
import { ADMIN_TOKEN, FOUR_REGIONS, WEBHOOK_TOKEN } from './support/workload';

const WARM_UP_WINDOWS = 2;

interface Sample {
  atS: number;
  requests: number;
  heapUsedMb: number;
  rssMb: number;
}

const mb = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

/** Self size and count by node type and constructor name, from a .heapsnapshot file. */
export function summarizeSnapshot(file: string): Map<string, { count: number; bytes: number }> {
  const snapshot = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const out = new Map<string, { count: number; bytes: number }>();
  const { nodes, strings } = snapshot;
  for (let i = 0; i < nodes.length; i += fields.length) {
    const type = types[nodes[i + (typeAt as number)] as number] ?? '?';
    const name = strings[nodes[i + (nameAt as number)] as number] ?? '?';
    // Strings and numbers are named by their content: count them by type alone.
    const key = ['object', 'closure', 'native', 'array'].includes(type)
      ? `${type} ${name.slice(0, 60)}`
      : type;
    const entry = out.get(key) ?? { count: 0, bytes: 0 };
    entry.count += 1;
    entry.bytes += nodes[i + (sizeAt as number)] as number;
    out.set(key, entry);
  }
  return out;
}

/** Least-squares slope of heap against time, in MB per minute. */
function slopeMbPerMinute(samples: Sample[]): number {
  const n = samples.length;
  if (n < 2) return Number.NaN;
  const mx = samples.reduce((s, x) => s + x.atS, 0) / n;
  const my = samples.reduce((s, x) => s + x.heapUsedMb, 0) / n;
  const num = samples.reduce((s, x) => s + (x.atS - mx) * (x.heapUsedMb - my), 0);
  const den = samples.reduce((s, x) => s + (x.atS - mx) ** 2, 0);
  return (num / den) * 60;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string' },
      connections: { type: 'string' },
      window: { type: 'string' },
    },
  });
  const seconds = Number(values.seconds ?? 600);
  const connections = Number(values.connections ?? 4);
  /** Seconds of load between two heap samples. */
  const WINDOW_S = Number(values.window ?? 30);
  const started = performance.now();
  const log = (line: string) =>
    process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0)} s] ${line}\n`);
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'acr-gate-soak-'));
  const children: Child[] = [];
  try {
    const cosmos = await startChild(path.join(__dirname, 'support/cosmos-process.js'), {});
    children.push(cosmos);
    const env = benchEnvOf(cosmos, log);
    await prepareDatabase(env, 'soak');
    const app = await startChild(
      path.join(__dirname, 'support/host-process.js'),
      {
        COSMOS_ENDPOINT: env.endpoint,
        COSMOS_KEY: env.key,
        COSMOS_DATABASE: 'soak',
        REPLICATION_REGIONS: FOUR_REGIONS.join(','),
        WEBHOOK_TOKENS: WEBHOOK_TOKEN,
        ADMIN_TOKENS: ADMIN_TOKEN,
        START_TIMERS: '1',
      },
      30_000,
      ['--expose-gc'],
    );
    children.push(app);
    const url = String(app.info.url);
    const samples: Sample[] = [];
    let requests = 0;
    let failed = 0;
    let snapshotAfterWarmUp = '';
    const windows = Math.max(WARM_UP_WINDOWS + 2, Math.round(seconds / WINDOW_S));
    for (let w = 0; w < windows; w++) {
      const result = await autocannon({
        url,
        connections,
        duration: WINDOW_S,
        timeout: 30,
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${WEBHOOK_TOKEN}`,
          'user-agent': 'AzureContainerRegistry/1.0',
        },
        requests: webhookRequests(`soak-${w}`),
      });
      requests += result['2xx'];
      failed += result.non2xx + result.errors + result.timeouts;
      await quiesce(env);
      const m = await app.call<NodeJS.MemoryUsage>('memoryAfterGc');
      const sample = {
        atS: Math.round((performance.now() - started) / 1000),
        requests,
        heapUsedMb: mb(m.heapUsed),
        rssMb: mb(m.rss),
      };
      samples.push(sample);
      log(`window ${w + 1}/${windows}: ${JSON.stringify(sample)}`);
      if (w === WARM_UP_WINDOWS - 1) {
        snapshotAfterWarmUp = await app.call<string>(
          'heapSnapshot',
          path.join(outDir, 'after-warm-up.heapsnapshot'),
        );
      }
    }
    const snapshotEnd = await app.call<string>(
      'heapSnapshot',
      path.join(outDir, 'end.heapsnapshot'),
    );
    const a = summarizeSnapshot(snapshotAfterWarmUp);
    const b = summarizeSnapshot(snapshotEnd);
    const growth = [...b.entries()]
      .map(([key, v]) => {
        const before = a.get(key) ?? { count: 0, bytes: 0 };
        return {
          key,
          count: v.count - before.count,
          kb: Math.round((v.bytes - before.bytes) / 1024),
        };
      })
      .sort((x, y) => y.kb - x.kb)
      .slice(0, 15);
    const afterWarmUp = samples.slice(WARM_UP_WINDOWS);
    console.log(
      JSON.stringify(
        {
          seconds: Math.round((performance.now() - started) / 1000),
          connections,
          requests,
          failed,
          loadAverage: os.loadavg(),
          heapAfterGcMb: samples.map((s) => s.heapUsedMb),
          slopeAfterWarmUpMbPerMinute: Math.round(slopeMbPerMinute(afterWarmUp) * 100) / 100,
          growthBetweenSnapshots: growth,
          snapshots: outDir,
        },
        null,
        2,
      ),
    );
  } finally {
    await Promise.allSettled(children.map((c) => c.stop()));
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
