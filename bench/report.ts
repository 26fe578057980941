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
import type { EndToEndResult } from './measure-end-to-end';
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
  endToEnd?: EndToEndResult;
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

/** One line of the figures table before its ratio is taken. */
type Row = [
  figure: string,
  value: number | null,
  unit: string,
  baselineName: string,
  baseline: number | null,
];

/** Rows that share a unit and a baseline name: `(figure, value, baseline)`. */
const against =
  (unit: string, baselineName: string) =>
  (figure: string, value: number | null, baseline: number | null): Row => [
    figure,
    value,
    unit,
    baselineName,
    baseline,
  ];

function endToEndRows(e: EndToEndResult): Row[] {
  const figure = 'round trips/webhook, 4-region round, first webhook to delivery recorded';
  return [
    [figure, e.roundTripsPerWebhook, 'RT', 'issue target', 1.5],
    [figure, e.roundTripsPerWebhook, 'RT', 'floor: 1 upsert/arrival', 1],
  ];
}

function storeCostRows(s: StoreCostResult): Row[] {
  const average = 'round trips/webhook, 4-region round average';
  const charge = (k: Kind) => s.sequential.app[k].charge;
  const c = s.contended;
  const at = `${c.workload.regions.length} regions at once`;
  const vsNaive = against('RT', 'naive read + upsert');
  return [
    ...KINDS.map((kind) =>
      against('RT', 'floor: 1 upsert/arrival')(
        `round trips/webhook: ${KIND_LABEL[kind]}`,
        s.sequential.app[kind].roundTrips,
        s.sequential.floor[kind].roundTrips,
      ),
    ),
    [average, s.roundAverage.app, 'RT', 'issue target', 1.25],
    [average, s.roundAverage.app, 'RT', 'floor', s.roundAverage.floor],
    vsNaive(average, s.roundAverage.app, s.roundAverage.naive),
    [
      'writes by a duplicate',
      s.sequential.app.duplicate.writes,
      'writes',
      'floor',
      s.sequential.floor.duplicate.writes,
    ],
    [
      'request charge/webhook, round average (embedded: 1 per request)',
      (charge('first') + 2 * charge('later') + charge('completing')) / 4,
      'RU',
      'floor',
      s.sequential.floor.first.charge,
    ],
    // Documented RU per operation (bench/request-units.ts), on the stored sizes of this run.
    [
      'RU/round on a real account (estimated: documented RU per counted operation)',
      s.ruPerRound.app,
      'RU',
      'floor',
      s.ruPerRound.floor,
    ],
    [
      'USD/month, 1,000 pushes/day to 4 regions, serverless at $0.25/M RU (requests only)',
      monthlyUsd(1000, s.ruPerRound.app),
      'USD',
      'floor',
      monthlyUsd(1000, s.ruPerRound.floor),
    ],
    vsNaive(`round trips/webhook, ${at}`, c.app.roundTripsPerWebhook, c.naive.roundTripsPerWebhook),
    [
      `round trips/webhook, ${at}`,
      c.app.roundTripsPerWebhook,
      'RT',
      'floor',
      c.floor.roundTripsPerWebhook,
    ],
    [
      `lost region updates, ${at} (of ${c.app.webhooks})`,
      c.app.lostUpdates,
      'lost',
      'naive read + upsert',
      c.naive.lostUpdates,
    ],
    [
      `completions, ${at} (${c.workload.tags} tags)`,
      c.app.eventItems,
      'events',
      'naive read + upsert',
      c.naive.emitted,
    ],
  ];
}

function ingestRows(i: IngestResult): Row[] {
  const base = 'bare server, 1 upsert';
  const ms = against('ms', base);
  return [
    [
      `webhooks/s (${i.connections} connections, ${i.durationSeconds} s)`,
      i.app.requestsPerSecond,
      '/s',
      base,
      i.baseline.requestsPerSecond,
    ],
    ms('latency p50', i.app.latencyP50Ms, i.baseline.latencyP50Ms),
    ms('latency p99', i.app.latencyP99Ms, i.baseline.latencyP99Ms),
    [
      'round trips/webhook under load',
      i.app.roundTripsPerWebhook,
      'RT',
      base,
      i.baseline.roundTripsPerWebhook,
    ],
    [
      'non-2xx answers + errors',
      i.app.non2xx + i.app.errors,
      '',
      base,
      i.baseline.non2xx + i.baseline.errors,
    ],
    ...hostedFunctionRows(i),
  ];
}

