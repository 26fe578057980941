import { describe, expect, it } from 'vitest';
import { decodeId, encodeId, tagId } from '../../src/store/ids';

describe('Cosmos item ids', () => {
  it('never contains / \\ ? # and round-trips every character', () => {
    const samples = ['a/b', 'a\\b', 'a?b', 'a#b', '%2F', 'plain', 'üñí', 'a b', "it's"];
    for (const text of samples) {
      const id = encodeId(text);
      expect(id).not.toMatch(/[/\\?#]/);
      expect(decodeId(id)).toBe(text);
    }
  });

  it('keeps different names apart', () => {
    const ids = new Set(['a/b', 'a%2Fb', 'a_b', 'a-b', 'a.b'].map(encodeId));
    expect(ids.size).toBe(5);
    expect(tagId({ tag: null, untaggedDigest: 'sha256:ab' })).not.toBe(tagId({ tag: 'sha256:ab' }));
  });
});
