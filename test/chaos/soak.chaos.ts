// Soak: a minute of mixed webhooks and status reads (autocannon, loopback), faults in the middle 20 s; nothing lost, memory flat.
import { performance } from 'node:perf_hooks';
import { CosmosClient } from '@azure/cosmos';
import autocannon from 'autocannon';
import { expect, it } from 'vitest';
import { READ_TOKEN, REGIONS, useAppBehindFaults, WEBHOOK_TOKEN } from '../support/app-host';
import {
  anArrival,
  audit,
  expectSettled,
  digestOf,
  makeArrivalLedger,
  readStoredState,
  resendUnacknowledged,
  toWebhookBody,
  type Arrival,
} from '../support/arrival-ledger';
import { ALL_FAULTS, seededRandom } from '../support/fault-proxy';

const REGISTRY = 'soak.azurecr.io';
const REPOSITORIES = ['soak/web', 'soak/api', 'soak/jobs/worker', 'soak/db', 'soak/ui', 'edge'];
const DURATION_S = 60;
const FAULTS_FROM_S = 20;
const FAULTS_UNTIL_S = 40;
const CONNECTIONS = 16;
/** Rounds open at once: each new arrival reports one region of one of them. */
const OPEN_ROUNDS = 64;
/** Heap growth allowed after a forced GC once the stored data is dropped: generous, a leak of 10 KB per request exceeds it. */
const HEAP_GROWTH_LIMIT = 32 * 2 ** 20;

interface Sent {
  arrival?: Arrival;
  sentAt: number;
  doneAt?: number;
  status?: number;
  problem?: boolean;
}

const { app, proxy } = useAppBehindFaults(60);

/** Deterministic traffic: new arrivals of open rounds, duplicates of earlier ones, status reads. */
function makeTraffic(seed: number) {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T | undefined =>
    items[Math.floor(random() * items.length)];
  const open: { base: Omit<Arrival, 'region' | 'timestamp'>; regions: string[] }[] = [];
  const sent: Arrival[] = [];
  let tags = 0;
  const newArrival = (): Arrival => {
    while (open.length < OPEN_ROUNDS) {
      const repository = REPOSITORIES[tags % REPOSITORIES.length] ?? 'soak';
      const tag = `soak-${tags++}`;
      const regions = [...REGIONS].sort(() => random() - 0.5);
      open.push({ base: { registry: REGISTRY, repository, tag, digest: digestOf(tag) }, regions });
    }
    const i = Math.floor(random() * open.length);
    const round = open[i]!;
    const region = round.regions.pop()!;
    if (round.regions.length === 0) open.splice(i, 1);
    const arrival = anArrival(round.base, region, REGIONS);
    sent.push(arrival);
    return arrival;
  };
  return (): { method: 'GET' | 'POST'; path: string; arrival?: Arrival } => {
    const r = random();
    const earlier = pick(sent);
    if (r < 0.25 && earlier) {
      return {
        method: 'GET',
        path: `/api/replications/${REGISTRY}/${earlier.repository}:${earlier.tag}`,
      };
    }
    const arrival = r < 0.5 && earlier ? earlier : newArrival();
    return { method: 'POST', path: `/api/webhooks/acr/${arrival.region}`, arrival };
  };
}

