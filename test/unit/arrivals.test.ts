// Per-region arrival events: which subscriptions get them, and which arrivals a write announces.
import { describe, expect, it } from 'vitest';
import { newArrivals } from '../../src/app/update-tag';
import { appliesTo } from '../../src/events/delivery-request';
import {
  ARRIVED_EVENT_TYPE,
  REPLICATED_EVENT_TYPE,
  STALLED_EVENT_TYPE,
  arrivedEventId,
  toArrivedEvent,
} from '../../src/events/replicated-event';
import type { StoredEvent, Subscription } from '../../src/events/types';
import {
  applyDelete,
  applyPush,
  emptyTagState,
  evaluate,
  type TagState,
} from '../../src/replication/tag-state';
import type { Instant } from '../../src/replication/timestamp';
import { aDigest, aSubscription as aStoredSubscription } from '../support/fixtures';

const AT = '2026-03-14T09:00:00.000000000Z' as Instant;
const t = (second: number) => `2026-03-14T09:00:0${second}.500000000Z` as Instant;
const REGIONS = ['eastus', 'westeurope', 'westus'];

const aSubscription = (overrides: Partial<Subscription> = {}): Subscription =>
  aStoredSubscription({ url: 'https://hooks.example.net/x', createdAt: AT, ...overrides });

const key = { registry: 'contoso.azurecr.io', repository: 'team/web', tag: '1.2' };

function pushed(digest: string, regions: string[], state: TagState = emptyTagState(key)) {
  return regions.reduce(
    (s, region, i) => applyPush(s, { region, digest, timestamp: t(i + 1) }),
    state,
  );
}

function anArrivedEvent(region: string): StoredEvent {
  const state = pushed(aDigest(), [region]);
  const evaluation = evaluate(state, REGIONS);
  const view = evaluation.regions.find((r) => r.region === region);
  const entry = toArrivedEvent(state, evaluation, {
    region,
    required: true,
    arrivedAt: view?.arrivedAt ?? AT,
  });
  return { ...entry, recordedAt: AT };
}

describe('who receives acrgate.tag.arrived', () => {
  const arrived = anArrivedEvent('eastus');

  it('not a subscription that lists no types (it keeps receiving what it did before)', () => {
    expect(appliesTo(aSubscription(), arrived)).toBe(false);
    expect(appliesTo(aSubscription({ types: [REPLICATED_EVENT_TYPE] }), arrived)).toBe(false);
    expect(appliesTo(aSubscription({ format: 'github-dispatch' }), arrived)).toBe(false);
  });

  it('a subscription that names it, filtered by region', () => {
    expect(appliesTo(aSubscription({ types: [ARRIVED_EVENT_TYPE] }), arrived)).toBe(true);
    const east = aSubscription({ types: [ARRIVED_EVENT_TYPE], filter: { regions: ['eastus'] } });
    const west = aSubscription({ types: [ARRIVED_EVENT_TYPE], filter: { regions: ['westus'] } });
    expect(appliesTo(east, arrived)).toBe(true);
    expect(appliesTo(west, arrived)).toBe(false);
  });

  it('never an acr relay, which only means "everywhere"', () => {
    const acr = aSubscription({ format: 'acr', types: [ARRIVED_EVENT_TYPE] });
    expect(appliesTo(acr, arrived)).toBe(false);
  });

  it('a regions filter leaves round events (replicated, stalled) alone', () => {
    const stalled: StoredEvent = {
      event: { ...arrived.event, type: STALLED_EVENT_TYPE, data: { ...key } },
      recordedAt: AT,
    };
    const sub = aSubscription({ filter: { regions: ['westus'] } });
    expect(appliesTo(sub, stalled)).toBe(true);
  });
});

describe('newArrivals', () => {
  it('announces each region holding the current digest once, with the lag and what is missing', () => {
    const digest = aDigest();
    const first = pushed(digest, ['westus']);
    const one = newArrivals(first, evaluate(first, REGIONS), {});
    expect(one.entries.map((e) => e.event.data.region)).toEqual(['westus']);
    expect(one.entries[0]?.event.id).toBe(
      arrivedEventId(key.registry, key.repository, key.tag, digest, 'westus'),
    );
    expect(one.entries[0]?.event.type).toBe(ARRIVED_EVENT_TYPE);
    expect(one.entries[0]?.event.data).toMatchObject({
      digest,
      region: 'westus',
      lagMs: 0,
      missingRegions: ['eastus', 'westeurope'],
    });
    expect(one.arrivals).toEqual({ [digest]: ['westus'] });

    const second = pushed(digest, ['westus', 'eastus']);
    const two = newArrivals(second, evaluate(second, REGIONS), one.arrivals);
    expect(two.entries.map((e) => e.event.data.region)).toEqual(['eastus']);
    expect(two.entries[0]?.event.data).toMatchObject({
      lagMs: 1000,
      missingRegions: ['westeurope'],
    });
    expect(two.arrivals).toEqual({ [digest]: ['eastus', 'westus'] });

    // The same state again (a duplicate webhook) announces nothing.
    expect(newArrivals(second, evaluate(second, REGIONS), two.arrivals).entries).toEqual([]);
  });

  it('announces a region outside the required ones, marked as such', () => {
    const state = pushed(aDigest(), ['westus', 'japaneast']);
    const { entries } = newArrivals(state, evaluate(state, REGIONS), {});
    expect(entries.map((e) => [e.event.data.region, e.event.data.required])).toEqual([
      ['westus', true],
      ['japaneast', false],
    ]);
  });

  it('announces the new digest of a moved tag in every region again, and forgets old digests', () => {
    const old = aDigest();
    const fresh = aDigest();
    let state = pushed(old, ['westus']);
    const before = newArrivals(state, evaluate(state, REGIONS), {});
    state = applyPush(state, { region: 'westus', digest: fresh, timestamp: t(5) });
    const after = newArrivals(state, evaluate(state, REGIONS), before.arrivals);
    expect(after.entries.map((e) => [e.event.data.region, e.event.data.digest])).toEqual([
      ['westus', fresh],
    ]);
    expect(Object.keys(after.arrivals).sort()).toEqual([old, fresh].sort());
    // A digest the tag no longer remembers is dropped from the record.
    expect(
      newArrivals(state, evaluate(state, REGIONS), { 'sha256:gone': ['x'] }).arrivals,
    ).not.toHaveProperty('sha256:gone');
  });

  it('announces nothing for a deleted digest', () => {
    const digest = aDigest();
    let state = pushed(digest, ['westus']);
    state = applyDelete(state, { region: 'westus', digest, timestamp: t(8) });
    state = applyPush(state, { region: 'eastus', digest, timestamp: t(2) });
    const evaluation = evaluate(state, REGIONS);
    expect(evaluation.status).toBe('deleted');
    expect(newArrivals(state, evaluation, {}).entries).toEqual([]);
  });
});
