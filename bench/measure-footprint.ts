// Measurement 6: cold start of a function app instance (a fresh `node` process) beside a bare server, and memory.
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { BenchEnv } from './support/bench-env';
import { startChild, type Child } from './support/child-rpc';
import { median } from './support/stats';
import {
  ADMIN_TOKEN,
  FOUR_REGIONS,
  READ_TOKEN,
  WEBHOOK_TOKEN,
  acrTime,
  digestOf,
} from './support/workload';
import { aPushEvent } from '../test/support/fixtures';

export interface ColdStart {
  /** Inside the child, from its process start: node itself, then the app's modules and registrations, then listening. */
  bootMs: number;
  loadedMs: number;
  listeningMs: number;
  /** Measured here: fork() to the child saying ready, and to the first webhook answered. */
  spawnToReadyMs: number;
  firstRequestMs: number;
  spawnToFirstResponseMs: number;
}

export interface Started {
  child: Child;
  cold: ColdStart;
}

/** The first request is a real webhook: it pays the container check and the SDK's first connections. */
async function firstWebhook(child: Child, name: string): Promise<ColdStart> {
  const started = performance.now();
  const tag = `cold-${name}`;
  const response = await fetch(`${String(child.info.url)}/api/webhooks/acr/${FOUR_REGIONS[0]}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${WEBHOOK_TOKEN}`,
      'content-type': 'application/json',
      'user-agent': 'AzureContainerRegistry/1.0',
    },
    body: JSON.stringify(
      aPushEvent({
        registry: 'coldstart.azurecr.io',
        repository: 'cold/app',
        tag,
        digest: digestOf(tag),
        timestamp: acrTime(Date.UTC(2026, 2, 14)),
      }),
    ),
  });
  await response.arrayBuffer();
  const done = performance.now();
  if (response.status !== 202)
    throw new Error(`${name}: first webhook answered ${response.status}`);
  const info = child.info as { bootMs: number; loadedMs: number; listeningMs: number };
  return {
    bootMs: info.bootMs,
    loadedMs: info.loadedMs,
    listeningMs: info.listeningMs,
    spawnToReadyMs: child.readyAt - child.spawnedAt,
    firstRequestMs: done - started,
    spawnToFirstResponseMs: done - child.spawnedAt,
  };
}

/** The bundled deployment package (`npm run bundle`, dist-bundle/), served by the same local host. */
export const BUNDLE_ROOT = 'dist-bundle';

export async function startApp(
  env: BenchEnv,
  database: string,
  name: string,
  options: { bundled?: boolean } = {},
): Promise<Started> {
  const child = await startChild(path.join(__dirname, 'support/host-process.js'), {
    ...(options.bundled ? { APP_ROOT: BUNDLE_ROOT } : {}),
    COSMOS_ENDPOINT: env.endpoint,
    COSMOS_KEY: env.key,
    COSMOS_DATABASE: database,
    REPLICATION_REGIONS: FOUR_REGIONS.join(','),
    WEBHOOK_TOKENS: WEBHOOK_TOKEN,
    ADMIN_TOKENS: ADMIN_TOKEN,
    // The Azure Pipelines check posts TaskCompleted to the bench's loopback stand-in.
    AZURE_PIPELINES_HOSTS: '127.0.0.1',
    READ_TOKENS: READ_TOKEN,
    // To compare poll intervals in the gate run: `WAIT_POLL_MS=500 npm run bench -- --only=gate`.
    ...(process.env.WAIT_POLL_MS ? { WAIT_POLL_MS: process.env.WAIT_POLL_MS } : {}),
  });
  return withFirstWebhook(child, name);
}

export async function startBaseline(
  env: BenchEnv,
  database: string,
  name: string,
): Promise<Started> {
  const child = await startChild(path.join(__dirname, 'support/baseline-server.js'), {
    COSMOS_ENDPOINT: env.endpoint,
    COSMOS_KEY: env.key,
    COSMOS_DATABASE: database,
  });
  return withFirstWebhook(child, name);
}

/**
 * The bare server's upsert as a function served by the same local host as the app (measurement 2's
 * second baseline); `root` is from support/bare-function.ts.
 */
export async function startBareFunction(
  env: BenchEnv,
  database: string,
  name: string,
  root: string,
): Promise<Started> {
  const child = await startChild(path.join(__dirname, 'support/host-process.js'), {
    APP_ROOT: root,
    COSMOS_ENDPOINT: env.endpoint,
    COSMOS_KEY: env.key,
    COSMOS_DATABASE: database,
  });
  return withFirstWebhook(child, name);
}

/** A child whose first webhook fails is stopped here: nobody else knows about it yet. */
async function withFirstWebhook(child: Child, name: string): Promise<Started> {
  try {
    return { child, cold: await firstWebhook(child, name) };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/** The median of each field over several cold starts. */
export function medianColdStart(samples: readonly ColdStart[]): ColdStart {
  const field = (k: keyof ColdStart) => median(samples.map((s) => s[k]));
  return {
    bootMs: field('bootMs'),
    loadedMs: field('loadedMs'),
    listeningMs: field('listeningMs'),
    spawnToReadyMs: field('spawnToReadyMs'),
    firstRequestMs: field('firstRequestMs'),
    spawnToFirstResponseMs: field('spawnToFirstResponseMs'),
  };
}

export interface MemoryFigures {
  rssMb: number;
  heapUsedMb: number;
}

export async function memoryOf(child: Child): Promise<MemoryFigures> {
  const m = await child.call<NodeJS.MemoryUsage>('memory');
  return { rssMb: m.rss / 2 ** 20, heapUsedMb: m.heapUsed / 2 ** 20 };
}
