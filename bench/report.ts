// Turns the measurements into rows of "figure beside its baseline, as a ratio", for the terminal and the docs.
import type { AdmissionResult } from './measure-admission';
import type { CallbackResult } from './measure-callback';
import type { CliStartResult } from './measure-cli-start';
import type { ContentionResult } from './measure-contention';
import type { IndexRoundResult } from './measure-index-round';
import type { ColdStart, MemoryFigures } from './measure-footprint';
import type { GateResult } from './measure-gate';
import type { GrowthResult } from './measure-growth';
import type { IngestResult } from './measure-ingest';
import { KINDS, type Kind, type StoreCostResult } from './measure-store-cost';
import type { WaitersResult } from './measure-waiters';
import { monthlyUsd } from './request-units';
import { ratio } from './support/stats';

export interface Machine {
  nproc: number;
  cpuModel: string;
  memory: string;
  node: string;
  platform: string;
  /** 1, 5 and 15 minute load averages when the run started and ended: other work skews every figure. */
  loadAverage: { start: number[]; end: number[] | null };
}

export interface FootprintResult {
  app: { samples: ColdStart[]; median: ColdStart };
  /** The same app from the esbuild bundle (dist-bundle/), started and stopped alone. */
  bundled?: { samples: ColdStart[]; median: ColdStart };
  baseline: { samples: ColdStart[]; median: ColdStart };
  afterIngest: { app: MemoryFigures; baseline: MemoryFigures; cosmos: MemoryFigures } | null;
}

export interface BenchResults {
  startedAt: string;
  durationSeconds: number;
  quick: boolean;
  command: string;
  machine: Machine;
  storeCost?: StoreCostResult;
  contention?: ContentionResult;
  gate?: GateResult;
  callback?: CallbackResult;
  ingest?: IngestResult;
  growth?: GrowthResult;
  indexRound?: IndexRoundResult;
  footprint?: FootprintResult;
  waiters?: WaitersResult;
  admission?: AdmissionResult;
  cliStart?: CliStartResult;
  figures?: Figure[];
  warnings: string[];
}

export interface Figure {
  section: string;
  figure: string;
  value: number | null;
  unit: string;
  baselineName: string;
  baseline: number | null;
  ratio: number | null;
}

const KIND_LABEL: Record<Kind, string> = {
  first: 'first arrival of a round (creates the tag)',
  later: 'later, non-final arrival',
  completing: 'completing arrival (+ publishing the event)',
  duplicate: 'duplicate (ACR retry)',
  're-push': 'first arrival of a re-push round',
  stale: 'stale (older digest after a re-push)',
};

