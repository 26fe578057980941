// Long-polls against Cosmos DB: one store read per watched tag and poll whatever the waiters, a cap, and leaving on abort.
import { describe, expect, it, vi } from 'vitest';
import { makeChangeNotifier, repositoryTopic } from '../../src/app/change-notifier';
import type { Store } from '../../src/app/ports';
import { recordArrival } from '../../src/app/record-arrival';
import type { RegionsDeps } from '../../src/app/required-regions';
import {
  makeSharedWaits,
  waitForReplication,
  type WaitOutcome,
} from '../../src/app/wait-for-replication';
import type { Reference } from '../../src/replication/names';
import { anInstance, cosmosSettings, freshDatabase, useEmbeddedCosmos } from '../support/cosmos';
import { aDigest, aPushEvent, intentOf } from '../support/fixtures';

const REGISTRY = 'contoso.azurecr.io';
const REPOSITORY = 'public/products/web';
const REGIONS = ['westus', 'eastus', 'canadacentral', 'westeurope'];
/** Long enough that only the notifier drives reads while a test runs: reads are counted exactly. */
const POLL_MS = 60_000;
/** How long to wait for the reads to happen: a bound for a busy machine, not a measured time. */
const SETTLED = { timeout: 60_000, interval: 20 };

const cosmos = useEmbeddedCosmos();

/** The real Cosmos store, its tag reads counted: a decorator of our own port. */
function setup(maxWaiters = 10_000) {
  const instance = anInstance(
    cosmosSettings(cosmos.endpoint, cosmos.key, freshDatabase()),
    REGIONS,
  );
  const reads = { tags: 0 };
  const tags: Store['tags'] = {
    ...instance.store.tags,
    get: (key) => {
      reads.tags += 1;
      return instance.store.tags.get(key);
    },
  };
  const notifier = makeChangeNotifier();
  const store = { ...instance.store, tags };
  const deps: RegionsDeps = { ...instance, store, notifier };
  const waits = makeSharedWaits({
    store,
    notifier,
    pollMs: POLL_MS,
    maxWaiters,
    defaultRegions: REGIONS,
  });
  return { deps, waits, reads, notifier, wait: { store, defaultRegions: REGIONS, waits } };
}

const tagRef = (tag: string): Reference => ({ kind: 'tag', repository: REPOSITORY, tag });

