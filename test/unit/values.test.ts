import { describe, expect, it } from 'vitest';
import { isRecord, sameSet } from '../../src/util/values';

describe('isRecord', () => {
  it('accepts objects only: not null, arrays or scalars', () => {
    expect(isRecord({ a: 1 })).toBe(true);
    expect(isRecord({})).toBe(true);
    expect(isRecord(null)).toBe(false);
    expect(isRecord([1])).toBe(false);
    expect(isRecord('{}')).toBe(false);
    expect(isRecord(undefined)).toBe(false);
  });
});

describe('sameSet', () => {
  it('ignores order and repeats', () => {
    expect(sameSet(['b', 'a', 'a'], ['a', 'b'])).toBe(true);
    expect(sameSet(['a', 'b'], ['a'])).toBe(false);
    expect(sameSet(['a', 'b'], ['a', 'c'])).toBe(false);
    expect(sameSet([], [])).toBe(true);
  });

  it('compares by key when given one (e.g. case-insensitive webhook actions)', () => {
    expect(sameSet(['Push', 'delete'], ['push', 'DELETE'])).toBe(false);
    expect(sameSet(['Push', 'delete'], ['push', 'DELETE'], (x) => x.toLowerCase())).toBe(true);
  });
});