export function buildFigures(r: BenchResults): Figure[] {
  const rows: Figure[] = [];
  const add = (
    section: string,
    figure: string,
    value: number | null,
    unit: string,
    baselineName: string,
    baseline: number | null,
  ) =>
    rows.push({
      section,
      figure,
      value,
      unit,
      baselineName,
      baseline,
      ratio: ratio(value, baseline),
    });

  const s = r.storeCost;
  if (s) {
    const sec = '1 store cost';
    for (const kind of KINDS) {
      add(
        sec,
        `round trips/webhook: ${KIND_LABEL[kind]}`,
        s.sequential.app[kind].roundTrips,
        'RT',
        'floor: 1 upsert/arrival',
        s.sequential.floor[kind].roundTrips,
      );
    }
    add(
      sec,
      'round trips/webhook, 4-region round average',
      s.roundAverage.app,
      'RT',
      'issue target',
      1.25,
    );
    add(
      sec,
      'round trips/webhook, 4-region round average',
      s.roundAverage.app,
      'RT',
      'floor',
      s.roundAverage.floor,
    );
    add(
      sec,
      'round trips/webhook, 4-region round average',
      s.roundAverage.app,
      'RT',
      'naive read + upsert',
      s.roundAverage.naive,
    );
    add(
      sec,
      'writes by a duplicate',
      s.sequential.app.duplicate.writes,
      'writes',
      'floor',
      s.sequential.floor.duplicate.writes,
    );
    const charge = (k: Kind) => s.sequential.app[k].charge;
    add(
      sec,
      'request charge/webhook, round average (embedded: 1 per request)',
      (charge('first') + 2 * charge('later') + charge('completing')) / 4,
      'RU',
      'floor',
      s.sequential.floor.first.charge,
    );
    // Documented RU per operation (bench/request-units.ts), on the stored sizes of this run.
    add(
      sec,
      'RU/round on a real account (estimated: documented RU per counted operation)',
      s.ruPerRound.app,
      'RU',
      'floor',
      s.ruPerRound.floor,
    );
    add(
      sec,
      'USD/month, 1,000 pushes/day to 4 regions, serverless at $0.25/M RU (requests only)',
      monthlyUsd(1000, s.ruPerRound.app),
      'USD',
      'floor',
      monthlyUsd(1000, s.ruPerRound.floor),
    );
    const c = s.contended;
    const at = `${c.workload.regions.length} regions at once`;
    add(
      sec,
      `round trips/webhook, ${at}`,
      c.app.roundTripsPerWebhook,
      'RT',
      'naive read + upsert',
      c.naive.roundTripsPerWebhook,
    );
    add(
      sec,
      `round trips/webhook, ${at}`,
      c.app.roundTripsPerWebhook,
      'RT',
      'floor',
      c.floor.roundTripsPerWebhook,
    );
    add(
      sec,
      `lost region updates, ${at} (of ${c.app.webhooks})`,
      c.app.lostUpdates,
      'lost',
      'naive read + upsert',
      c.naive.lostUpdates,
    );
    add(
      sec,
      `completions, ${at} (${c.workload.tags} tags)`,
      c.app.eventItems,
      'events',
      'naive read + upsert',
      c.naive.emitted,
    );
  }

  const i = r.ingest;
  if (i) {
    const sec = '2 ingest';
    const base = 'bare server, 1 upsert';
    add(
      sec,
      `webhooks/s (${i.connections} connections, ${i.durationSeconds} s)`,
      i.app.requestsPerSecond,
      '/s',
      base,
      i.baseline.requestsPerSecond,
    );
    add(sec, 'latency p50', i.app.latencyP50Ms, 'ms', base, i.baseline.latencyP50Ms);
    add(sec, 'latency p99', i.app.latencyP99Ms, 'ms', base, i.baseline.latencyP99Ms);
    add(
      sec,
      'round trips/webhook under load',
      i.app.roundTripsPerWebhook,
      'RT',
      base,
      i.baseline.roundTripsPerWebhook,
    );
    add(
      sec,
      'non-2xx answers + errors',
      i.app.non2xx + i.app.errors,
      '',
      base,
      i.baseline.non2xx + i.baseline.errors,
    );
  }

  const g = r.gate;
  if (g) {
    const sec = '3 gate';
    const poller = `poll every 10 s (${g.poller.pollers} pollers)`;
    // Measured from the completing webhook's 202; negative when the long-poll answered first.
    add(
      sec,
      `long-poll ?wait=30, same instance, p50 (${g.rounds} rounds)`,
      g.sameInstance.p50,
      'ms',
      poller,
      g.poller.latency.p50,
    );
    add(
      sec,
      'long-poll ?wait=30, same instance, p99',
      g.sameInstance.p99,
      'ms',
      poller,
      g.poller.latency.p99,
    );
    add(
      sec,
      'long-poll ?wait=30, other instance, p50',
      g.otherInstance.p50,
      'ms',
      poller,
      g.poller.latency.p50,
    );
    add(
      sec,
      'long-poll ?wait=30, other instance, p99',
      g.otherInstance.p99,
      'ms',
      poller,
      g.poller.latency.p99,
    );
    add(
      sec,
      'long-poll, same instance, p50 from the webhook being sent',
      g.sameInstanceFromSend.p50,
      'ms',
      poller,
      g.poller.latency.p50,
    );
  }

  const c = r.callback;
  if (c) {
    const sec = '7 azure pipelines check';
    const apiResponse = `ApiResponse mode, evaluated every ${c.apiResponse.intervalMs / 60_000} min`;
    add(
      sec,
      `Callback mode, webhook to TaskCompleted, p50 (${c.callback.n} rounds)`,
      c.callback.p50,
      'ms',
      `${apiResponse}, expected`,
      c.apiResponse.expectedMs,
    );
    add(
      sec,
      'Callback mode, webhook to TaskCompleted, p99',
      c.callback.p99,
      'ms',
      `${apiResponse}, worst`,
      c.apiResponse.worstMs,
    );
  }

  const k = r.contention;
  if (k) {
    const sec = '4 contention';
    const at = `${k.workload.regions.length} regions x ${k.workload.tags} tags`;
    const four = r.storeCost?.contended.app;
    add(
      sec,
      `retries/webhook mean, ${at}`,
      k.retriesMean,
      '',
      '4 regions at once',
      four?.retriesMean ?? null,
    );
    add(
      sec,
      `retries/webhook max, ${at}`,
      k.retriesMax,
      '',
      '4 regions at once',
      four?.retriesMax ?? null,
    );
    add(
      sec,
      `round trips/webhook, ${at}`,
      k.roundTripsPerWebhook,
      'RT',
      'naive read + upsert',
      k.naive.roundTripsPerWebhook,
    );
    add(
      sec,
      'event items (exactly one per tag expected)',
      k.eventItems,
      'events',
      'tags',
      k.workload.tags,
    );
    add(
      sec,
      'lost region updates',
      k.lostUpdates,
      'lost',
      'naive read + upsert',
      k.naive.lostUpdates,
    );
    add(sec, 'gave up after 12 attempts (would be 503)', k.gaveUp, '', 'naive read + upsert', 0);
  }

  const gr = r.growth;
  const first = gr?.points[0];
  if (gr && first) {
    const sec = '5 growth';
    const at1 = `at ${first.tags.toLocaleString('en-US')} tags`;
    for (const p of gr.points) {
      const n = `at ${p.tags.toLocaleString('en-US')} tags`;
      add(
        sec,
        `round trips/webhook, first and later arrivals, ${n}`,
        p.arrivalRoundTrips,
        'RT',
        at1,
        first.arrivalRoundTrips,
      );
      add(
        sec,
        `arrival webhook p50, ${n}`,
        p.arrivalLatency.p50,
        'ms',
        at1,
        first.arrivalLatency.p50,
      );
      add(sec, `status read p50, ${n}`, p.statusRead.p50, 'ms', 'SDK point read', p.pointRead.p50);
      add(sec, `status read p99, ${n}`, p.statusRead.p99, 'ms', 'SDK point read', p.pointRead.p99);
      if (p.completingLatency && first.completingLatency) {
        add(
          sec,
          `completing webhook p50 (${num(p.completingRoundTrips)} RT), ${n}`,
          p.completingLatency.p50,
          'ms',
          at1,
          first.completingLatency.p50,
        );
      }
      if (p.listRegistry && first.listRegistry) {
        add(
          sec,
          `list page p50, registry-wide (${p.listRegistry.items} items, ${(p.listRegistry.bytes / 1024).toFixed(0)} KB, ${p.listRegistry.roundTrips} RT), ${n}`,
          p.listRegistry.latency.p50,
          'ms',
          at1,
          first.listRegistry.latency.p50,
        );
      }
      if (p.listRepository && first.listRepository) {
        add(
          sec,
          `list page p50, one repository (${p.listRepository.items} items, ${p.listRepository.roundTrips} RT), ${n}`,
          p.listRepository.latency.p50,
          'ms',
          at1,
          first.listRepository.latency.p50,
        );
      }
    }
  }

  const f = r.footprint;
  if (f) {
    const sec = '6 footprint';
    const base = 'bare server';
    add(
      sec,
      `cold start: fork to first webhook answered (median of ${f.app.samples.length})`,
      f.app.median.spawnToFirstResponseMs,
      'ms',
      base,
      f.baseline.median.spawnToFirstResponseMs,
    );
    add(
      sec,
      'cold start: process start to listening',
      f.app.median.listeningMs,
      'ms',
      base,
      f.baseline.median.listeningMs,
    );
    add(
      sec,
      'cold start: first webhook',
      f.app.median.firstRequestMs,
      'ms',
      base,
      f.baseline.median.firstRequestMs,
    );
    if (f.bundled) {
      add(
        sec,
        `cold start, bundled (dist-bundle/): fork to first webhook answered (median of ${f.bundled.samples.length})`,
        f.bundled.median.spawnToFirstResponseMs,
        'ms',
        base,
        f.baseline.median.spawnToFirstResponseMs,
      );
      add(
        sec,
        'cold start, bundled: process start to listening',
        f.bundled.median.listeningMs,
        'ms',
        base,
        f.baseline.median.listeningMs,
      );
      add(
        sec,
        'cold start, bundled: first webhook',
        f.bundled.median.firstRequestMs,
        'ms',
        base,
        f.baseline.median.firstRequestMs,
      );
      add(
        sec,
        'cold start, bundled beside unbundled: fork to first webhook answered',
        f.bundled.median.spawnToFirstResponseMs,
        'ms',
        'unbundled app',
        f.app.median.spawnToFirstResponseMs,
      );
    }
    if (f.afterIngest) {
      add(
        sec,
        'RSS after the ingest run',
        f.afterIngest.app.rssMb,
        'MiB',
        base,
        f.afterIngest.baseline.rssMb,
      );
      add(
        sec,
        'heap used after the ingest run',
        f.afterIngest.app.heapUsedMb,
        'MiB',
        base,
        f.afterIngest.baseline.heapUsedMb,
      );
    }
  }
  const adm = r.admission;
  if (adm) {
    const sec = '8 admission';
    // Issue 11's target: p99 under 100 ms for 100 keys (Gatekeeper's budget is 1-2 s).
    for (const { keys, latency } of adm.provider) {
      const label = `Gatekeeper provider, ${keys} key${keys === 1 ? '' : 's'}`;
      add(sec, `${label}, p50 (${adm.requests} requests)`, latency.p50, 'ms', 'target p99', 100);
      add(sec, `${label}, p99`, latency.p99, 'ms', 'target p99', 100);
    }
    const all = 'all regions ?wait=30';
    add(
      sec,
      `per-region ?wait=30&regions=, p50 (${adm.waitRounds} rounds)`,
      adm.scopedWait.p50,
      'ms',
      all,
      adm.allRegionsWait.p50,
    );
    add(
      sec,
      'per-region ?wait=30&regions=, p99',
      adm.scopedWait.p99,
      'ms',
      all,
      adm.allRegionsWait.p99,
    );
  }

  const x = r.indexRound;
  if (x) {
    const sec = '9 index round';
    const single = 'single-manifest round';
    add(
      sec,
      'Cosmos round trips per webhook',
      x.index.roundTripsPerWebhook,
      '',
      single,
      x.single.roundTripsPerWebhook,
    );
    add(
      sec,
      'Cosmos round trips per round',
      x.index.roundTripsPerRound,
      '',
      single,
      x.singleRoundTripsPerRound,
    );
    add(sec, 'registry reads per round', x.index.registryReadsPerRound, '', single, 0);
  }

  const cli = r.cliStart;
  if (cli) {
    const sec = '10 CLI start';
    add(
      sec,
      `acr-gate --version, p50 of ${cli.runs}`,
      cli.cli.p50,
      'ms',
      'node -e 0',
      cli.bareNode.p50,
    );
    add(
      sec,
      `acr-gate --version, p50 of ${cli.runs}`,
      cli.cli.p50,
      'ms',
      'with the ARM + identity SDKs loaded',
      cli.cliWithArmSdk.p50,
    );
  }
  return rows;
}

