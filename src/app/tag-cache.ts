// This instance's memory of the tags it wrote or read last: a write needs no read when it is current.
import { LRUCache } from 'lru-cache';
import type { TagKey } from '../replication/tag-state';
import type { SeenDeletes, StoredTag } from './ports';

/**
 * A tag as this instance last stored or read it, with its ETag. Only ever a guess: a write made
 * from it is conditional on that ETag, so if another instance wrote since, the write is refused
 * and the tag is read again. Nothing is answered from it that the store has not confirmed.
 */
export interface TagCache {
  get(key: TagKey): StoredTag | undefined;
  set(key: TagKey, stored: StoredTag): void;
  delete(key: TagKey): void;
  /**
   * Runs `work` once every earlier work on the same tag on this instance has finished: arrivals of
   * one tag that come at once (ACR's regions report together) queue here, each writing from the
   * copy the previous one stored, instead of racing each other through the store.
   */
  exclusive<T>(key: TagKey, work: () => Promise<T>): Promise<T>;
  /**
   * Like `exclusive`, but items of one tag and `kind` that queue while an earlier write of the tag
   * runs are done together: `run` gets every item that joined, in order, and answers each.
   */
  together<I, R>(key: TagKey, kind: string, item: I, run: (items: I[]) => Promise<R[]>): Promise<R>;
  /**
   * What this instance last saw of a digest's deletes: the version a write completing a round of
   * it checks in the store (a guess too: a wrong one costs a refused write and a read).
   */
  seenDeletes(key: TagKey, digest: string): SeenDeletes | undefined;
  rememberDeletes(key: TagKey, seen: SeenDeletes): void;
  /**
   * Waits until no earlier holder of the digest's deletes on this instance holds them, and answers
   * the release: the completing writes of tags sharing a digest each check (and so touch) its
   * deletes, and would otherwise refuse each other. Releasing again does nothing.
   */
  holdDeletes(key: TagKey, digest: string): Promise<() => void>;
}

interface Group {
  items: unknown[];
  answers: { resolve(value: unknown): void; reject(error: unknown): void }[];
}

const cacheKey = (key: TagKey): string =>
  JSON.stringify([key.registry, key.repository, key.tag, key.untaggedDigest ?? null]);

/**
 * Freezes a plain value and everything it holds, in place, and returns it. The rules are pure
 * functions over plain data (src/replication/tag-state.ts): they build new states and never
 * change the one they are given, so a stored tag can be shared as it is instead of copied.
 * Frozen, a change to it anywhere would throw (strict mode) rather than alter this memory.
 */
function deepFreeze<T>(value: T): T {
  const pending: unknown[] = [value];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (typeof next !== 'object' || next === null || Object.isFrozen(next)) continue;
    Object.freeze(next);
    for (const key of Object.keys(next)) pending.push((next as Record<string, unknown>)[key]);
  }
  return value;
}

/** Bounded by count: a tag item is a few KB, so the default holds a few MB. */
export function makeTagCache(max = 2_000): TagCache {
  // lru-cache: a well-kept, allocation-light LRU; a Map re-inserted on read would do, less clearly.
  const entries = new LRUCache<string, StoredTag>({ max });
  const deletes = new LRUCache<string, SeenDeletes>({ max });
  const deletesKey = (key: TagKey, digest: string): string =>
    JSON.stringify([key.registry, key.repository, digest]);
  const lanes = new Map<string, Promise<unknown>>();
  const open = new Map<string, Group>();
  const exclusive = <T>(key: TagKey, work: () => Promise<T>): Promise<T> =>
    inLane(cacheKey(key), work);
  const inLane = <T>(id: string, work: () => Promise<T>): Promise<T> => {
    const previous = lanes.get(id) ?? Promise.resolve();
    const run = previous.then(work, work);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    lanes.set(id, settled);
    // The last in line removes the lane, so an idle tag holds no memory.
    void settled.then(() => {
      if (lanes.get(id) === settled) lanes.delete(id);
    });
    return run;
  };
  return {
    exclusive,
    together: <I, R>(
      key: TagKey,
      kind: string,
      item: I,
      run: (items: I[]) => Promise<R[]>,
    ): Promise<R> => {
      const id = `${cacheKey(key)}|${kind}`;
      let group = open.get(id);
      if (group === undefined) {
        const starting: Group = { items: [], answers: [] };
        group = starting;
        open.set(id, starting);
        void exclusive(key, async () => {
          // Closed once it starts: what comes later forms the next group.
          if (open.get(id) === starting) open.delete(id);
          try {
            const results = await run(starting.items as I[]);
            starting.answers.forEach((a, i) => a.resolve(results[i]));
          } catch (error) {
            for (const a of starting.answers) a.reject(error);
          }
        });
      }
      const joined = group;
      return new Promise<R>((resolve, reject) => {
        joined.items.push(item);
        joined.answers.push({ resolve: (value) => resolve(value as R), reject });
      });
    },
    // Shared, not copied: a tag written under load went through structuredClone twice per
    // webhook, the app's largest cost of its own (docs/benchmarks.md, measurement 2).
    get: (key) => entries.get(cacheKey(key)),
    set: (key, stored) => void entries.set(cacheKey(key), deepFreeze(stored)),
    delete: (key) => void entries.delete(cacheKey(key)),
    seenDeletes: (key, digest) => deletes.get(deletesKey(key, digest)),
    rememberDeletes: (key, seen) =>
      void deletes.set(deletesKey(key, seen.digest), deepFreeze(seen)),
    holdDeletes: (key, digest) =>
      new Promise<() => void>((held) => {
        void inLane(`deletes|${deletesKey(key, digest)}`, () => new Promise<void>(held));
      }),
  };
}