/** The host path alone: the bare server's upsert as a function, beside the server and the app. */
function hostedFunctionRows(i: IngestResult): Row[] {
  const f = i.hostedFunction;
  if (!f) return [];
  const hosted = 'the same upsert as a function, same host';
  return [
    [
      'webhooks/s, the upsert as a function on the local host',
      f.requestsPerSecond,
      '/s',
      'bare server, 1 upsert',
      i.baseline.requestsPerSecond,
    ],
    [
      'latency p99, the upsert as a function on the local host',
      f.latencyP99Ms,
      'ms',
      'bare server, 1 upsert',
      i.baseline.latencyP99Ms,
    ],
    [
      'webhooks/s, the app beside the upsert as a function',
      i.app.requestsPerSecond,
      '/s',
      hosted,
      f.requestsPerSecond,
    ],
  ];
}

function gateRows(g: GateResult): Row[] {
  // Measured from the completing webhook's 202; negative when the long-poll answered first.
  const vsPoller = against('ms', `poll every 10 s (${g.poller.pollers} pollers)`);
  const { p50, p99 } = g.poller.latency;
  return [
    vsPoller(
      `long-poll ?wait=30, same instance, p50 (${g.rounds} rounds)`,
      g.sameInstance.p50,
      p50,
    ),
    vsPoller('long-poll ?wait=30, same instance, p99', g.sameInstance.p99, p99),
    vsPoller('long-poll ?wait=30, other instance, p50', g.otherInstance.p50, p50),
    vsPoller('long-poll ?wait=30, other instance, p99', g.otherInstance.p99, p99),
    vsPoller(
      'long-poll, same instance, p50 from the webhook being sent',
      g.sameInstanceFromSend.p50,
      p50,
    ),
    [
      `long-poll ?wait=30, other instance, p99 (WAIT_POLL_MS ${g.pollMs})`,
      g.otherInstance.p99,
      'ms',
      'issue target',
      250,
    ],
    [
      `tag reads per minute, ${g.waiters} long-polls on one tag on one instance`,
      (g.waitingReadsPerSecond['read tag'] ?? 0) * 60,
      'reads',
      `one per poll (60 s / ${g.pollMs} ms)`,
      60_000 / g.pollMs,
    ],
    [
      'registry reads per minute while they wait (cached; every wait of the instance shares it)',
      (g.waitingReadsPerSecond['read registry'] ?? 0) * 60,
      'reads',
      'one per CACHE_TTL_MS (5 s)',
      12,
    ],
  ];
}

function callbackRows(c: CallbackResult): Row[] {
  const apiResponse = `ApiResponse mode, evaluated every ${c.apiResponse.intervalMs / 60_000} min`;
  return [
    [
      `Callback mode, webhook to TaskCompleted, p50 (${c.callback.n} rounds)`,
      c.callback.p50,
      'ms',
      `${apiResponse}, expected`,
      c.apiResponse.expectedMs,
    ],
    [
      'Callback mode, webhook to TaskCompleted, p99',
      c.callback.p99,
      'ms',
      `${apiResponse}, worst`,
      c.apiResponse.worstMs,
    ],
  ];
}

