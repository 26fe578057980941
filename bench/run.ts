// `npm run bench`: every measurement against the embedded Cosmos DB; prints a table and writes bench/results.json.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { measureCallback } from './measure-callback';
import { measureCliStart } from './measure-cli-start';
import { measureContention } from './measure-contention';
import {
  medianColdStart,
  memoryOf,
  startApp,
  startBareFunction,
  startBaseline,
  type ColdStart,
  type Started,
} from './measure-footprint';
import { measureAdmission } from './measure-admission';
import { measureGate } from './measure-gate';
import { GROWTH_DATABASE, measureGrowth } from './measure-growth';
import { measureIndexRound } from './measure-index-round';
import { measureIngest } from './measure-ingest';
import { measureEndToEnd } from './measure-end-to-end';
import { measureStoreCost } from './measure-store-cost';
import { measureWaiters, waitersTable } from './measure-waiters';
import {
  breakdownTable,
  buildFigures,
  figuresTable,
  machineLine,
  type BenchResults,
  type Machine,
} from './report';
import { bareFunctionRoot } from './support/bare-function';
import { benchEnvOf, prepareDatabase } from './support/bench-env';
import { startChild, type Child } from './support/child-rpc';

// Cold starts (measurement 6) are always taken: the instances have to be started anyway.
// `--only=footprint` takes the cold starts alone.
const SECTIONS = [
  'store',
  'contention',
  'gate',
  'callback',
  'ingest',
  'growth',
  'waiters',
  'footprint',
  'admission',
  'index',
  'cli',
] as const;
type Section = (typeof SECTIONS)[number];

const appRoot = path.resolve(__dirname, '../..');
const RESULTS_FILE = path.join(appRoot, 'bench/results.json');
const DOCS_FILE = path.join(appRoot, 'docs/benchmarks.md');
/** The whole run is bounded: past this, everything is stopped and the run fails. */
const WATCHDOG_MS = 12 * 60_000;

function parseArgs(argv: string[]): { quick: boolean; docs: boolean; only: Set<Section> } {
  const only = argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  const chosen = only ? only.split(',').map((s) => s.trim()) : [...SECTIONS];
  for (const s of chosen) {
    if (!SECTIONS.includes(s as Section))
      throw new Error(`unknown section ${s}; one of ${SECTIONS.join(', ')}`);
  }
  return {
    quick: argv.includes('--quick'),
    docs: argv.includes('--docs'),
    only: new Set(chosen as Section[]),
  };
}

function machine(): Machine {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  let memory = `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB total`;
  try {
    // `free -h`'s "Mem:" line: total, used, free, shared, buff/cache, available.
    const line = execFileSync('free', ['-h'], { encoding: 'utf8' }).split('\n')[1] ?? '';
    const [, total, , , , , available] = line.trim().split(/\s+/);
    if (total) memory = `${total} total, ${available ?? '?'} available`;
  } catch {
    // No `free` (macOS, Windows): the os module's total will do.
  }
  return {
    nproc: os.availableParallelism(),
    cpuModel: model.trim(),
    memory,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverage: { start: os.loadavg(), end: null },
  };
}

