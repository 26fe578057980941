// Measurement 10: how long `acr-gate` takes to start, beside bare node and beside the CLI with the ARM SDKs loaded eagerly.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { summarize, type Summary } from './support/stats';

export interface CliStartResult {
  runs: number;
  /** `node -e 0`: the floor any node CLI pays. */
  bareNode: Summary;
  /** `acr-gate --version`: the CLI's own modules and zod, what `wait` and `status` load. */
  cli: Summary;
  /** The same with the ARM and identity SDKs preloaded (`node -r`): what every command paid before import() was lazy. */
  cliWithArmSdk: Summary;
}

const appRoot = path.resolve(__dirname, '../..');
const BIN = path.join(appRoot, 'bin/acr-gate.js');

function timed(args: string[]): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, args, { cwd: appRoot, encoding: 'utf8' });
  const ms = performance.now() - started;
  if (result.status !== 0) {
    throw new Error(`node ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  }
  return ms;
}

/** Spawns each command `runs` times, interleaved so that each sees the same machine load. */
export function measureCliStart(runs = 15): CliStartResult {
  const samples = { bareNode: [] as number[], cli: [] as number[], cliWithArmSdk: [] as number[] };
  const variants: Record<keyof typeof samples, string[]> = {
    bareNode: ['-e', '0'],
    cli: [BIN, '--version'],
    cliWithArmSdk: [
      '-r',
      '@azure/arm-containerregistry',
      '-r',
      '@azure/identity',
      BIN,
      '--version',
    ],
  };
  // One unmeasured round warms the file system cache.
  for (const args of Object.values(variants)) timed(args);
  for (let i = 0; i < runs; i++) {
    for (const name of ['bareNode', 'cli', 'cliWithArmSdk'] as const) {
      samples[name].push(timed(variants[name]));
    }
  }
  return {
    runs,
    bareNode: summarize(samples.bareNode),
    cli: summarize(samples.cli),
    cliWithArmSdk: summarize(samples.cliWithArmSdk),
  };
}

// `node dist/bench/measure-cli-start.js`: this measurement alone, without Cosmos DB or app instances.
if (require.main === module) {
  const result = measureCliStart(Number(process.argv[2] ?? 15));
  const row = (name: string, s: Summary) =>
    `${name.padEnd(48)} p50 ${s.p50.toFixed(0).padStart(4)} ms   min ${s.min.toFixed(0).padStart(4)} ms   max ${s.max.toFixed(0).padStart(4)} ms`;
  console.log(`${result.runs} runs each, interleaved`);
  console.log(row('node -e 0', result.bareNode));
  console.log(row('acr-gate --version', result.cli));
  console.log(row('acr-gate --version, ARM + identity SDKs loaded', result.cliWithArmSdk));
}
