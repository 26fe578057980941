import { describe, expect, it } from 'vitest';
import {
  instantFromDate,
  instantMillis,
  instantToDate,
  millisBetween,
  minusMillis,
  plusMillis,
  toInstant,
  type Instant,
} from '../../src/replication/timestamp';

describe('ACR timestamps', () => {
  it('keeps all nine fractional digits', () => {
    expect(toInstant('2026-03-14T09:26:53.589793238Z')).toBe('2026-03-14T09:26:53.589793238Z');
  });

  it('pads short fractions and normalises offsets to UTC', () => {
    expect(toInstant('2026-03-14T09:26:53Z')).toBe('2026-03-14T09:26:53.000000000Z');
    expect(toInstant('2026-03-14T10:26:53.5+01:00')).toBe('2026-03-14T09:26:53.500000000Z');
  });

  it('orders as strings exactly as in time, below the millisecond', () => {
    const a = toInstant('2026-03-14T09:26:53.589793238Z') as string;
    const b = toInstant('2026-03-14T09:26:53.5897932381Z');
    const c = toInstant('2026-03-14T09:26:53.589793239Z') as string;
    expect(b).toBeUndefined(); // ten digits is not RFC 3339 as ACR writes it
    expect(a < c).toBe(true);
  });

  it('rejects what is not a timestamp', () => {
    for (const text of [
      '',
      'yesterday',
      '2026-02-30T00:00:00Z',
      '2026-03-14 09:26:53Z',
      '2026-03-14T25:00:00Z',
    ]) {
      expect(toInstant(text)).toBeUndefined();
    }
  });

  it('measures milliseconds between instants', () => {
    const from = instantFromDate(new Date('2026-03-14T09:00:00.000Z'));
    const to = instantFromDate(new Date('2026-03-14T09:00:01.250Z'));
    expect(millisBetween(from, to)).toBe(1250);
  });
});

describe('instant arithmetic', () => {
  const at = toInstant('2026-03-14T09:00:00.123456789Z') as Instant;

  it('adds and subtracts milliseconds across a day boundary', () => {
    expect(plusMillis(at, 15 * 3_600_000)).toBe('2026-03-15T00:00:00.123000000Z');
    expect(minusMillis(at, 9 * 3_600_000 + 124)).toBe('2026-03-13T23:59:59.999000000Z');
  });

  it('reads an instant as epoch milliseconds and as a Date', () => {
    expect(instantMillis(at)).toBe(Date.UTC(2026, 2, 14, 9, 0, 0, 123));
    expect(instantToDate(at).toISOString()).toBe('2026-03-14T09:00:00.123Z');
  });
});