function contentionRows(k: ContentionResult, r: BenchResults): Row[] {
  const at = `${k.workload.regions.length} regions x ${k.workload.tags} tags`;
  const four = r.storeCost?.contended.app;
  const vsFour = against('', '4 regions at once');
  const naive = 'naive read + upsert';
  return [
    vsFour(`retries/webhook mean, ${at}`, k.retriesMean, four?.retriesMean ?? null),
    vsFour(`retries/webhook max, ${at}`, k.retriesMax, four?.retriesMax ?? null),
    [
      `round trips/webhook, ${at}`,
      k.roundTripsPerWebhook,
      'RT',
      naive,
      k.naive.roundTripsPerWebhook,
    ],
    ['event items (exactly one per tag expected)', k.eventItems, 'events', 'tags', k.workload.tags],
    ['lost region updates', k.lostUpdates, 'lost', naive, k.naive.lostUpdates],
    ['gave up after 12 attempts (would be 503)', k.gaveUp, '', naive, 0],
  ];
}

function growthRows(gr: GrowthResult): Row[] {
  const first = gr.points[0];
  if (!first) return [];
  const at = (tags: number) => `at ${tags.toLocaleString('en-US')} tags`;
  const vsFirst = against('ms', at(first.tags));
  const vsPointRead = against('ms', 'SDK point read');
  return gr.points.flatMap((p): Row[] => {
    const n = at(p.tags);
    return [
      against('RT', at(first.tags))(
        `round trips/webhook, first and later arrivals, ${n}`,
        p.arrivalRoundTrips,
        first.arrivalRoundTrips,
      ),
      vsFirst(`arrival webhook p50, ${n}`, p.arrivalLatency.p50, first.arrivalLatency.p50),
      vsPointRead(`status read p50, ${n}`, p.statusRead.p50, p.pointRead.p50),
      vsPointRead(`status read p99, ${n}`, p.statusRead.p99, p.pointRead.p99),
      vsFirst(
        `completing webhook p50 (${num(p.completingRoundTrips)} RT), ${n}`,
        p.completingLatency.p50,
        first.completingLatency.p50,
      ),
      ...(p.listRegistry && first.listRegistry
        ? [
            vsFirst(
              `list page p50, registry-wide (${p.listRegistry.items} items, ${(p.listRegistry.bytes / 1024).toFixed(0)} KB, ${p.listRegistry.roundTrips} RT), ${n}`,
              p.listRegistry.latency.p50,
              first.listRegistry.latency.p50,
            ),
          ]
        : []),
      [
        `approvals queries while measured (no approval waiting), ${n}`,
        p.approvalQueries,
        '',
        'none expected',
        0,
      ],
      vsFirst(
        `approvals timer query (listDue) p50 (${p.timerQuery.roundTrips} RT), ${n}`,
        p.timerQuery.latency.p50,
        first.timerQuery.latency.p50,
      ),
      ...(p.listRepository && first.listRepository
        ? [
            vsFirst(
              `list page p50, one repository (${p.listRepository.items} items, ${p.listRepository.roundTrips} RT), ${n}`,
              p.listRepository.latency.p50,
              first.listRepository.latency.p50,
            ),
          ]
        : []),
    ];
  });
}

function footprintRows(f: FootprintResult): Row[] {
  const vsBare = (unit: string) => against(unit, 'bare server');
  const ms = vsBare('ms');
  const mib = vsBare('MiB');
  const base = f.baseline.median;
  const rows: Row[] = [
    ms(
      `cold start: fork to first webhook answered (median of ${f.app.samples.length})`,
      f.app.median.spawnToFirstResponseMs,
      base.spawnToFirstResponseMs,
    ),
    ms('cold start: process start to listening', f.app.median.listeningMs, base.listeningMs),
    ms('cold start: first webhook', f.app.median.firstRequestMs, base.firstRequestMs),
  ];
  if (f.bundled) {
    const bundled = f.bundled.median;
    rows.push(
      ms(
        `cold start, bundled (dist-bundle/): fork to first webhook answered (median of ${f.bundled.samples.length})`,
        bundled.spawnToFirstResponseMs,
        base.spawnToFirstResponseMs,
      ),
      ms('cold start, bundled: process start to listening', bundled.listeningMs, base.listeningMs),
      ms('cold start, bundled: first webhook', bundled.firstRequestMs, base.firstRequestMs),
      [
        'cold start, bundled beside unbundled: fork to first webhook answered',
        bundled.spawnToFirstResponseMs,
        'ms',
        'unbundled app',
        f.app.median.spawnToFirstResponseMs,
      ],
    );
  }
  if (f.afterIngest) {
    const { app, baseline } = f.afterIngest;
    rows.push(
      mib('RSS after the ingest run', app.rssMb, baseline.rssMb),
      mib('heap used after the ingest run', app.heapUsedMb, baseline.heapUsedMb),
    );
  }
  return rows;
}