/** Replaces the generated part of docs/benchmarks.md, between its two markers, formatted as `npm run lint` wants. */
async function writeDocs(results: BenchResults, text: string): Promise<void> {
  const start = '<!-- bench:results:start -->';
  const end = '<!-- bench:results:end -->';
  const doc = fs.readFileSync(DOCS_FILE, 'utf8');
  const from = doc.indexOf(start);
  const to = doc.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${DOCS_FILE} lacks the ${start} … ${end} markers`);
  const generated = [
    start,
    '',
    `Run ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC, \`${results.command}\`, ` +
      `${results.durationSeconds.toFixed(0)} s in all, on ${machineLine(results.machine)}.`,
    '',
    text,
    '',
    end,
  ].join('\n');
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(DOCS_FILE)) ?? {};
  const updated = doc.slice(0, from) + generated + doc.slice(to + end.length);
  fs.writeFileSync(DOCS_FILE, await prettier.format(updated, { ...options, filepath: DOCS_FILE }));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const log = (line: string): void => {
    process.stderr.write(
      `[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`,
    );
  };
  const results: BenchResults = {
    startedAt: new Date().toISOString(),
    durationSeconds: 0,
    quick: args.quick,
    command: [
      'npm run bench',
      ...(process.argv.slice(2).length ? ['--', ...process.argv.slice(2)] : []),
    ].join(' '),
    machine: machine(),
    warnings: [],
  };
  const children: Child[] = [];
  const stopAll = () => Promise.allSettled(children.splice(0).map((c) => c.stop()));
  const watchdog = setTimeout(() => {
    log(`the bench ran past ${WATCHDOG_MS / 60_000} minutes: stopping everything`);
    void stopAll().then(() => process.exit(1));
  }, WATCHDOG_MS);
  process.once('SIGINT', () => {
    void stopAll().then(() => process.exit(130));
  });

  try {
    log(`machine: ${machineLine(results.machine)}${args.quick ? ' (quick run)' : ''}`);
    const cosmos = await startChild(path.join(__dirname, 'support/cosmos-process.js'), {});
    children.push(cosmos);
    const env = benchEnvOf(cosmos, log, args.quick);
    const httpDatabase = 'bench-http';
    const baselineDatabase = 'bench-baseline';
    for (const db of [httpDatabase, baselineDatabase, GROWTH_DATABASE])
      await prepareDatabase(env, db);

    // Each instance starts alone, so its cold start is measured on an otherwise idle machine.
    log('starting function app instances and bare servers (cold starts)');
    const track = async (start: Promise<Started>): Promise<Started> => {
      const s = await start;
      children.push(s.child);
      return s;
    };
    const appA = await track(startApp(env, httpDatabase, 'a'));
    const appB = await track(startApp(env, httpDatabase, 'b'));
    const appC = await track(startApp(env, GROWTH_DATABASE, 'c'));
    const bareSamples: ColdStart[] = [];
    const bare = await track(startBaseline(env, baselineDatabase, 'x1'));
    bareSamples.push(bare.cold);
    // The bundle's starts alternate with the bare server's, so a change in the load hits both.
    const bundledSamples: ColdStart[] = [];
    for (const [bundled, name] of [
      [true, 'b1'],
      [false, 'x2'],
      [true, 'b2'],
      [false, 'x3'],
      [true, 'b3'],
    ] as const) {
      const extra = await track(
        bundled
          ? startApp(env, httpDatabase, name, { bundled: true })
          : startBaseline(env, baselineDatabase, name),
      );
      (bundled ? bundledSamples : bareSamples).push(extra.cold);
      await extra.child.stop();
    }
    const appSamples = [appA.cold, appB.cold, appC.cold];
    results.footprint = {
      app: { samples: appSamples, median: medianColdStart(appSamples) },
      bundled: { samples: bundledSamples, median: medianColdStart(bundledSamples) },
      baseline: { samples: bareSamples, median: medianColdStart(bareSamples) },
      afterIngest: null,
    };

    if (args.only.has('store')) {
      log('1 store cost per webhook');
      results.storeCost = await measureStoreCost(env);
      log('1 store cost, first webhook to delivery recorded');
      results.endToEnd = await measureEndToEnd(env);
    }
    if (args.only.has('contention')) {
      log('4 contention');
      results.contention = await measureContention(env);
      for (const m of results.contention.mismatches) {
        results.warnings.push(`CONTENTION MISMATCH: ${m}`);
      }
    }
    if (args.only.has('gate')) {
      log('3 gate latency');
      results.gate = await measureGate(env, appA.child, appB.child);
      if (results.gate.longPollFailures > 0 || results.gate.poller.failures > 0) {
        results.warnings.push(
          `GATE: ${results.gate.longPollFailures} long-polls and ${results.gate.poller.failures} pollers did not see the tag replicated`,
        );
      }
    }
    if (args.only.has('admission')) {
      log('8 admission gate and per-region wait');
      results.admission = await measureAdmission(env, appA.child);
      if (results.admission.failures > 0) {
        results.warnings.push(
          `ADMISSION: ${results.admission.failures} provider answers or long-polls were not as expected`,
        );
      }
    }
    if (args.only.has('callback')) {
      log('9 azure pipelines check in Callback mode');
      results.callback = await measureCallback(env, appA.child);
      if (results.callback.failures > 0) {
        results.warnings.push(
          `CALLBACK: ${results.callback.failures} checks got no TaskCompleted within 30 s`,
        );
      }
    }
    if (args.only.has('ingest')) {
      log('2 ingest throughput');
      await prepareDatabase(env, 'bench-function');
      const functionRoot = bareFunctionRoot();
      try {
        const hosted = await track(startBareFunction(env, 'bench-function', 'f1', functionRoot));
        results.ingest = await measureIngest(env, appA.child, bare.child, hosted.child);
        await hosted.child.stop();
      } finally {
        fs.rmSync(functionRoot, { recursive: true, force: true });
      }
      const bad = results.ingest.app.non2xx + results.ingest.app.errors;
      if (bad > 0)
        results.warnings.push(`INGEST: the app answered ${bad} webhooks with non-2xx or errors`);
      results.footprint.afterIngest = {
        app: await memoryOf(appA.child),
        baseline: await memoryOf(bare.child),
        cosmos: await memoryOf(cosmos),
      };
    }
    if (args.only.has('index')) {
      log('9 index round against real docker-registry');
      results.indexRound = await measureIndexRound(args.quick ? 2 : 5);
    }
    if (args.only.has('cli')) {
      log('10 CLI start');
      results.cliStart = measureCliStart(env.quick ? 5 : 15);
    }
    if (args.only.has('growth')) {
      log('5 growth');
      results.growth = await measureGrowth(env, appC.child);
      if (results.growth.shortfall) results.warnings.push(`GROWTH: ${results.growth.shortfall}`);
    }
    if (args.only.has('waiters')) {
      log('7 long-poll waiters');
      await prepareDatabase(env, 'bench-waiters');
      const appW = await track(startApp(env, 'bench-waiters', 'w'));
      results.waiters = await measureWaiters(env, appW.child);
    }
  } finally {
    await stopAll();
    clearTimeout(watchdog);
  }

  results.durationSeconds = (performance.now() - started) / 1000;
  results.machine.loadAverage.end = os.loadavg();
  const [busy = 0] = results.machine.loadAverage.start;
  if (busy > results.machine.nproc / 2) {
    results.warnings.push(
      `LOAD: the load average was ${busy.toFixed(1)} on ${results.machine.nproc} CPUs when the run started; other work skews these figures`,
    );
  }
  results.figures = buildFigures(results);
  const text = [
    figuresTable(results.figures),
    ...(results.storeCost ? ['', breakdownTable(results.storeCost)] : []),
    ...(results.waiters ? ['', waitersTable(results.waiters)] : []),
  ].join('\n');
  console.log(text);
  fs.writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
  log(
    `wrote ${path.relative(appRoot, RESULTS_FILE)}; the bench took ${results.durationSeconds.toFixed(0)} s`,
  );
  if (args.docs) {
    await writeDocs(results, text);
    log(`updated ${path.relative(appRoot, DOCS_FILE)}`);
  }
  for (const warning of results.warnings) {
    process.stderr.write(`\n!!! ${warning}\n`);
  }
  if (results.warnings.some((w) => w.startsWith('CONTENTION'))) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
