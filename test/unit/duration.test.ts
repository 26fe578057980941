import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/util/duration';

const settings = { bareUnitMs: 1, fractions: false };
const cli = { bareUnitMs: 1000, fractions: true };

describe('parseDuration', () => {
  it('reads unit parts in any combination', () => {
    expect(parseDuration('90s', settings)).toBe(90_000);
    expect(parseDuration('1h30m', settings)).toBe(5_400_000);
    expect(parseDuration('2m500ms', settings)).toBe(120_500);
  });

  it('reads a bare number in the caller unit', () => {
    expect(parseDuration('1500', settings)).toBe(1500);
    expect(parseDuration('45', cli)).toBe(45_000);
  });

  it('takes decimals only where the caller allows them', () => {
    expect(parseDuration('1.5m', cli)).toBe(90_000);
    expect(parseDuration('0.5', cli)).toBe(500);
    expect(parseDuration('1.5m', settings)).toBeUndefined();
    expect(parseDuration('0.5', settings)).toBeUndefined();
  });

  it('refuses anything else', () => {
    for (const text of ['', '15 minutes', '1d', 'm', '10s junk', '-5s']) {
      expect(parseDuration(text, cli)).toBeUndefined();
    }
  });
});

describe('formatDuration', () => {
  it('prints hours past two days only when asked for days', () => {
    expect(formatDuration(50 * 3_600_000)).toBe('50h00m');
    expect(formatDuration(50 * 3_600_000, { days: true })).toBe('2d');
    expect(formatDuration(47 * 3_600_000, { days: true })).toBe('47h00m');
  });
});
