// The dashboard's figures, pure: lag per region (median, p90) and stalled rounds, from tag statuses.
import { describe, expect, it } from 'vitest';
import {
  ageMillis,
  lagMillis,
  percentile,
  regionLags,
  stalledRounds,
} from '../../src/dashboard/dashboard-stats';
import { aStatus, at, threeRounds } from '../support/statuses';

describe('lags', () => {
  const tags = threeRounds();

  it('gives each region the median and p90 of its lags, slowest first', () => {
    expect(regionLags(tags, ['westus', 'eastus'])).toEqual([
      { region: 'eastus', rounds: 3, medianMs: 3000, p90Ms: 9000 },
      { region: 'westus', rounds: 2, medianMs: 0, p90Ms: 500 },
    ]);
  });

  it('leaves out a required region that has no arrival in any current round', () => {
    expect(regionLags(tags, ['eastus', 'northeurope']).map((l) => l.region)).toEqual(['eastus']);
    expect(regionLags([], ['eastus'])).toEqual([]);
  });

  it('orders equal p90s by median, then by region name', () => {
    const same = [
      aStatus('a', '2026-03-14T09:00:00.000Z', {
        westus: '2026-03-14T09:00:02.000Z',
        eastus: '2026-03-14T09:00:02.000Z',
        centralus: '2026-03-14T09:00:02.000Z',
      }),
      aStatus('b', '2026-03-14T09:10:00.000Z', {
        westus: '2026-03-14T09:10:02.000Z',
        eastus: '2026-03-14T09:10:02.000Z',
        centralus: '2026-03-14T09:10:01.000Z',
      }),
    ];
    expect(regionLags(same, ['westus', 'centralus', 'eastus']).map((l) => l.region)).toEqual([
      'eastus',
      'westus',
      'centralus',
    ]);
  });

  it('counts an arrival stamped before the push as no lag, and none for a region not arrived', () => {
    const early = aStatus('e', '2026-03-14T09:00:05.000Z', {
      eastus: '2026-03-14T09:00:04.000Z',
      westus: null,
    });
    expect(lagMillis(early, 'eastus')).toBe(0);
    expect(lagMillis(early, 'westus')).toBeUndefined();
    expect(lagMillis(early, 'northeurope')).toBeUndefined();
    expect(lagMillis({ ...early, pushedAt: null }, 'eastus')).toBeUndefined();
  });

  it('takes nearest-rank percentiles, 0 for no values', () => {
    const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(sorted, 50)).toBe(5);
    expect(percentile(sorted, 90)).toBe(9);
    expect(percentile(sorted, 100)).toBe(10);
    expect(percentile(sorted, 0)).toBe(1);
    expect(percentile([], 90)).toBe(0);
  });
});

describe('stalled rounds', () => {
  const tags = threeRounds();
  const now = '2026-03-14T09:50:00.000000000Z';

  it('counts a round as stalled from STALL_AFTER after its push', () => {
    expect(stalledRounds(tags, now, 30 * 60_000).map((s) => s.tag.tag)).toEqual(['3']);
    expect(stalledRounds(tags, now, 30 * 60_000 + 1)).toEqual([]);
  });

  it('lists the longest open first, with how long each has been open', () => {
    const open = [
      aStatus('late', '2026-03-14T09:40:00.000Z', { eastus: null }),
      aStatus('early', '2026-03-14T09:00:00.000Z', { eastus: null }),
      aStatus('done', '2026-03-14T08:00:00.000Z', { eastus: '2026-03-14T08:00:01.000Z' }),
      { ...aStatus('unpushed', '2026-03-14T08:00:00.000Z', { eastus: null }), pushedAt: null },
    ];
    expect(stalledRounds(open, now, 60_000).map((s) => [s.tag.tag, s.openMs])).toEqual([
      ['early', 50 * 60_000],
      ['late', 10 * 60_000],
    ]);
  });
});

describe('ageMillis', () => {
  it('is the time from an instant to now, never negative', () => {
    expect(ageMillis(at('2026-03-14T09:50:00.000Z'), at('2026-03-14T09:48:30.250Z'))).toBe(89_750);
    expect(ageMillis(at('2026-03-14T09:50:00.000Z'), at('2026-03-14T09:51:00.000Z'))).toBe(0);
  });
});
