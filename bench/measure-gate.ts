// Measurement 3: how soon a waiting pipeline learns that a tag is everywhere, long-poll beside a 10-second poller.
import { performance } from 'node:perf_hooks';
import { DEFAULT_WAIT_POLL_MS } from '../src/config/settings';
import { snapshot, type BenchEnv } from './support/bench-env';
import { diffCounts, type Counts } from './support/counting-proxy';
import type { Child } from './support/child-rpc';
import { sleep, summarize, type Summary } from './support/stats';
import { READ_TOKEN, postPush } from './support/workload';

export interface GateResult {
  rounds: number;
  /** From the completing webhook's response to the long-poll's, on the instance that took the webhook. */
  sameInstance: Summary;
  /** The same, with the long-poll on another instance: it re-reads every WAIT_POLL_MS (200 ms). */
  otherInstance: Summary;
  /** From the completing webhook being sent, for comparison (the notifier fires before the answer). */
  sameInstanceFromSend: Summary;
  longPollFailures: number;
  /**
   * `waiters` long-polls on one incomplete tag on instance B, nothing else running: store reads
   * per second, by kind. `read tag` is the shared poll; `read registry` the regions, cached per
   * instance for CACHE_TTL_MS whatever the number of waits.
   */
  waitingReadsPerSecond: Record<string, number>;
  waiters: number;
  /** WAIT_POLL_MS the instances ran with. */
  pollMs: number;
  poller: {
    pollers: number;
    intervalMs: number;
    windowMs: number;
    latency: Summary;
    failures: number;
  };
}

const REGISTRY = 'gate.azurecr.io';
const REPOSITORY = 'gate/app';

const push = (baseUrl: string, tag: string, region: number): Promise<void> =>
  postPush(baseUrl, { registry: REGISTRY, repository: REPOSITORY, tag }, region);

/** GET the status (optionally long-polling); resolves with when the answer arrived. */
async function status(
  baseUrl: string,
  tag: string,
  wait?: number,
): Promise<{ at: number; replicated: boolean; settled: boolean }> {
  const query = wait === undefined ? '' : `?wait=${wait}`;
  const response = await fetch(
    `${baseUrl}/api/replications/${REGISTRY}/${REPOSITORY}:${tag}${query}`,
    { headers: { authorization: `Bearer ${READ_TOKEN}` } },
  );
  const body = (await response.json()) as { status?: string };
  return {
    at: performance.now(),
    replicated: response.status === 200 && body.status === 'replicated',
    settled: response.headers.get('x-acr-gate-wait') === 'settled',
  };
}

export async function measureGate(env: BenchEnv, a: Child, b: Child): Promise<GateResult> {
  const urlA = String(a.info.url);
  const urlB = String(b.info.url);
  // The pollers' window runs alongside the long-poll rounds: it is mostly sleep, and 15 s saved.
  const pollers = pollEveryTenSeconds(urlA, env.quick ? 10 : 20);
  const rounds = env.quick ? 8 : 30;
  const same: number[] = [];
  const other: number[] = [];
  const fromSend: number[] = [];
  let longPollFailures = 0;
  for (let i = 0; i < rounds; i++) {
    const tag = `lp-${i}-${Date.now()}`;
    for (const region of [0, 1, 2]) await push(urlA, tag, region);
    // What `acr-gate wait` does: ?wait=30, on the instance the webhooks go to and on another one.
    const onA = status(urlA, tag, 30);
    const onB = status(urlB, tag, 30);
    // A random moment in the other instance's poll cycle, after both are surely waiting.
    await sleep(100 + Math.random() * 500);
    const sent = performance.now();
    await push(urlA, tag, 3);
    const answered = performance.now();
    const [ra, rb] = await Promise.all([onA, onB]);
    if (!ra.replicated || !ra.settled || !rb.replicated || !rb.settled) longPollFailures += 1;
    same.push(ra.at - answered);
    other.push(rb.at - answered);
    fromSend.push(ra.at - sent);
  }
  env.log('  gate: long-poll rounds done; waiting for the 10-second pollers');
  const poller = await pollers;
  const waiting = await waitingCost(env, urlA, urlB, WAITERS);
  return {
    rounds,
    sameInstance: summarize(same),
    otherInstance: summarize(other),
    sameInstanceFromSend: summarize(fromSend),
    longPollFailures,
    waitingReadsPerSecond: waiting,
    waiters: WAITERS,
    pollMs: Number(process.env.WAIT_POLL_MS ?? DEFAULT_WAIT_POLL_MS),
    poller,
  };
}

/** Long-polls held on one tag in the cost window: they share one read per poll. */
const WAITERS = 10;
const COST_WINDOW_MS = 10_000;

/** What waiting costs the store: `waiters` long-polls on one incomplete tag, reads per second by kind. */
async function waitingCost(
  env: BenchEnv,
  urlA: string,
  urlB: string,
  waiters: number,
): Promise<Record<string, number>> {
  const tag = `cost-${Date.now()}`;
  for (const region of [0, 1, 2]) await push(urlA, tag, region);
  const abort = new AbortController();
  const held = Array.from({ length: waiters }, () =>
    fetch(`${urlB}/api/replications/${REGISTRY}/${REPOSITORY}:${tag}?wait=30`, {
      headers: { authorization: `Bearer ${READ_TOKEN}` },
      signal: abort.signal,
    }).then(
      (r) => r.arrayBuffer(),
      () => undefined,
    ),
  );
  // Their first reads are done; what follows is polling alone.
  await sleep(500);
  const before = await snapshot(env);
  const from = performance.now();
  await sleep(COST_WINDOW_MS);
  const counts: Counts = diffCounts(await snapshot(env), before);
  const seconds = (performance.now() - from) / 1000;
  abort.abort();
  await Promise.all(held);
  return Object.fromEntries(
    Object.entries(counts)
      .filter(([kind]) => kind.startsWith('read ') || kind.startsWith('query '))
      .map(([kind, c]) => [kind, c.requests / seconds]),
  );
}

/**
 * The shell-style gate, `until curl … | grep -q replicated; do sleep 10; done`, started at random
 * phases; the tag completes 5 s into the window, so every phase of the 10 s cycle is sampled.
 */
async function pollEveryTenSeconds(url: string, pollers: number): Promise<GateResult['poller']> {
  const intervalMs = 10_000;
  const tag = `poll-${Date.now()}`;
  for (const region of [0, 1, 2]) await push(url, tag, region);
  const windowStart = performance.now();
  let failures = 0;
  const seen = Promise.all(
    Array.from({ length: pollers }, async () => {
      await sleep(Math.random() * intervalMs);
      const deadline = windowStart + 3 * intervalMs;
      while (performance.now() < deadline) {
        const r = await status(url, tag);
        if (r.replicated) return r.at;
        await sleep(intervalMs);
      }
      failures += 1;
      return Number.NaN;
    }),
  );
  await sleep(intervalMs / 2);
  await push(url, tag, 3);
  const completedAt = performance.now();
  const seenAt = await seen;
  return {
    pollers,
    intervalMs,
    windowMs: performance.now() - windowStart,
    latency: summarize(seenAt.filter((t) => Number.isFinite(t)).map((t) => t - completedAt)),
    failures,
  };
}