describe('shared long-polls', () => {
  it('makes one store read per poll for 200 waiters on one tag, not one per waiter', async () => {
    const { waits, reads, notifier, wait } = setup();
    const aborts = Array.from({ length: 200 }, () => new AbortController());
    const outcomes = aborts.map((abort) =>
      waitForReplication(wait, REGISTRY, tagRef('shared'), {
        timeoutMs: 120_000,
        signal: abort.signal,
      }),
    );
    expect(waits.stats()).toMatchObject({ waiters: 200, watched: 1 });
    // The first waiter's read, and one more for the 199 that came while it was in flight.
    await vi.waitFor(() => expect(reads.tags).toBe(2), SETTLED);
    for (let poll = 1; poll <= 5; poll++) {
      notifier.notify(repositoryTopic(REGISTRY, REPOSITORY));
      await vi.waitFor(() => expect(reads.tags).toBe(2 + poll), SETTLED);
    }
    // Every client goes away: the waiters leave, the loop stops, nothing is left behind.
    for (const abort of aborts) abort.abort();
    const answers = await Promise.all(outcomes);
    expect(answers.every((a) => a.kind === 'abandoned')).toBe(true);
    expect(waits.stats().waiters).toBe(0);
    await vi.waitFor(() => expect(waits.stats().watched).toBe(0), SETTLED);
    expect(reads.tags).toBe(7);
  });

  it('answers every waiter from the read that sees the tag replicated', async () => {
    const { deps, waits, wait } = setup();
    const digest = aDigest();
    const pending: Promise<WaitOutcome>[] = [];
    for (let i = 0; i < 50; i++) {
      pending.push(
        waitForReplication(wait, REGISTRY, tagRef('done'), { timeoutMs: 120_000 }),
        // Pinned to the digest: the same read serves them.
        waitForReplication(wait, REGISTRY, tagRef('done'), { timeoutMs: 120_000, digest }),
      );
    }
    for (const [i, region] of REGIONS.entries()) {
      const event = aPushEvent({ tag: 'done', digest, timestamp: `2026-03-14T09:00:0${i}Z` });
      await recordArrival(deps, intentOf(event), region);
    }
    const answers = await Promise.all(pending);
    expect(answers.map((a) => a.kind)).toEqual(Array(100).fill('settled'));
    expect(answers[0]).toMatchObject({ status: { status: 'replicated', digest } });
    expect(waits.stats().waiters).toBe(0);
    await vi.waitFor(() => expect(waits.stats().watched).toBe(0), SETTLED);
  });

  it('settles a waiter scoped to some regions from the shared read, while the others wait on', async () => {
    const { deps, waits, reads, wait } = setup();
    const digest = aDigest();
    const push = (region: string, i: number) =>
      recordArrival(
        deps,
        intentOf(aPushEvent({ tag: 'scoped', digest, timestamp: `2026-03-14T09:00:0${i}Z` })),
        region,
      );
    await push('westus', 0);
    const scoped = waitForReplication(wait, REGISTRY, tagRef('scoped'), {
      timeoutMs: 120_000,
      scope: ['eastus'],
    });
    const everywhere = waitForReplication(wait, REGISTRY, tagRef('scoped'), {
      timeoutMs: 120_000,
    });
    expect(waits.stats()).toMatchObject({ waiters: 2, watched: 1 });
    await push('eastus', 1);
    expect(await scoped).toMatchObject({
      kind: 'settled',
      status: { status: 'replicated', scope: ['eastus'], missingRegions: [] },
    });
    expect(waits.stats()).toMatchObject({ waiters: 1, watched: 1 });
    const readsWhenScopedSettled = reads.tags;
    await push('canadacentral', 2);
    await push('westeurope', 3);
    const all = await everywhere;
    expect(all).toMatchObject({ kind: 'settled', status: { status: 'replicated' } });
    expect(all.kind === 'settled' && 'scope' in all.status).toBe(false);
    // One loop served both: each poll read the tag once for the two of them.
    expect(reads.tags).toBeGreaterThan(readsWhenScopedSettled);
  });

  it('reads each of 100 watched tags once per poll, not once per waiter', async () => {
    const { waits, reads, notifier, wait } = setup();
    const abort = new AbortController();
    const outcomes = [];
    for (let t = 0; t < 100; t++) {
      for (let w = 0; w < 3; w++) {
        outcomes.push(
          waitForReplication(wait, REGISTRY, tagRef(`many-${t}`), {
            timeoutMs: 120_000,
            signal: abort.signal,
          }),
        );
      }
    }
    expect(waits.stats()).toMatchObject({ waiters: 300, watched: 100 });
    // Each tag: its first waiter's read, and one for the two that came while it was in flight.
    await vi.waitFor(() => expect(reads.tags).toBe(200), SETTLED);
    notifier.notify(repositoryTopic(REGISTRY, REPOSITORY));
    await vi.waitFor(() => expect(reads.tags).toBe(300), SETTLED);
    abort.abort();
    await Promise.all(outcomes);
    expect(waits.stats().waiters).toBe(0);
    await vi.waitFor(() => expect(waits.stats().watched).toBe(0), SETTLED);
  });

  it('refuses a waiter beyond the cap at once, and takes one again when a place frees up', async () => {
    const { waits, wait } = setup(3);
    const abort = new AbortController();
    const held = [1, 2, 3].map((n) =>
      waitForReplication(wait, REGISTRY, tagRef(`cap-${n}`), {
        timeoutMs: 120_000,
        signal: abort.signal,
      }),
    );
    expect(
      await waitForReplication(wait, REGISTRY, tagRef('cap-4'), { timeoutMs: 120_000 }),
    ).toEqual({ kind: 'busy', maxWaiters: 3 });
    // A plain read (no wait) is not a waiter: it is always answered.
    expect(await waitForReplication(wait, REGISTRY, tagRef('cap-4'), { timeoutMs: 0 })).toEqual({
      kind: 'timeout',
      status: undefined,
    });
    abort.abort();
    await Promise.all(held);
    expect(waits.stats().waiters).toBe(0);
    expect(await waitForReplication(wait, REGISTRY, tagRef('cap-4'), { timeoutMs: 1 })).toEqual({
      kind: 'timeout',
      status: undefined,
    });
  });
});
