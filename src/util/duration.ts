// Durations as people write them (`90s`, `15m`, `1h30m`) and as we print them: settings, CLI and dashboard.

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

export interface DurationSyntax {
  /** What a bare number counts: 1 for milliseconds (settings), 1000 for seconds (CLI). */
  bareUnitMs: number;
  /** Whether numbers may have a decimal part (`1.5m`). */
  fractions: boolean;
}

/** Milliseconds, or undefined when `text` is not a bare number or a run of number+unit parts. */
export function parseDuration(text: string, syntax: DurationSyntax): number | undefined {
  const number = syntax.fractions ? String.raw`\d+(?:\.\d+)?` : String.raw`\d+`;
  if (new RegExp(`^${number}$`).test(text)) return Number(text) * syntax.bareUnitMs;
  const parts = [...text.matchAll(new RegExp(`(${number})(ms|h|m|s)`, 'g'))];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) return undefined;
  return parts.reduce(
    (total, [, n, u]) => total + Number(n) * UNIT_MS[u as keyof typeof UNIT_MS],
    0,
  );
}

/** `850ms`, `46.9s`, `2m05s`, `1h30m`; with `days`, 48 hours and more read `3d`. */
export function formatDuration(ms: number, options: { days?: boolean } = {}): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  if (options.days && m >= 48 * 60) return `${Math.floor(m / 1440)}d`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