function admissionRows(adm: AdmissionResult): Row[] {
  // Issue 11's target: p99 under 100 ms for 100 keys (Gatekeeper's budget is 1-2 s).
  const vsTarget = against('ms', 'target p99');
  const vsAll = against('ms', 'all regions ?wait=30');
  return [
    ...adm.provider.flatMap(({ keys, latency }) => {
      const label = `Gatekeeper provider, ${keys} key${keys === 1 ? '' : 's'}`;
      return [
        vsTarget(`${label}, p50 (${adm.requests} requests)`, latency.p50, 100),
        vsTarget(`${label}, p99`, latency.p99, 100),
      ];
    }),
    vsAll(
      `per-region ?wait=30&regions=, p50 (${adm.waitRounds} rounds)`,
      adm.scopedWait.p50,
      adm.allRegionsWait.p50,
    ),
    vsAll('per-region ?wait=30&regions=, p99', adm.scopedWait.p99, adm.allRegionsWait.p99),
  ];
}

function indexRoundRows(x: IndexRoundResult): Row[] {
  const vsSingle = against('', 'single-manifest round');
  return [
    vsSingle(
      'Cosmos round trips per webhook',
      x.index.roundTripsPerWebhook,
      x.single.roundTripsPerWebhook,
    ),
    vsSingle(
      'Cosmos round trips per round',
      x.index.roundTripsPerRound,
      x.singleRoundTripsPerRound,
    ),
    vsSingle('registry reads per round', x.index.registryReadsPerRound, 0),
  ];
}

function cliStartRows(cli: CliStartResult): Row[] {
  const figure = `acr-gate --version, p50 of ${cli.runs}`;
  return [
    [figure, cli.cli.p50, 'ms', 'node -e 0', cli.bareNode.p50],
    [figure, cli.cli.p50, 'ms', 'with the ARM + identity SDKs loaded', cli.cliWithArmSdk.p50],
  ];
}

/** The table, section by section, in the order it is printed; a measurement not run adds no rows. */
const SECTIONS: [section: string, rows: (r: BenchResults) => Row[]][] = [
  ['1 store cost', (r) => (r.storeCost ? storeCostRows(r.storeCost) : [])],
  ['1 store cost', (r) => (r.endToEnd ? endToEndRows(r.endToEnd) : [])],
  ['2 ingest', (r) => (r.ingest ? ingestRows(r.ingest) : [])],
  ['3 gate', (r) => (r.gate ? gateRows(r.gate) : [])],
  ['7 azure pipelines check', (r) => (r.callback ? callbackRows(r.callback) : [])],
  ['4 contention', (r) => (r.contention ? contentionRows(r.contention, r) : [])],
  ['5 growth', (r) => (r.growth ? growthRows(r.growth) : [])],
  ['6 footprint', (r) => (r.footprint ? footprintRows(r.footprint) : [])],
  ['8 admission', (r) => (r.admission ? admissionRows(r.admission) : [])],
  ['9 index round', (r) => (r.indexRound ? indexRoundRows(r.indexRound) : [])],
  ['10 CLI start', (r) => (r.cliStart ? cliStartRows(r.cliStart) : [])],
];

export function buildFigures(r: BenchResults): Figure[] {
  return SECTIONS.flatMap(([section, rows]) =>
    rows(r).map(([figure, value, unit, baselineName, baseline]) => ({
      section,
      figure,
      value,
      unit,
      baselineName,
      baseline,
      ratio: ratio(value, baseline),
    })),
  );
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
