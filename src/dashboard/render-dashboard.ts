// The replication dashboard as HTML: pure functions from plain data to a string, no script, every value escaped.
// The figures it shows (lags, stalled rounds) come from ./dashboard-stats.
import { createHash } from 'node:crypto';
import type { DeliveryState } from '../app/ports';
import type { StatusBody } from '../app/read-status';
import type { RegionStatus } from '../replication/tag-state';
import { formatDuration } from '../util/duration';
import {
  ageMillis,
  lagMillis,
  regionLags,
  stalledRounds,
  type RegionLag,
  type StalledRound,
} from './dashboard-stats';

// #region escaping: every value reaches the page through escapeHtml, by construction

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Safe in text and in quoted attribute values (every attribute here is double-quoted). */
export function escapeHtml(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/** Markup built by `markup`; the only thing `markup` does not escape. */
class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type Interpolation = SafeHtml | string | number | null | undefined | readonly Interpolation[];

function interpolate(value: Interpolation): string {
  if (value === null || value === undefined) return '';
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return (value as readonly Interpolation[]).map(interpolate).join('');
  return escapeHtml(value as string | number);
}

/** A template tag that escapes every interpolated value unless it is markup `markup` built itself. */
export function markup(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += interpolate(value) + (strings[i + 1] ?? '');
  });
  return new SafeHtml(out);
}

// #endregion

// #region the data the page shows

export interface DeliveryView {
  /** The subscription as the viewer may see it: its URL for admins, its id otherwise. */
  subscription: string;
  state: DeliveryState;
  attempts: number;
  last?: { at: string; status?: number; error?: string };
  nextAttemptAt: string | null;
}

export interface EventView {
  id: string;
  type: string;
  subject: string;
  recordedAt: string;
  digest?: string;
  durationMs?: number | null;
  missingRegions?: string[];
  deliveries: DeliveryView[];
}

export interface RegistryPage {
  registry: string;
  /** The time the page was built: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`. */
  now: string;
  requiredRegions: string[];
  regionsSource: 'registry' | 'default';
  /** The most recently updated tags, newest first. */
  tags: StatusBody[];
  stallAfterMs: number;
  events: EventView[];
  /** Said under the events when they are not the complete latest ones. */
  eventsNote?: string;
  links: DashboardLinks;
}

export interface IndexPage {
  now: string;
  registries: string[];
  links: DashboardLinks;
}

/** Where links point; `token` only when the viewer passed it in the query (it must ride along). */
export interface DashboardLinks {
  basePath: string;
  token?: string;
}

export const REFRESH_SECONDS = 10;

// #endregion

// #region page parts