const num = (value: number | null, unit = ''): string => {
  if (value === null || Number.isNaN(value)) return '—';
  const digits =
    Math.abs(value) >= 100 || Number.isInteger(value) ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  const text = value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
  return unit ? `${text} ${unit}` : text;
};

/** Small ratios keep two significant digits; a negative one (answered before the baseline's start) has no meaning as a ratio. */
function formatRatio(value: number | null): string {
  if (value === null || Number.isNaN(value)) return '—';
  if (value < 0) return '< 0';
  return `${value < 0.1 && value > 0 ? value.toPrecision(2) : value.toFixed(2)}×`;
}

/** A Markdown table with padded columns, readable in a terminal as it is. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) =>
    Math.max(h.length, 3, ...rows.map((r) => (r[i] ?? '').length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function figuresTable(figures: Figure[]): string {
  return table(
    ['#', 'figure', 'value', 'baseline', 'ratio'],
    figures.map((f) => [
      f.section,
      f.figure,
      num(f.value, f.unit),
      `${num(f.baseline, f.unit)} (${f.baselineName})`,
      formatRatio(f.ratio),
    ]),
  );
}

/** Per kind of arrival: where the round trips go, beside the floor and the naive implementation. */
export function breakdownTable(s: StoreCostResult): string {
  return table(
    [
      'arrival',
      'app RT',
      'app operations',
      'app writes',
      'app RU (est.)',
      'floor RT',
      'naive RT',
      'app/floor',
      'app/naive',
    ],
    KINDS.map((kind) => {
      const app = s.sequential.app[kind];
      const ops = Object.entries(app.byOperation)
        .map(([op, n]) => (n === 1 ? op : `${op} ×${num(n)}`))
        .join(', ');
      const floor = s.sequential.floor[kind].roundTrips;
      const naive = s.sequential.naive[kind].roundTrips;
      return [
        KIND_LABEL[kind],
        num(app.roundTrips),
        ops,
        num(app.writes),
        num(app.ru),
        num(floor),
        num(naive),
        formatRatio(ratio(app.roundTrips, floor)),
        formatRatio(ratio(app.roundTrips, naive)),
      ];
    }),
  );
}

export function machineLine(m: Machine): string {
  const load = (l: number[]) => l.map((x) => x.toFixed(1)).join(' ');
  return (
    `${m.nproc} CPUs (${m.cpuModel}), ${m.memory} memory, Node.js ${m.node}, ${m.platform}; ` +
    `load average ${load(m.loadAverage.start)} at the start` +
    (m.loadAverage.end ? `, ${load(m.loadAverage.end)} at the end` : '')
  );
}
