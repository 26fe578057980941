import { describe, expect, it } from 'vitest';
import {
  MAX_DIGESTS,
  applyDelete,
  applyPush,
  emptyTagState,
  evaluate,
  isStallDue,
  withCompletion,
  withStall,
  type RegionReport,
  type TagState,
} from '../../src/replication/tag-state';
import { toInstant, type Instant } from '../../src/replication/timestamp';
import { permutations } from '../support/fixtures';

const REGIONS = ['westus', 'eastus', 'canadacentral', 'westeurope'];
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const at = (text: string): Instant => toInstant(text) as Instant;
const key = { registry: 'contoso.azurecr.io', repository: 'team/app/api', tag: '1.2' };

const report = (region: string, digest: string, ts: string): RegionReport => ({
  region,
  digest,
  timestamp: at(ts),
});

/** Applies reports in order, recording completions the way the store does. */
function run(reports: { kind: 'push' | 'delete'; r: RegionReport }[], required = REGIONS) {
  let state: TagState = emptyTagState(key);
  let completions = 0;
  for (const { kind, r } of reports) {
    state = kind === 'push' ? applyPush(state, r) : applyDelete(state, r);
    const e = evaluate(state, required);
    if (e.newCompletion) {
      completions += 1;
      state = withCompletion(state, { ...e.newCompletion, eventId: `event-${completions}` });
    }
  }
  return { state, evaluation: evaluate(state, required), completions };
}

const round1 = [
  report('westus', D1, '2026-03-14T09:26:53.100000001Z'),
  report('eastus', D1, '2026-03-14T09:26:58.000000000Z'),
  report('canadacentral', D1, '2026-03-14T09:27:03.000000000Z'),
  report('westeurope', D1, '2026-03-14T09:27:40.500000000Z'),
];

describe('the rules of replication state', () => {
  it('completes once when four regions arrive, in every order, each delivery duplicated', () => {
    const expected = run(round1.map((r) => ({ kind: 'push' as const, r })));
    expect(expected.evaluation.status).toBe('replicated');
    expect(expected.completions).toBe(1);

    for (const order of permutations(round1)) {
      const doubled = order.flatMap((r) => [r, r]).map((r) => ({ kind: 'push' as const, r }));
      const result = run(doubled);
      expect(result.completions).toBe(1);
      expect(result.evaluation).toEqual(expected.evaluation);
      expect(result.state.observations).toEqual(expected.state.observations);
    }
  });

  it('returns the very same state object for a duplicate, so the store skips the write', () => {
    const once = applyPush(emptyTagState(key), round1[0] as RegionReport);
    expect(applyPush(once, round1[0] as RegionReport)).toBe(once);
  });

  it('reports replicatedAt as the last required region and pushedAt as the first', () => {
    const { evaluation } = run(round1.map((r) => ({ kind: 'push' as const, r })));
    expect(evaluation.pushedAt).toBe('2026-03-14T09:26:53.100000001Z');
    expect(evaluation.replicatedAt).toBe('2026-03-14T09:27:40.500000000Z');
  });

  it('keeps a region stale when it reports an old digest late, after a re-push', () => {
    const history = [
      report('westus', D1, '2026-03-14T09:00:00Z'),
      report('eastus', D1, '2026-03-14T09:00:05Z'),
      // the tag is re-pushed with D2 mid-round
      report('westus', D2, '2026-03-14T09:05:00Z'),
      report('eastus', D2, '2026-03-14T09:05:04Z'),
      report('canadacentral', D2, '2026-03-14T09:05:09Z'),
      // westeurope is late, and its first report is of the old digest, stamped after D2's push
      report('westeurope', D1, '2026-03-14T09:06:00Z'),
    ];
    const { evaluation, completions } = run(history.map((r) => ({ kind: 'push' as const, r })));
    expect(evaluation.digest).toBe(D2);
    expect(evaluation.status).toBe('replicating');
    expect(evaluation.regions.find((r) => r.region === 'westeurope')).toMatchObject({
      status: 'stale',
      digest: D1,
    });
    expect(evaluation.missingRegions).toEqual(['westeurope']);
    expect(completions).toBe(0);

    const done = run(
      [...history, report('westeurope', D2, '2026-03-14T09:06:30Z')].map((r) => ({
        kind: 'push' as const,
        r,
      })),
    );
    expect(done.evaluation.status).toBe('replicated');
    expect(done.evaluation.digest).toBe(D2);
    expect(done.completions).toBe(1);
  });

  it('starts a new round on a re-push after completion; the old round stands', () => {
    const r2 = REGIONS.map((region, i) => report(region, D2, `2026-03-14T10:00:0${i}Z`));
    const { state, evaluation, completions } = run(
      [...round1, ...r2].map((r) => ({ kind: 'push' as const, r })),
    );
    expect(completions).toBe(2);
    expect(state.completions.map((c) => c.digest)).toEqual([D1, D2]);
    expect(evaluation.digest).toBe(D2);
  });

  it('orders timestamps that differ only below the millisecond', () => {
    const a = report('westus', D1, '2026-03-14T09:26:53.589793238Z');
    const b = report('westus', D2, '2026-03-14T09:26:53.589793239Z');
    for (const order of [
      [a, b],
      [b, a],
    ]) {
      const { evaluation } = run(
        order.map((r) => ({ kind: 'push' as const, r })),
        ['westus'],
      );
      expect(evaluation.digest).toBe(D2);
    }
  });

  it('shows extra regions without requiring them', () => {
    const { evaluation } = run(
      [...round1, report('japaneast', D1, '2026-03-14T09:28:00Z')].map((r) => ({
        kind: 'push' as const,
        r,
      })),
    );
    expect(evaluation.status).toBe('replicated');
    expect(evaluation.regions.find((r) => r.region === 'japaneast')).toMatchObject({
      required: false,
      status: 'arrived',
    });
  });

  it('marks a deleted digest, whatever order the delete and pushes arrive in', () => {
    const pushes = round1.slice(0, 2).map((r) => ({ kind: 'push' as const, r }));
    const del = { kind: 'delete' as const, r: report('westus', D1, '2026-03-14T09:30:00Z') };
    for (const order of permutations([...pushes, del])) {
      const { evaluation } = run(order);
      expect(evaluation.status).toBe('deleted');
      expect(evaluation.regions.find((r) => r.region === 'westus')?.status).toBe('deleted');
    }
  });

  it('re-evaluates with a smaller region set: a tag waiting on a removed region completes', () => {
    const three = run(round1.slice(0, 3).map((r) => ({ kind: 'push' as const, r })));
    expect(three.evaluation.status).toBe('replicating');
    const after = evaluate(three.state, ['westus', 'eastus', 'canadacentral']);
    expect(after.status).toBe('replicated');
    expect(after.newCompletion?.digest).toBe(D1);
  });

  it('is never replicated with no required region', () => {
    const { evaluation } = run(
      round1.map((r) => ({ kind: 'push' as const, r })),
      [],
    );
    expect(evaluation.status).toBe('replicating');
  });
});

