// The RU model the bench applies to its counted operations: Microsoft's documented figures.
import { describe, expect, it } from 'vitest';
import {
  estimateRu,
  monthlyUsd,
  operationRu,
  QUERY_RU,
  readRu,
  writeRu,
} from '../../bench/request-units';

describe('documented request units', () => {
  it('prices a point read of 1 KB at 1 RU and a 1 KB write at 4.95 RU', () => {
    expect(readRu(1024)).toBe(1);
    expect(readRu(200)).toBe(1);
    expect(writeRu(1024)).toBe(4.95);
  });

  it('interpolates between documented sizes and keeps the table at its points', () => {
    expect(writeRu(2 * 1024)).toBeCloseTo(6.29, 10);
    expect(writeRu(3 * 1024)).toBeCloseTo((6.29 + 6.67) / 2, 10);
    expect(readRu(8 * 1024)).toBeCloseTo(1.33, 10);
  });

  it('prices each counted operation by its item type and verb', () => {
    const sizes = { tag: 3 * 1024, event: 1024 };
    expect(operationRu('read tag', sizes)).toBeCloseTo(1.09, 10);
    expect(operationRu('replace tag', sizes)).toBeCloseTo(6.48, 10);
    expect(operationRu('create event', sizes)).toBe(4.95);
    expect(operationRu('outbox clear', sizes)).toBeCloseTo(6.48, 10);
    // A batch is priced as its writes one by one.
    expect(operationRu('batch tag+event+event', sizes)).toBeCloseTo(6.48 + 4.95 + 4.95, 10);
    expect(operationRu('query delivery', sizes)).toBe(QUERY_RU);
    expect(operationRu('query plan', sizes)).toBe(0);
    expect(operationRu('sdk: account metadata', sizes)).toBe(0);
  });

  it('sums a webhook from its mean counts, and a month of pushes from a round', () => {
    expect(estimateRu({ 'read tag': 1, 'replace tag': 1 }, { tag: 1024 })).toBeCloseTo(5.95, 10);
    // 1,000 pushes a day, 10 RU a round, $0.25 per million RU: 0.0025 $/day.
    expect(monthlyUsd(1000, 10)).toBeCloseTo(0.0761, 4);
  });
});
