// The tag cache shares what it stores instead of copying it: what it holds must be unchangeable.
import { describe, expect, it } from 'vitest';
import type { StoredTag } from '../../src/app/ports';
import { makeTagCache } from '../../src/app/tag-cache';
import { applyPush, emptyTagState, evaluate, type TagKey } from '../../src/replication/tag-state';
import { toInstant } from '../../src/replication/timestamp';
import { aDigest, aPushEvent } from '../support/fixtures';

const key: TagKey = { registry: 'contoso.azurecr.io', repository: 'web', tag: 'v1' };
const REGIONS = ['eastus', 'westus'];

function aStoredTag(): StoredTag {
  const digest = aDigest();
  const payload = aPushEvent({ digest, tag: 'v1' });
  const timestamp = toInstant('2026-03-14T09:00:00.123456789Z');
  if (timestamp === undefined) throw new Error('bad fixture timestamp');
  const state = applyPush(emptyTagState(key), { region: 'eastus', digest, timestamp }, payload);
  const evaluation = evaluate(state, REGIONS);
  return {
    etag: '"1"',
    record: { state, evaluation, outbox: [], arrivals: {}, updatedAt: timestamp },
  };
}

describe('tag cache', () => {
  it('hands back what was stored, frozen to its leaves, so no caller can change the cached tag', () => {
    const cache = makeTagCache();
    const stored = aStoredTag();
    const snapshot = JSON.stringify(stored);
    cache.set(key, stored);
    const got = cache.get(key);
    expect(got).toBe(stored);
    const { state } = got!.record;
    const digest = Object.keys(state.observations.eastus ?? {})[0] ?? '';
    const pushed = state.pushes[digest];
    // Strict mode (ES modules): writing to a frozen object throws instead of failing silently.
    expect(() => {
      (state.observations.eastus as Record<string, unknown>)[digest] = {};
    }).toThrow(TypeError);
    expect(() => {
      (pushed?.payload as Record<string, unknown>).action = 'delete';
    }).toThrow(TypeError);
    expect(() => {
      state.completions.push({
        digest,
        replicatedAt: state.pushes[digest]!.timestamp,
        eventId: 'x',
      });
    }).toThrow(TypeError);
    expect(JSON.stringify(cache.get(key))).toBe(snapshot);
  });

  it('forgets a tag on delete', () => {
    const cache = makeTagCache();
    cache.set(key, aStoredTag());
    cache.delete(key);
    expect(cache.get(key)).toBeUndefined();
  });
});
