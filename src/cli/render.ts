// How statuses read on a terminal and in CI logs.
import type { StatusBody, VerifyReport } from './api-client';
import { formatDuration } from './image-reference';

const shortDigest = (digest: string | null | undefined): string =>
  digest ? digest.replace(/^(sha256:[0-9a-f]{12})[0-9a-f]+$/, '$1…') : '-';

const ms = (iso: string | null | undefined): number | null => {
  if (!iso) return null;
  const t = Date.parse(iso.replace(/(\.\d{3})\d*Z$/, '$1Z'));
  return Number.isNaN(t) ? null : t;
};

export const imageName = (s: StatusBody): string =>
  `${s.registry}/${s.repository}${s.tag === null ? `@${s.digest ?? ''}` : `:${s.tag}`}`;

/** One line of progress; without `elapsedMs`, the same line without the time (what changed). */
export function progressLine(s: StatusBody, elapsedMs?: number): string {
  const required = s.regions.filter((r) => r.required !== false);
  const arrived = required.filter((r) => r.status === 'arrived');
  const waiting = required
    .filter((r) => r.status !== 'arrived')
    .map((r) => `${r.region}${r.status === 'stale' ? ' (stale)' : ''}`);
  return (
    `${imageName(s)} ${s.status}: ${arrived.length}/${required.length} regions` +
    (waiting.length > 0 ? `, waiting for ${waiting.join(', ')}` : '') +
    (elapsedMs === undefined ? '' : ` (${formatDuration(elapsedMs)})`)
  );
}

/** Per region: name, status, short digest, arrival time and lag behind the push (`-` when unknown). */
export function regionRows(s: StatusBody): string[][] {
  const pushed = ms(s.pushedAt);
  return s.regions.map((r) => {
    const at = ms(r.arrivedAt);
    return [
      r.region + (r.required === false ? ' (extra)' : ''),
      r.status,
      shortDigest(r.digest),
      r.arrivedAt ?? '-',
      at !== null && pushed !== null ? `+${formatDuration(at - pushed)}` : '-',
    ];
  });
}

/** A table of regions: status, digest, arrival time and lag behind the push. */
export function statusTable(s: StatusBody): string {
  const pushed = ms(s.pushedAt);
  const replicated = ms(s.replicatedAt);
  const lines = [
    `${imageName(s)}  ${s.status.toUpperCase()}`,
    `digest      ${s.digest ?? '-'}`,
    `pushed      ${s.pushedAt ?? '-'}`,
    `replicated  ${s.replicatedAt ?? '-'}${pushed !== null && replicated !== null ? `  (${formatDuration(replicated - pushed)} after the push)` : ''}`,
    '',
  ];
  const rows = regionRows(s);
  const header = ['REGION', 'STATUS', 'DIGEST', 'ARRIVED', 'LAG'];
  // A multi-platform image: which manifests each region still lacks.
  if (s.regions.some((r) => r.missing !== undefined)) {
    header.push('MISSING');
    s.regions.forEach((r, i) => rows[i]?.push(r.missing?.map(shortDigest).join(' ') || '-'));
  }
  const table = [
    ...lines,
    ...(s.reason ? [`reason      ${s.reason}`, ''] : []),
    ...grid(header, rows),
  ];
  return table.join('\n');
}

function grid(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const format = (row: string[]) =>
    row
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [format(header), ...rows.map(format)];
}

/** `acr-gate verify`: one row per region, confirmed at its own endpoint or why not. */
export function verifyTable(v: VerifyReport): string {
  const name = `${v.registry}/${v.repository}${v.tag === null ? `@${v.digest}` : `:${v.tag}`}`;
  const all = v.regions.every((r) => r.confirmed);
  const lines = [
    `${name}  ${all ? 'CONFIRMED IN EVERY REGION' : 'NOT CONFIRMED EVERYWHERE'}`,
    `digest      ${v.digest}`,
    `manifests   ${v.manifests.length} (${v.manifests.map(shortDigest).join(' ')})`,
    ...(v.reason ? [`reason      ${v.reason}`] : []),
    '',
  ];
  const rows = v.regions.map((r) => [
    r.region,
    r.confirmed ? 'confirmed' : 'missing',
    r.endpoint,
    r.detail ?? '',
  ]);
  return [...lines, ...grid(['REGION', 'CHECK', 'ENDPOINT', 'DETAIL'], rows)].join('\n');
}
