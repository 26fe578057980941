// Approvals off the tag-write path: a write looks up approvals only in a repository where this instance knows one waits.
import { describe, expect, it, vi } from 'vitest';
import {
  makeApprovals,
  resumeOnTagWrite,
  type Answerer,
  type Decision,
} from '../../src/app/answer-approvals';
import type { ApprovalRecord, ApprovalRepository, Clock, Store } from '../../src/app/ports';
import { recordArrival } from '../../src/app/record-arrival';
import { acrEventSchema, toIntent, type Intent } from '../../src/replication/acr-event';
import { instantFromDate } from '../../src/replication/timestamp';
import { aDigest, aPushEvent, aWaitingApproval } from '../support/fixtures';
import { makeMemoryStore } from '../support/memory-store';

const REGISTRY = 'contoso.azurecr.io';
const REGIONS = ['westus', 'eastus'];
const clock: Clock = { now: () => instantFromDate(new Date()) };

type Arrival = Extract<Intent, { kind: 'push' | 'delete' }>;

/** The in-memory store with every approvals call counted by method: a decorator of our own port. */
function countedStore() {
  const inner = makeMemoryStore();
  const calls: Record<keyof ApprovalRepository, number> = {
    create: 0,
    get: 0,
    listWaiting: 0,
    listDue: 0,
    save: 0,
  };
  const approvals: ApprovalRepository = {
    create: (...a) => (calls.create++, inner.approvals.create(...a)),
    get: (...a) => (calls.get++, inner.approvals.get(...a)),
    listWaiting: (...a) => (calls.listWaiting++, inner.approvals.listWaiting(...a)),
    listDue: (...a) => (calls.listDue++, inner.approvals.listDue(...a)),
    save: (...a) => (calls.save++, inner.approvals.save(...a)),
  };
  const store: Store = { ...inner, approvals };
  const lookups = () => calls.get + calls.listWaiting + calls.listDue;
  return { store, calls, lookups };
}

/** One instance: its approvals, and tag writes through the webhook's path with the hook main.ts wires. */
function anInstance(store: Store) {
  const answers: { id: string; decision: Decision }[] = [];
  const answerer: Answerer = {
    secretFields: ['authToken'],
    answer: (approval, decision) => {
      answers.push({ id: approval.id, decision });
      return Promise.resolve({ at: clock.now(), durationMs: 1, status: 200 });
    },
  };
  const approvals = makeApprovals({
    store,
    clock,
    defaultRegions: REGIONS,
    answerers: { 'azure-pipelines': answerer },
    retryScheduleMs: [10],
    leaseMs: 60_000,
  });
  const failures: unknown[] = [];
  const onTagWritten = resumeOnTagWrite(approvals, (error) => failures.push(error));
  const deps = { store, clock, defaultRegions: REGIONS, maxAttempts: 40, onTagWritten };
  const push = async (repository: string, tag: string, digest: string, region: string) => {
    const event = aPushEvent({ repository, tag, digest, timestamp: '2026-03-14T09:00:00Z' });
    const intent = toIntent(acrEventSchema.parse(event), { countQuarantine: false }) as Arrival;
    const outcome = await recordArrival(deps, intent, region);
    // Whatever the hook started has had every chance to make its first store call.
    await new Promise((resolve) => setImmediate(resolve));
    return outcome;
  };
  return { approvals, answers, failures, push };
}

const anApproval = (id: string, repository: string, tag: string): ApprovalRecord =>
  aWaitingApproval({ id, registry: REGISTRY, repository, tag, at: clock.now() });

describe('approvals off the tag-write path', () => {
  it('makes no approvals query for a tag write in a repository with no waiting approval', async () => {
    const { store, calls, lookups } = countedStore();
    const a = anInstance(store);
    // Nothing waits anywhere: a whole round, completion included, looks up nothing.
    const digest = aDigest();
    for (const region of REGIONS) await a.push('team/quiet', '1.0', digest, region);
    expect(lookups()).toBe(0);

    // An approval waits in another repository: writes here still look up nothing.
    expect(await a.approvals.open(anApproval('elsewhere', 'team/waiting', '2.0'))).toBe(true);
    const before = { ...calls };
    for (const region of REGIONS) await a.push('team/quiet', '1.1', aDigest(), region);
    expect(calls).toEqual(before);
    expect(a.failures).toEqual([]);
  });

  it('answers an approval opened on this instance from the write that completes its image, then forgets the repository', async () => {
    const { store, calls } = countedStore();
    const a = anInstance(store);
    expect(await a.approvals.open(anApproval('here', 'team/app', '1.0'))).toBe(true);
    const digest = aDigest();
    await a.push('team/app', '1.0', digest, 'westus');
    expect(calls.listWaiting).toBe(1);
    expect(a.answers).toEqual([]);
    await a.push('team/app', '1.0', digest, 'eastus');
    await vi.waitFor(() => expect(a.answers).toHaveLength(1));
    expect(a.answers[0]).toMatchObject({ id: 'here', decision: { approved: true } });
    expect(a.approvals.mayBeWaiting(REGISTRY, 'team/app')).toBe(false);
    // Nothing waits there any more: the next write looks up nothing.
    const lookups = calls.listWaiting;
    await a.push('team/app', '1.1', aDigest(), 'westus');
    expect(calls.listWaiting).toBe(lookups);
    expect(a.failures).toEqual([]);
  });

  it("learns from the timer's list of an approval opened on another instance", async () => {
    const { store, calls } = countedStore();
    const a = anInstance(store);
    const b = anInstance(store);
    expect(await b.approvals.open(anApproval('there', 'team/other', '1.0'))).toBe(true);
    const digest = aDigest();
    // Instance A has not heard of it: its write makes no query.
    await a.push('team/other', '1.0', digest, 'westus');
    expect(calls.listWaiting).toBe(0);
    // A's timer lists every waiting approval; this one still waits (one region of two).
    expect(await a.approvals.resumeDue()).toMatchObject({ examined: 1, answered: 0 });
    expect(a.approvals.mayBeWaiting(REGISTRY, 'team/other')).toBe(true);
    // So the completing write on A answers it at once, without waiting for the next timer run.
    await a.push('team/other', '1.0', digest, 'eastus');
    await vi.waitFor(() => expect(a.answers).toHaveLength(1));
    expect(calls.listWaiting).toBe(1);
    expect(b.answers).toEqual([]);
    // B's timer finds nothing waiting and forgets the repository it opened the approval in.
    expect(b.approvals.mayBeWaiting(REGISTRY, 'team/other')).toBe(true);
    expect(await b.approvals.resumeDue()).toMatchObject({ examined: 0 });
    expect(b.approvals.mayBeWaiting(REGISTRY, 'team/other')).toBe(false);
  });

  it('keeps a repository whose approval the timer could not list in full', async () => {
    const { store } = countedStore();
    const a = anInstance(store);
    for (let i = 0; i < 3; i++) {
      expect(await a.approvals.open(anApproval(`many-${i}`, `team/r${i}`, '1.0'))).toBe(true);
    }
    // A list cut at its limit proves nothing about the repositories it leaves out.
    expect(await a.approvals.resumeDue(2)).toMatchObject({ examined: 2 });
    for (let i = 0; i < 3; i++) expect(a.approvals.mayBeWaiting(REGISTRY, `team/r${i}`)).toBe(true);
  });
});