async function dropDatabase(): Promise<void> {
  const client = new CosmosClient({
    endpoint: app.cosmos.endpoint,
    key: app.cosmos.key,
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  await client.database(app.database).delete();
  client.dispose();
}

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MB`;

it('soaks a minute with faults in the middle: nothing lost, errors only under faults, memory flat', async () => {
  expect((await app.call('/api/health')).status).toBe(200);
  const url = new URL(app.url);
  const next = makeTraffic(7);
  const records: Sent[] = [];
  const samples: { at: number; rss: number; heapUsed: number }[] = [];
  const sample = () => {
    const { rss, heapUsed } = process.memoryUsage();
    samples.push({ at: performance.now(), rss, heapUsed });
  };
  gc();
  sample();
  const heapStart = samples[0]!.heapUsed;

  const t0 = performance.now();
  let faultsOn = Infinity;
  let faultsOff = Infinity;
  const timers = [
    setInterval(sample, 3_000),
    setTimeout(() => {
      faultsOn = performance.now();
      proxy.setFaults({ rate: 0.2, kinds: ALL_FAULTS, delayMs: 200, retryAfterMs: 20 });
    }, FAULTS_FROM_S * 1_000),
    setTimeout(() => {
      proxy.setFaults({ rate: 0 });
      faultsOff = performance.now();
    }, FAULTS_UNTIL_S * 1_000),
  ];
  let result: autocannon.Result;
  try {
    result = await autocannon({
      url: `${url.protocol}//${url.host}`,
      connections: CONNECTIONS,
      duration: DURATION_S,
      timeout: 20,
      requests: [
        {
          setupRequest: (request, context) => {
            const { method, path, arrival } = next();
            const record: Sent = { sentAt: performance.now(), ...(arrival ? { arrival } : {}) };
            records.push(record);
            (context as { current?: Sent }).current = record;
            return {
              ...request,
              method,
              path,
              headers: {
                authorization: `Bearer ${arrival ? WEBHOOK_TOKEN : READ_TOKEN}`,
                ...(arrival ? { 'content-type': 'application/json' } : {}),
              },
              ...(arrival ? { body: JSON.stringify(toWebhookBody(arrival)) } : { body: '' }),
            };
          },
          onResponse: (status, body, context, headers) => {
            const record = (context as { current?: Sent }).current;
            if (!record) return;
            record.doneAt = performance.now();
            record.status = status;
            const type = String(headers?.['content-type'] ?? '');
            try {
              record.problem =
                type.startsWith('application/problem+json') &&
                (JSON.parse(body) as { status?: unknown }).status === status;
            } catch {
              record.problem = false;
            }
          },
        },
      ],
    });
  } finally {
    for (const timer of timers) clearTimeout(timer);
  }
  const elapsed = performance.now() - t0;
  sample();

  // Bookkeeping by phase: before faults, under faults (overlapping the window), after faults.
  const answered = records.filter((r) => r.status !== undefined);
  const before = answered.filter((r) => (r.doneAt ?? 0) < faultsOn);
  const after = records.filter((r) => r.sentAt > faultsOff);
  const isError = (r: Sent) => r.status === undefined || r.status >= 500;
  const expectedStatus = (r: Sent) =>
    r.arrival ? [202, 503].includes(r.status ?? 0) : [200, 404, 503].includes(r.status ?? 0);
  const unavailableUnderFaults = answered.filter(
    (r) =>
      r.status !== undefined &&
      r.status >= 500 &&
      r.sentAt <= faultsOff &&
      (r.doneAt ?? 0) >= faultsOn,
  );
  // autocannon abandons each connection's last request when the minute is up.
  const abandoned = records.filter((r) => r.status === undefined);
  const errorsAfter = after.filter((r) => r.status !== undefined && isError(r));

  const ledger = makeArrivalLedger();
  for (const r of records) {
    if (r.arrival)
      ledger.record(r.arrival, { status: r.status ?? null, problem: r.problem ?? false });
  }
  const underLoad = audit(ledger, await readStoredState(app.cosmos, app.database), REGIONS);
  const unacknowledged = ledger.unacknowledged().length;
  await resendUnacknowledged(app, ledger);
  for (let i = 0; i < 10; i++) await app.host.runTimer('sweepRounds');
  const state = await readStoredState(app.cosmos, app.database);
  const final = audit(ledger, state, REGIONS);

  gc();
  sample();
  const heapEnd = samples.at(-1)!.heapUsed;
  // The embedded server runs in this process: without its data (and the host's log lines the
  // harness keeps), what is left is what the app kept.
  await dropDatabase();
  app.logs.length = 0;
  gc();
  sample();
  const heapEmptied = samples.at(-1)!.heapUsed;
  const peak = samples.reduce((p, s) => (s.rss > p.rss ? s : p));

  const rows: [string, string | number][] = [
    ['machine', `${(await import('node:os')).cpus().length} cores, Node ${process.version}`],
    [
      'run',
      `${(elapsed / 1000).toFixed(0)} s, ${CONNECTIONS} connections, faults 20 % from ${FAULTS_FROM_S} s to ${FAULTS_UNTIL_S} s`,
    ],
    ['requests sent', records.length],
    [
      '  webhooks / status reads',
      `${records.filter((r) => r.arrival).length} / ${records.filter((r) => !r.arrival).length}`,
    ],
    ['  answered / abandoned at the end', `${answered.length} / ${abandoned.length}`],
    ['arrivals sent (distinct)', underLoad.acknowledged + unacknowledged],
    ['arrivals acknowledged under load', underLoad.acknowledged],
    ['  of them stored', underLoad.stored],
    ['arrivals never acknowledged under load', unacknowledged],
    ['  of them stored all the same', underLoad.storedUnacknowledged],
    ['arrivals acknowledged after re-sending', final.acknowledged],
    ['  of them stored', final.stored],
    ['events expected / emitted', `${final.eventsExpected} / ${final.eventsEmitted}`],
    ['doubled events', final.doubledEvents.length],
    ['faults injected', JSON.stringify(proxy.stats.injected)],
    ['5xx under faults', unavailableUnderFaults.length],
    ['5xx before faults', before.filter(isError).length],
    ['errors after faults', errorsAfter.length],
    ['autocannon errors / timeouts', `${result.errors} / ${result.timeouts}`],
    [
      'throughput',
      `${result.requests.average.toFixed(0)} req/s average, p99 latency ${result.latency.p99} ms`,
    ],
    ['heap used peak', mb(Math.max(...samples.map((x) => x.heapUsed)))],
    [
      'rss start / peak / end',
      `${mb(samples[0]!.rss)} / ${mb(peak.rss)} / ${mb(samples.at(-1)!.rss)}`,
    ],
    [
      'heap after GC start / end',
      `${mb(heapStart)} / ${mb(heapEnd)}; ${mb(heapEmptied)} with the data and logs dropped (limit +${mb(HEAP_GROWTH_LIMIT)}; stored data ${mb(state.bytes)} as JSON)`,
    ],
    ['gc exposed', typeof (globalThis as { gc?: unknown }).gc === 'function' ? 'yes' : 'no'],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  console.info(
    `\nsoak summary\n${rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n')}\n`,
  );

  expect(faultsOff).toBeLessThan(Infinity);
  expect(abandoned.length).toBeLessThanOrEqual(CONNECTIONS);
  expect(result.errors).toBe(0);
  expect(result.timeouts).toBe(0);
  expect(answered.filter((r) => !expectedStatus(r))).toEqual([]);
  expect(answered.filter((r) => r.status === 503 && !r.problem)).toEqual([]);
  expect(unavailableUnderFaults.length).toBeGreaterThan(0);
  expect(before.filter(isError)).toEqual([]);
  expect(errorsAfter).toEqual([]);
  expect(underLoad.lost).toEqual([]);
  expect(ledger.unacknowledged()).toEqual([]);
  expect(final.eventsExpected).toBeGreaterThan(0);
  expectSettled(final);
  if (typeof (globalThis as { gc?: unknown }).gc === 'function') {
    expect(heapEmptied - heapStart).toBeLessThan(HEAP_GROWTH_LIMIT);
  }
});
