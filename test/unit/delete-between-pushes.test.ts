// A delete stamped between two pushes of one round: the events decided must not depend on whether
// the delete is delivered in timestamp order or after the pushes (ACR's webhooks are late and
// reordered; a region's webhook that never comes is common, as ACR does not retry).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { recordArrival } from '../../src/app/record-arrival';
import type { RegionsDeps } from '../../src/app/required-regions';
import { makeTagCache } from '../../src/app/tag-cache';
import { REPLICATED_EVENT_TYPE } from '../../src/events/event-types';
import {
  applyDelete,
  applyPush,
  completionOf,
  emptyTagState,
  evaluate,
  withCompletion,
  type Completion,
  type RegionReport,
  type TagState,
} from '../../src/replication/tag-state';
import { instantFromDate, toInstant, type Instant } from '../../src/replication/timestamp';
import { aDeleteEvent, aPushEvent, intentOf, permutations } from '../support/fixtures';
import { makeMemoryStore } from '../support/memory-store';

const D = `sha256:${'d'.repeat(64)}`;
const key = { registry: 'contoso.azurecr.io', repository: 'team/app/api', tag: '1.2' };
const REQUIRED = ['eastus', 'westus'];

interface Step {
  kind: 'push' | 'delete';
  region: string;
  /** ACR's timestamp, on 2026-03-14 at 09:00. */
  at: string;
}
const push = (region: string, at: string): Step => ({ kind: 'push', region, at });
const del = (region: string, at: string): Step => ({ kind: 'delete', region, at });
const stamp = (s: Step): string => `2026-03-14T09:00:${s.at}Z`;
const describeOrder = (order: readonly Step[]): string =>
  order.map((s) => `${s.kind} ${s.region} ${s.at}`).join(', ');

/** Folds the deliveries in the order given, recording a completion whenever one is decided. */
function deliver(order: readonly Step[], required = REQUIRED) {
  let state: TagState = emptyTagState(key);
  const completions: Completion[] = [];
  for (const s of order) {
    const r: RegionReport = {
      region: s.region,
      digest: D,
      timestamp: toInstant(stamp(s)) as Instant,
    };
    state = s.kind === 'push' ? applyPush(state, r) : applyDelete(state, r);
    const e = evaluate(state, required);
    if (e.newCompletion) {
      const c = { ...e.newCompletion, eventId: `event-${completions.length + 1}` };
      completions.push(c);
      state = withCompletion(state, c);
    }
  }
  const evaluation = evaluate(state, required);
  return { completions, evaluation, covering: completionOf(state, evaluation) };
}

/** Every delivery order of a history decides the same events, and the final round has one. */
function expectOrderFree(history: readonly Step[], required = REQUIRED) {
  const inTimeOrder = deliver(
    [...history].sort((a, b) => (a.at < b.at ? -1 : 1)),
    required,
  );
  expect(inTimeOrder.evaluation.status).toBe('replicated');
  expect(inTimeOrder.completions).toHaveLength(1);
  for (const order of permutations(history)) {
    const got = deliver(order, required);
    expect(got.completions.length, describeOrder(order)).toBe(1);
    expect(got.evaluation, describeOrder(order)).toEqual(inTimeOrder.evaluation);
    // The status API names the event that was sent, not none.
    expect(got.covering?.eventId, describeOrder(order)).toBe('event-1');
  }
}

/** The replicatedAt each delivery order's one event announced. */
const announced = (history: readonly Step[]): Set<string | undefined> =>
  new Set(permutations(history).map((order) => deliver(order).completions[0]?.replicatedAt));

describe('a delete stamped between the pushes of a round', () => {
  it('the reported history: push westus :00, delete eastus :05, push eastus :10 is one event in every order', () => {
    // In timestamp order the eastus push follows eastus's delete: a new round starting at :10,
    // westus still holding D since :00, replicated at :10, one event. Delivered with the delete
    // last, the pushes first completed the round of :00 on the evidence of eastus :10; the delete
    // then started the round of :10 and it completed again: two events for one replicated moment.
    const history = [push('westus', '00.000'), del('eastus', '05.000'), push('eastus', '10.000')];
    const pushesFirst = deliver([history[0], history[2], history[1]] as Step[]);
    expect(pushesFirst.completions.map((c) => [c.pushedAt, c.replicatedAt])).toEqual([
      ['2026-03-14T09:00:00.000000000Z', '2026-03-14T09:00:10.000000000Z'],
    ]);
    expectOrderFree(history);
    // And it announces what the final state reads: eastus at :10 completed it.
    expect(announced(history)).toEqual(new Set(['2026-03-14T09:00:10.000000000Z']));
  });

  it('the delete in the region pushed first: push westus :00, delete westus :05, push eastus :10, push westus :15', () => {
    // In timestamp order eastus :10 follows the delete: its round starts at :10 and completes when
    // westus reports again at :15 (one event). Delivered with the delete last, westus :00 and
    // eastus :10 completed the round of :00; the late delete must not make :10's round a second one.
    const history = [
      push('westus', '00.000'),
      del('westus', '05.000'),
      push('eastus', '10.000'),
      push('westus', '15.000'),
    ];
    expectOrderFree(history);
    // What the one event says still depends on the order: delivered after eastus :10, the delete
    // of westus comes too late to stop the event at :10 (a known limit, docs/rounds.md); in time,
    // the event waits for westus :15.
    expect(announced(history)).toEqual(
      new Set(['2026-03-14T09:00:10.000000000Z', '2026-03-14T09:00:15.000000000Z']),
    );
  });

  it('a region not required deleted and reported D: the required regions, holding D throughout, announce it once', () => {
    // canadacentral's report after its delete starts a round; westus and eastus never lost D, so
    // the round is replicated on the very arrivals the first event announced (at :02).
    const history = [
      push('westus', '00.000'),
      push('eastus', '02.000'),
      del('canadacentral', '05.000'),
      push('canadacentral', '10.000'),
    ];
    expectOrderFree(history);
    expect(announced(history)).toEqual(new Set(['2026-03-14T09:00:02.000000000Z']));
  });

  it('still announces a genuine re-push: push, delete everywhere, push again is two events', () => {
    const history = [
      push('westus', '00.000'),
      push('eastus', '02.000'),
      del('westus', '05.000'),
      del('eastus', '05.500'),
      push('westus', '10.000'),
      push('eastus', '12.000'),
    ];
    const [p1, p2, d1, d2, p3, p4] = history as [Step, Step, Step, Step, Step, Step];
    // In timestamp order, and with the deletes delivered after every push.
    for (const order of [history, [p1, p2, p3, p4, d1, d2]]) {
      expect(
        deliver(order).completions.map((c) => [c.pushedAt, c.replicatedAt]),
        describeOrder(order),
      ).toEqual([
        ['2026-03-14T09:00:00.000000000Z', '2026-03-14T09:00:02.000000000Z'],
        ['2026-03-14T09:00:10.000000000Z', '2026-03-14T09:00:12.000000000Z'],
      ]);
    }
  });
});

