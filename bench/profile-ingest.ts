// `node dist/bench/profile-ingest.js [--target=app|app-memory|function|server] [--seconds=8] [--connections=8]
// [--cpu-prof=DIR]`:
// measurement 2's load on one target alone, with the CPU it took per webhook (not part of `npm run bench`).
//
// Targets: `app` is instance A as the bench starts it (dev/local-host.ts serving dist/functions);
// `app-memory` is the same app on the handler tests' in-memory store (support/memory-store-preload.ts),
// what the app costs without Cosmos DB;
// `function` is the bare server's one upsert written as an Azure Function and hosted the same way
// (what the host and @azure/functions cost by themselves); `server` is the bare server. The CPU
// figures are the target's and the Cosmos DB child's user + system time (Linux /proc) over the
// measured run, divided by the webhooks answered. --cpu-prof=DIR starts the target with V8's
// sampling profiler and ends it gracefully, so DIR gets a .cpuprofile (open it in Chrome DevTools).
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { postWebhooks } from './measure-ingest';
import { bareFunctionRoot } from './support/bare-function';
import { benchEnvOf, prepareDatabase, quiesce, snapshot } from './support/bench-env';
import { startChild } from './support/child-rpc';
import { diffCounts, totalRequests } from './support/counting-proxy';
import { ADMIN_TOKEN, FOUR_REGIONS, READ_TOKEN, WEBHOOK_TOKEN } from './support/workload';

const DATABASE = 'bench-profile';

/** User + system CPU milliseconds of a process so far (Linux); NaN elsewhere. */
function cpuMs(pid: number | undefined): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux.
  } catch {
    return Number.NaN;
  }
}

async function main(): Promise<void> {
  const arg = (name: string) =>
    process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const target = arg('target') ?? 'app';
  if (!['app', 'app-memory', 'function', 'server'].includes(target))
    throw new Error(`unknown --target ${target}`);
  const seconds = Number(arg('seconds') ?? 8);
  // Measurement 2 uses 8; more lets the app's writes of one tag go together more often.
  const connections = Number(arg('connections') ?? 8);
  const profileDir = arg('cpu-prof');

  const cosmos = await startChild(path.join(__dirname, 'support/cosmos-process.js'), {});
  const env = benchEnvOf(cosmos, (line) => process.stderr.write(`${line}\n`));
  const appRoot = target === 'function' ? bareFunctionRoot() : undefined;
  try {
    await prepareDatabase(env, DATABASE);
    const child = fork(
      path.join(
        __dirname,
        target === 'server' ? 'support/baseline-server.js' : 'support/host-process.js',
      ),
      [],
      {
        env: {
          PATH: process.env.PATH ?? '',
          ...(appRoot ? { APP_ROOT: appRoot } : {}),
          COSMOS_ENDPOINT: env.endpoint,
          COSMOS_KEY: env.key,
          COSMOS_DATABASE: DATABASE,
          // As bench/measure-footprint.ts starts instance A.
          REPLICATION_REGIONS: FOUR_REGIONS.join(','),
          WEBHOOK_TOKENS: WEBHOOK_TOKEN,
          ADMIN_TOKENS: ADMIN_TOKEN,
          READ_TOKENS: READ_TOKEN,
          AZURE_PIPELINES_HOSTS: '127.0.0.1',
        },
        execArgv: [
          ...(target === 'app-memory'
            ? ['--require', path.join(__dirname, 'support/memory-store-preload.js')]
            : []),
          ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
        ],
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const url = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`${target} exited (code ${code})`)));
      child.on('message', (m: { type?: string; info?: { url?: unknown } }) => {
        if (m.type === 'ready') resolve(String(m.info?.url));
      });
    });
    const load = (prefix: string, duration: number) =>
      postWebhooks(url, prefix, connections, duration);
    await load('warm', 2);
    await quiesce(env);
    const before = {
      target: cpuMs(child.pid),
      cosmos: cpuMs(cosmos.pid),
      counts: await snapshot(env),
    };
    const result = await load('profile', seconds);
    await quiesce(env);
    const answered = result['2xx'] + result.non2xx;
    const counts = diffCounts(await snapshot(env), before.counts);
    const per = (ms: number) => Number((ms / answered).toFixed(3));
    console.log(
      JSON.stringify({
        target,
        connections,
        loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
        webhooksPerSecond: result.requests.average,
        latencyP50Ms: result.latency.p50,
        latencyP99Ms: result.latency.p99,
        answered,
        non2xx: result.non2xx,
        errors: result.errors,
        roundTripsPerWebhook: Number((totalRequests(counts) / answered).toFixed(2)),
        cpuMsPerWebhook: per(cpuMs(child.pid) - before.target),
        cosmosCpuMsPerWebhook: per(cpuMs(cosmos.pid) - before.cosmos),
      }),
    );
    // Disconnecting ends the child through process.exit (support/child-rpc.ts): the profile is written.
    child.disconnect();
    await exited;
  } finally {
    await cosmos.stop();
    if (appRoot) fs.rmSync(appRoot, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
