// The long-poll loop on an injected scheduler: polls, the settle pause and deadlines move only when the test moves time.
import { describe, expect, it } from 'vitest';
import { makeChangeNotifier } from '../../src/app/change-notifier';
import type { Clock, Store } from '../../src/app/ports';
import { recordArrival } from '../../src/app/record-arrival';
import {
  makeSharedWaits,
  waitForReplication,
  type WaitOutcome,
} from '../../src/app/wait-for-replication';
import { acrEventSchema, toIntent, type Intent } from '../../src/replication/acr-event';
import { instantFromDate } from '../../src/replication/timestamp';
import { aDigest, aPushEvent } from '../support/fixtures';
import { makeManualScheduler } from '../support/manual-scheduler';
import { makeMemoryStore } from '../support/memory-store';

const REGISTRY = 'contoso.azurecr.io';
const REPOSITORY = 'team/app';
const REGIONS = ['westus', 'eastus'];
const POLL_MS = 200;
const clock: Clock = { now: () => instantFromDate(new Date()) };
type Arrival = Extract<Intent, { kind: 'push' | 'delete' }>;

/** Two instances over one store: each its own notifier (writes on one do not wake the other). */
function setup() {
  const inner = makeMemoryStore();
  const reads = { tags: 0 };
  const store: Store = {
    ...inner,
    tags: {
      ...inner.tags,
      get: (key) => {
        reads.tags += 1;
        return inner.tags.get(key);
      },
    },
  };
  const scheduler = makeManualScheduler();
  const instance = () => {
    const notifier = makeChangeNotifier();
    const waits = makeSharedWaits({
      store,
      notifier,
      pollMs: POLL_MS,
      maxWaiters: 100,
      defaultRegions: REGIONS,
      scheduler,
    });
    const deps = { store, clock, notifier, defaultRegions: REGIONS, maxAttempts: 40 };
    const push = (region: string, digest: string) => {
      const event = aPushEvent({
        repository: REPOSITORY,
        tag: '1.0',
        digest,
        timestamp: '2026-03-14T09:00:00Z',
      });
      const intent = toIntent(acrEventSchema.parse(event), { countQuarantine: false }) as Arrival;
      return recordArrival(deps, intent, region);
    };
    const wait = (timeoutMs: number) => {
      const outcome: { value?: WaitOutcome } = {};
      void waitForReplication(
        { store, defaultRegions: REGIONS, waits },
        REGISTRY,
        { kind: 'tag', repository: REPOSITORY, tag: '1.0' },
        { timeoutMs },
      ).then((value) => (outcome.value = value));
      return outcome;
    };
    return { waits, push, wait };
  };
  return { scheduler, reads, a: instance(), b: instance() };
}

describe('long-polls on an injected scheduler', () => {
  it('re-reads the store once per poll interval, and not before it comes due', async () => {
    const { scheduler, reads, a } = setup();
    const outcome = a.wait(60_000);
    await scheduler.advance(0);
    expect(reads.tags).toBe(1);
    await scheduler.advance(POLL_MS - 1);
    expect(reads.tags).toBe(1);
    await scheduler.advance(1);
    expect(reads.tags).toBe(2);
    await scheduler.advance(POLL_MS * 5);
    expect(reads.tags).toBe(7);
    expect(outcome.value).toBeUndefined();
  });

  it("hears another instance's completing write at its next poll", async () => {
    const { scheduler, a, b } = setup();
    const digest = aDigest();
    await b.push('westus', digest);
    const outcome = a.wait(60_000);
    await scheduler.advance(50);
    // The round completes on B: A's notifier hears nothing, A's next poll (150 ms on) reads it.
    await b.push('eastus', digest);
    await scheduler.advance(POLL_MS - 50 - 1);
    expect(outcome.value).toBeUndefined();
    await scheduler.advance(1);
    expect(outcome.value).toMatchObject({ kind: 'settled', status: { status: 'replicated' } });
    expect(a.waits.stats()).toMatchObject({ waiters: 0, watched: 0 });
    expect(scheduler.pending()).toBe(0);
  });

  it('wakes on a write on its own instance after the settle pause, without waiting for the poll', async () => {
    const { scheduler, a } = setup();
    const digest = aDigest();
    await a.push('westus', digest);
    const outcome = a.wait(60_000);
    await scheduler.advance(0);
    await a.push('eastus', digest);
    await scheduler.advance(4);
    expect(outcome.value).toBeUndefined();
    await scheduler.advance(1);
    expect(outcome.value).toMatchObject({ kind: 'settled', status: { status: 'replicated' } });
    expect(scheduler.now()).toBeLessThan(POLL_MS);
  });

  it('answers with the last status seen when its deadline comes on the scheduler', async () => {
    const { scheduler, a } = setup();
    await a.push('westus', aDigest());
    const outcome = a.wait(30_000);
    await scheduler.advance(30_000 - 1);
    expect(outcome.value).toBeUndefined();
    await scheduler.advance(1);
    expect(outcome.value).toMatchObject({
      kind: 'timeout',
      status: { status: 'replicating', missingRegions: ['eastus'] },
    });
    expect(a.waits.stats()).toMatchObject({ waiters: 0, watched: 0 });
    expect(scheduler.pending()).toBe(0);
  });
});