describe('what a tag keeps', () => {
  it('keeps the earliest ACR payload of each digest, whatever the order', () => {
    const early = report('eastus', D1, '2026-03-14T09:00:00Z');
    const late = report('westus', D1, '2026-03-14T09:00:09Z');
    const payloads = { early: { id: 'early' }, late: { id: 'late' } };
    for (const [a, b] of [
      [early, late],
      [late, early],
    ] as const) {
      let state = applyPush(emptyTagState(key), a, a === early ? payloads.early : payloads.late);
      state = applyPush(state, b, b === early ? payloads.early : payloads.late);
      expect(state.pushes[D1]?.payload).toEqual(payloads.early);
    }
  });

  it(`forgets the oldest digests beyond ${MAX_DIGESTS}, keeping the target`, () => {
    let state: TagState = emptyTagState(key);
    for (let i = 0; i < MAX_DIGESTS + 5; i++) {
      const digest = `sha256:${i.toString(16).padStart(64, '0')}`;
      state = applyPush(
        state,
        report('westus', digest, `2026-03-14T09:${String(i).padStart(2, '0')}:00Z`),
        {},
      );
    }
    const evaluation = evaluate(state, ['westus']);
    expect(Object.keys(state.observations.westus ?? {})).toHaveLength(MAX_DIGESTS);
    expect(Object.keys(state.pushes)).toHaveLength(MAX_DIGESTS);
    expect(evaluation.digest).toBe(`sha256:${(MAX_DIGESTS + 4).toString(16).padStart(64, '0')}`);
  });
});

describe('stalled rounds', () => {
  const open = run([{ kind: 'push', r: round1[0] as RegionReport }]);
  const stallAfter = 30 * 60_000;

  it('is due once the round has been open for STALL_AFTER', () => {
    expect(
      isStallDue(open.state, open.evaluation, at('2026-03-14T09:56:53.099000000Z'), stallAfter),
    ).toBe(false);
    expect(
      isStallDue(open.state, open.evaluation, at('2026-03-14T09:56:53.100000000Z'), stallAfter),
    ).toBe(true);
  });

  it('is reported once per round, and never for a replicated or deleted tag', () => {
    const later = at('2026-03-14T11:00:00Z');
    const stalled = withStall(open.state, D1);
    expect(isStallDue(stalled, evaluate(stalled, REGIONS), later, stallAfter)).toBe(false);
    const done = run(round1.map((r) => ({ kind: 'push' as const, r })));
    expect(isStallDue(done.state, done.evaluation, later, stallAfter)).toBe(false);
  });
});