const formatMillis = (ms: number): string => formatDuration(ms, { days: true });

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f6f8fa;color:#1f2328}
header,main,footer{max-width:80rem;margin:0 auto;padding:.75rem 1rem}
header{padding-bottom:0}
h1{font-size:1.3rem;margin:.2rem 0;overflow-wrap:anywhere}
h2{font-size:1.05rem;margin:0 0 .5rem}
p{margin:.3rem 0}
a{color:#0969da}
.meta{color:#59636e;font-size:13px;overflow-wrap:anywhere}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:.75rem;margin:0 0 1rem;min-width:0}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:13px}
th,td{padding:.3rem .5rem;border-bottom:1px solid #eaeef2;text-align:left;vertical-align:top}
thead th{background:#f6f8fa;font-weight:600;white-space:nowrap}
caption{text-align:left;padding:0 0 .4rem}
.matrix td,.matrix th{white-space:nowrap}
.matrix th[scope=row]{position:sticky;left:0;background:#fff;z-index:1;max-width:16rem;overflow:hidden;text-overflow:ellipsis}
.cell{border-radius:4px;font-weight:600}
.cell .lag{display:block;font-weight:400;font-size:12px}
.arrived{background:#dafbe1;color:#116329}
.pending,.reported{background:#fff8c5;color:#6c4400}
.stale{background:#ffebe9;color:#a40e26}
.deleted{background:#eaeef2;color:#424a53}
.badge{display:inline-block;padding:0 .4rem;border-radius:1rem;font-size:12px;font-weight:600}
.replicated{background:#dafbe1;color:#116329}
.replicating{background:#ddf4ff;color:#0550ae}
.stalled{background:#ffebe9;color:#a40e26}
.delivered{background:#dafbe1;color:#116329}
.dead,.gone{background:#ffebe9;color:#a40e26}
.cancelled{background:#eaeef2;color:#424a53}
.legend{display:flex;flex-wrap:wrap;gap:.4rem 1rem;list-style:none;padding:0;margin:.5rem 0 0;font-size:13px}
.legend .cell{padding:0 .4rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,22rem),1fr));gap:0 1rem}
.chart{width:100%;max-width:36rem;height:auto;display:block}
.chart .bar{fill:#bf8700}
.chart .median{stroke:#1f2328;stroke-width:2}
.chart .track{fill:#eaeef2}
.chart text{font-size:13px;fill:#1f2328}
.chart .value{fill:#59636e;font-size:12px}
.wrap{overflow-wrap:anywhere;word-break:break-word}
.events td{min-width:6rem}
.events td.wrap{min-width:12rem;max-width:28rem}
ul.deliveries{margin:0;padding-left:1rem}
code{font-size:12px}
form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
input[type=text]{font:inherit;padding:.3rem .5rem;min-width:0;flex:1 1 14rem;max-width:24rem}
@media (max-width:640px){
.matrix th[scope=row]{max-width:9rem;white-space:normal;overflow-wrap:anywhere}
table.events thead{display:none}
table.events,table.events tbody,table.events tr,table.events td{display:block;max-width:none;min-width:0;border:0;padding:.1rem 0}
table.events tr{border-bottom:1px solid #eaeef2;padding:.4rem 0}
}
`;

/** No script at all; only the one inline style block, allowed by its hash. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE, 'utf8').digest('base64')}'`,
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function href(links: DashboardLinks, registry?: string): string {
  const path =
    registry === undefined ? links.basePath : `${links.basePath}/${encodeURIComponent(registry)}`;
  return links.token === undefined
    ? path
    : `${path}?${new URLSearchParams({ token: links.token }).toString()}`;
}

function page(title: string, now: string, body: SafeHtml, refresh: boolean): string {
  return markup`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        ${refresh ? markup`<meta http-equiv="refresh" content="${REFRESH_SECONDS}" />` : ''}
        <meta name="referrer" content="no-referrer" />
        <title>${title}</title>
        <style>${new SafeHtml(STYLE)}</style>
      </head>
      <body>
        ${body}
        <footer class="meta">
          <p>
            Generated ${now}${refresh ? `; refreshes every ${REFRESH_SECONDS} s` : ''}. Read-only.
          </p>
        </footer>
      </body>
    </html> `.text;
}

const SYMBOL: Record<RegionStatus, string> = {
  arrived: '✓',
  reported: '?',
  pending: '…',
  stale: '!',
  deleted: '✕',
};

const MEANING: Record<RegionStatus, string> = {
  arrived: 'has the current digest (time after the push)',
  reported: 'reported it, not yet confirmed at its own endpoint',
  pending: 'has reported nothing for this round, or lacks some of the image (hover for which)',
  stale: 'still has an older digest',
  deleted: 'reported the manifest deleted',
};

const shortDigest = (digest: string | null | undefined): string =>
  digest ? digest.replace(/^(sha256:[0-9a-f]{12})[0-9a-f]+$/, '$1…') : '–';

const tagName = (t: StatusBody): string =>
  t.tag === null ? `${t.repository}@${shortDigest(t.digest)}` : `${t.repository}:${t.tag}`;

function tagBadge(t: StatusBody, stalled: boolean): SafeHtml {
  const label = stalled ? 'stalled' : t.status;
  return markup`<span class="badge ${label}">${label}</span>`;
}

function matrixCell(t: StatusBody, region: string): SafeHtml {
  const view = t.regions.find((r) => r.region === region);
  const status: RegionStatus = view?.status ?? 'pending';
  const lag = lagMillis(t, region);
  const detail =
    status === 'arrived' && lag !== undefined
      ? `+${formatMillis(lag)}`
      : status === 'stale'
        ? shortDigest(view?.digest)
        : view?.missing && view.missing.length > 0
          ? `${view.missing.length} missing`
          : '';
  const title =
    `${region}: ${status}${view?.arrivedAt ? ` at ${view.arrivedAt}` : ''}` +
    (view?.missing && view.missing.length > 0
      ? `; missing ${view.missing.map(shortDigest).join(', ')}`
      : '') +
    (t.reason ? `; ${t.reason}` : '');
  return markup`<td class="cell ${status}" data-region="${region}" title="${title}">
    <span aria-hidden="true">${SYMBOL[status]} </span
    ><span class="state">${status}</span>${detail ? markup`<span class="lag">${detail}</span>` : ''}
  </td>`;
}

function matrix(p: RegistryPage, stalled: Set<StatusBody>): SafeHtml {
  if (p.tags.length === 0) {
    return markup`<p>No push of <code>${p.registry}</code> has been recorded yet.</p>`;
  }
  const rows = p.tags.map(
    (t) =>
      markup`<tr data-tag="${tagName(t)}">
        <th scope="row" title="${tagName(t)} ${t.digest ?? ''}">${tagName(t)}</th>
        <td>${tagBadge(t, stalled.has(t))}</td>
        ${p.requiredRegions.map((r) => matrixCell(t, r))}
        <td>
          ${t.pushedAt === null ? '–' : `${formatMillis(ageMillis(p.now, t.pushedAt))} ago`}
        </td>
      </tr>`,
  );
  return markup`<div class="scroll">
      <table class="matrix">
        <caption class="meta">
          Each cell: the region's state for the tag's current digest, and for an arrival the time
          after the push.
        </caption>
        <thead>
          <tr>
            <th scope="col">tag</th>
            <th scope="col">status</th>
            ${p.requiredRegions.map((r) => markup`<th scope="col">${r}</th>`)}
            <th scope="col">pushed</th>
          </tr>
        </thead>
        <tbody>
          ${rows}
        </tbody>
      </table>
    </div>
    <ul class="legend" aria-label="legend">
      ${(Object.keys(SYMBOL) as RegionStatus[]).map(
        (s) =>
          markup`<li>
            <span class="cell ${s}"><span aria-hidden="true">${SYMBOL[s]} </span>${s}</span>
            ${MEANING[s]}
          </li>`,
      )}
    </ul>`;
}

function lagChart(lags: RegionLag[], rounds: number): SafeHtml {
  if (lags.length === 0) {
    return markup`<p>No region has reported a current round yet.</p>`;
  }
  const width = 360;
  const rowHeight = 40;
  const max = Math.max(1, ...lags.map((l) => l.p90Ms));
  const scale = (ms: number): number => Math.max(2, Math.round((ms / max) * width));
  const rows = lags.map((l, i) => {
    const y = i * rowHeight;
    return markup`<g data-region="${l.region}"
      ><text x="0" y="${y + 14}">${l.region}</text
      ><text class="value" x="${width}" y="${y + 14}" text-anchor="end"
        >p90 ${formatMillis(l.p90Ms)} · median ${formatMillis(l.medianMs)} · n=${l.rounds}</text
      ><rect class="track" x="0" y="${y + 20}" width="${width}" height="12" rx="2" /><rect
        class="bar"
        x="0"
        y="${y + 20}"
        width="${scale(l.p90Ms)}"
        height="12"
        rx="2" /><line
        class="median"
        x1="${scale(l.medianMs)}"
        x2="${scale(l.medianMs)}"
        y1="${y + 18}"
        y2="${y + 34}"
    /></g>`;
  });
  return markup`<svg
    class="chart"
    viewBox="0 0 ${width} ${lags.length * rowHeight}"
    role="img"
    aria-labelledby="lag-title lag-desc"
    xmlns="http://www.w3.org/2000/svg"
  >
    <title id="lag-title">Slowest regions: time from push to arrival</title>
    <desc id="lag-desc">
      Over the current rounds of the ${rounds} most recent tags: bar to the 90th percentile, tick at
      the median.
    </desc>
    ${rows}
  </svg>`;
}

function stalledList(p: RegistryPage, stalled: StalledRound[]): SafeHtml {
  if (stalled.length === 0) {
    return markup`<p>
      No round has been open longer than ${formatMillis(p.stallAfterMs)} (STALL_AFTER).
    </p>`;
  }
  return markup`<div class="scroll">
    <table class="stalled-rounds">
      <thead>
        <tr>
          <th scope="col">tag</th>
          <th scope="col">open for</th>
          <th scope="col">waiting on</th>
        </tr>
      </thead>
      <tbody>
        ${stalled.map(
          (s) =>
            markup`<tr>
              <td class="wrap">${tagName(s.tag)}</td>
              <td>${formatMillis(s.openMs)}</td>
              <td class="wrap">${s.tag.missingRegions.join(', ')}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

function delivery(d: DeliveryView): SafeHtml {
  const last = d.last;
  const lastText =
    last === undefined
      ? 'no attempt yet'
      : `last ${last.status === undefined ? 'no response' : `HTTP ${last.status}`}${last.error ? `: ${last.error}` : ''}`;
  return markup`<li>
    <span class="wrap">${d.subscription}</span> <span class="badge ${d.state}">${d.state}</span>
    <span class="attempts">${d.attempts} attempt${d.attempts === 1 ? '' : 's'}, ${lastText}</span
    >${d.state === 'pending' && d.nextAttemptAt ? markup` <span class="meta">next ${d.nextAttemptAt}</span>` : ''}
  </li>`;
}

function eventRow(e: EventView): SafeHtml {
  const kind = e.type.replace(/^acrgate\.tag\./, '');
  const what =
    kind === 'replicated'
      ? `in every region${e.durationMs === null || e.durationMs === undefined ? '' : ` after ${formatMillis(e.durationMs)}`}`
      : kind === 'stalled'
        ? `waiting on ${(e.missingRegions ?? []).join(', ')}`
        : '';
  return markup`<tr data-event="${e.id}">
    <td>${e.recordedAt.slice(0, 19).replace('T', ' ')}</td>
    <td><span class="badge ${kind}">${kind}</span></td>
    <td class="wrap">
      ${e.subject}<br /><span class="meta">${shortDigest(e.digest)} ${what}</span>
    </td>
    <td class="wrap">
      ${
        e.deliveries.length === 0
          ? 'no subscription matched'
          : markup`<ul class="deliveries">
              ${e.deliveries.map(delivery)}
            </ul>`
      }
    </td>
  </tr>`;
}

function eventTable(p: RegistryPage): SafeHtml {
  const note = p.eventsNote ? markup`<p class="meta">${p.eventsNote}</p>` : '';
  if (p.events.length === 0)
    return markup`<p>No event has been emitted for this registry.</p>
      ${note}`;
  return markup`<div class="scroll">
      <table class="events">
        <thead>
          <tr>
            <th scope="col">recorded (UTC)</th>
            <th scope="col">event</th>
            <th scope="col">tag</th>
            <th scope="col">deliveries</th>
          </tr>
        </thead>
        <tbody>
          ${p.events.map(eventRow)}
        </tbody>
      </table>
    </div>
    ${note}`;
}

// #endregion

export function renderRegistryPage(p: RegistryPage): string {
  const stalled = stalledRounds(p.tags, p.now, p.stallAfterMs);
  const lags = regionLags(p.tags, p.requiredRegions);
  const body = markup`<header>
      <p class="meta"><a href="${href(p.links)}">All registries</a></p>
      <h1>${p.registry}</h1>
      <p class="meta">
        Required regions
        (${p.regionsSource === 'registry' ? 'set for this registry' : 'REPLICATION_REGIONS'}):
        ${p.requiredRegions.join(', ')}
      </p>
    </header>
    <main>
      <section aria-labelledby="matrix-h">
        <h2 id="matrix-h">Recent tags × regions</h2>
        ${matrix(p, new Set(stalled.map((s) => s.tag)))}
      </section>
      <div class="grid">
        <section aria-labelledby="lag-h">
          <h2 id="lag-h">Slowest regions</h2>
          ${lagChart(lags, p.tags.length)}
        </section>
        <section aria-labelledby="stalled-h">
          <h2 id="stalled-h">Stalled rounds (${stalled.length})</h2>
          ${stalledList(p, stalled)}
        </section>
      </div>
      <section aria-labelledby="events-h">
        <h2 id="events-h">Recent events</h2>
        ${eventTable(p)}
      </section>
    </main>`;
  return page(`${p.registry}: replication`, p.now, body, true);
}

export function renderIndexPage(p: IndexPage): string {
  const list =
    p.registries.length === 0
      ? markup`<p>No registry has emitted an event yet.</p>`
      : markup`<ul>
          ${p.registries.map((r) => markup`<li><a href="${href(p.links, r)}">${r}</a></li>`)}
        </ul>`;
  const body = markup`<header><h1>Replication dashboard</h1></header>
    <main>
      <section aria-labelledby="registries-h">
        <h2 id="registries-h">Registries with recent events</h2>
        ${list}
      </section>
      <section aria-labelledby="open-h">
        <h2 id="open-h">Open a registry</h2>
        <form method="get" action="${p.links.basePath}">
          <label for="registry">Login server</label
          ><input
            type="text"
            id="registry"
            name="registry"
            placeholder="contoso.azurecr.io"
            required
          />${p.links.token === undefined ? '' : markup`<input type="hidden" name="token" value="${p.links.token}" />`}<button
            type="submit"
          >
            Show
          </button>
        </form>
      </section>
    </main>`;
  return page('Replication dashboard', p.now, body, false);
}