describe('whatever the order of delivery', () => {
  const DIGESTS = [D, `sha256:${'e'.repeat(64)}`];
  const stepArb = fc.record({
    kind: fc.constantFrom<'push' | 'delete'>('push', 'push', 'delete'),
    region: fc.constantFrom('eastus', 'westus', 'canadacentral'),
    digest: fc.constantFrom(...DIGESTS),
  });

  it('no two replicated events of a tag announce the same arrivals', () => {
    // What an event says: its digest and the arrival it names in each required region. Two events
    // saying the same are one replication announced twice (the history above, delete last).
    fc.assert(
      fc.property(
        fc.array(stepArb, { minLength: 2, maxLength: 7 }),
        fc.array(fc.nat(), { minLength: 7, maxLength: 7 }),
        fc.constantFrom(REQUIRED, [...REQUIRED, 'canadacentral']),
        (steps, keys, required) => {
          const history = steps.map((s, i) => ({ ...s, t: i * 3 + 1 }));
          const shuffled = history
            .map((s, i) => ({ s, k: keys[i] ?? 0 }))
            .sort((a, b) => a.k - b.k)
            .map(({ s }) => s);
          for (const order of [history, shuffled]) {
            let state: TagState = emptyTagState(key);
            const said: string[] = [];
            for (const s of order) {
              const at = toInstant(`2026-03-14T09:00:${String(s.t).padStart(2, '0')}Z`) as Instant;
              const r = { region: s.region, digest: s.digest, timestamp: at };
              state = s.kind === 'push' ? applyPush(state, r) : applyDelete(state, r);
              const e = evaluate(state, required);
              if (e.newCompletion === null) continue;
              const arrivals = e.regions.filter((v) => v.required).map((v) => v.arrivedAt);
              said.push(`${e.newCompletion.digest} ${arrivals.join()}`);
              state = withCompletion(state, { ...e.newCompletion, eventId: `e${said.length}` });
            }
            const where = order.map((s) => `${s.kind} ${s.region} ${s.digest.slice(7, 8)} :${s.t}`);
            expect(new Set(said).size, where.join(', ')).toBe(said.length);
          }
        },
      ),
      { numRuns: 5_000 },
    );
  });
});

describe('a delete stamped between the pushes of a round, through the tag write (in memory)', () => {
  async function eventsFor(order: readonly Step[]) {
    const store = makeMemoryStore();
    const deps: RegionsDeps = {
      store,
      clock: { now: () => instantFromDate(new Date()) },
      defaultRegions: REQUIRED,
      maxAttempts: 12,
      tagCache: makeTagCache(),
      firstAttemptLeaseMs: 35_000,
    };
    for (const s of order) {
      const { registry, repository, tag } = key;
      const payload =
        s.kind === 'push'
          ? aPushEvent({ registry, repository, tag, digest: D, timestamp: stamp(s) })
          : aDeleteEvent({ registry, repository, digest: D, timestamp: stamp(s) });
      await recordArrival(deps, intentOf(payload), s.region, payload);
    }
    return (await store.events.latest(20)).filter((e) => e.event.type === REPLICATED_EVENT_TYPE);
  }

  it('stores one replicated event whether the delete comes in timestamp order or last', async () => {
    const pushWest = push('westus', '00.000');
    const delEast = del('eastus', '05.000');
    const pushEast = push('eastus', '10.000');
    const inOrder = await eventsFor([pushWest, delEast, pushEast]);
    const deleteLast = await eventsFor([pushWest, pushEast, delEast]);
    expect(inOrder).toHaveLength(1);
    expect(deleteLast).toHaveLength(1);
  });
});
