// The store contract: what the use cases rely on from a Store, run against every implementation
// (the Cosmos DB adapter and the in-memory store of the handler tests), so they cannot drift.
import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { DeliveryRecord, ApprovalRecord, Store, TagRecord } from '../../src/app/ports';
import {
  eventCursor,
  InvalidContinuationTokenError,
  InvalidEventCursorError,
} from '../../src/app/ports';
import { readStatus } from '../../src/app/read-status';
import { recordArrival } from '../../src/app/record-arrival';
import { setRequiredRegions, type RegionsDeps } from '../../src/app/required-regions';
import type { OutboxEntry } from '../../src/events/replicated-event';
import type { Subscription } from '../../src/events/types';
import { systemClock } from '../../src/main';
import { acrEventSchema, toIntent, type Intent } from '../../src/replication/acr-event';
import { toInstant, type Instant } from '../../src/replication/timestamp';
import { aDeleteEvent, aDigest, aPushEvent } from '../support/fixtures';

/** An instant as the store keeps it. */
const at = (text: string): Instant => {
  const instant = toInstant(text);
  if (instant === undefined) throw new Error(`not an instant: ${text}`);
  return instant;
};

export const REGIONS = ['westus', 'eastus', 'canadacentral', 'westeurope'];

type Arrival = Extract<Intent, { kind: 'push' | 'delete' }>;
export const intentOf = (event: unknown): Arrival => {
  const intent = toIntent(acrEventSchema.parse(event), { countQuarantine: false });
  if (intent.kind !== 'push' && intent.kind !== 'delete') throw new Error('not an arrival');
  return intent;
};

/**
 * A fresh, empty store for one test; `instance()` is one more "function instance" over the same
 * data (for Cosmos DB, its own client; in memory, the same maps).
 */
export interface StoreUnderTest {
  store: Store;
  instance(): Store;
}

const depsOf = (store: Store, regions: readonly string[]): RegionsDeps => ({
  store,
  clock: systemClock,
  defaultRegions: regions,
  maxAttempts: 40,
});

/** Every stored event, read through the port's feed. */
async function allEvents(store: Store) {
  return (await store.events.list(undefined, 1000)).items;
}

/** A replicated event of `registry`'s team/app:`tag`, as the outbox holds it. */
export function anEvent(registry: string, tag: string): OutboxEntry {
  const digest = aDigest();
  return {
    event: {
      specversion: '1.0',
      id: randomUUID(),
      type: 'acrgate.tag.replicated',
      source: `/registries/${registry}`,
      subject: `team/app:${tag}`,
      time: '2026-03-14T09:00:00.000000000Z',
      datacontenttype: 'application/json',
      data: { registry, repository: 'team/app', tag, digest },
    },
  };
}

/** Five deliveries of one push of `digest` to team/app/api:latest from each of the four regions. */
export function concurrentDeliveries(digest: string) {
  return REGIONS.flatMap((region, i) =>
    Array.from({ length: 5 }, () => ({
      region,
      intent: intentOf(
        aPushEvent({
          repository: 'team/app/api',
          digest,
          timestamp: `2026-03-14T09:00:0${i}.123456789Z`,
        }),
      ),
    })),
  );
}

export function storeContract(name: string, fresh: () => StoreUnderTest): void {
  describe(`${name}: recording arrivals`, () => {
    it('gives exactly one completion for 20 concurrent deliveries from separate clients', async () => {
      const underTest = fresh();
      const instances = Array.from({ length: 5 }, () => depsOf(underTest.instance(), REGIONS));
      const digest = aDigest();
      const deliveries = concurrentDeliveries(digest);
      const outcomes = await Promise.all(
        deliveries.map(({ region, intent }, i) =>
          recordArrival(instances[i % instances.length] as RegionsDeps, intent, region),
        ),
      );
      const completions = outcomes.filter((o) => o.kind === 'push' && o.result.completed !== null);
      expect(deliveries).toHaveLength(20);
      expect(completions).toHaveLength(1);

      const deps = depsOf(underTest.store, REGIONS);
      const status = await readStatus(deps, 'contoso.azurecr.io', {
        kind: 'tag',
        repository: 'team/app/api',
        tag: '1.2',
      });
      expect(status).toMatchObject({ status: 'replicated', digest, repository: 'team/app/api' });
      expect(status?.regions.map((r) => r.status)).toEqual([
        'arrived',
        'arrived',
        'arrived',
        'arrived',
      ]);
      const all = await allEvents(underTest.store);
      const events = all.filter((e) => e.event.type === 'acrgate.tag.replicated');
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        event: { type: 'acrgate.tag.replicated', subject: 'team/app/api:1.2' },
      });
      // One arrival per region, decided once among the 20 racing writers.
      const regionOf = (e: { event: { data: unknown } }) =>
        (e.event.data as { region?: string }).region;
      const arrived = all.filter((e) => e.event.type === 'acrgate.tag.arrived');
      expect(arrived.map(regionOf).sort()).toEqual([...REGIONS].sort());
      const decided = outcomes.flatMap((o) => (o.kind === 'push' ? o.result.arrived : []));
      expect(decided.map((e) => e.event.data.region).sort()).toEqual([...REGIONS].sort());
    });

    it('writes nothing for a duplicate', async () => {
      const deps = depsOf(fresh().store, REGIONS);
      const intent = intentOf(aPushEvent());
      const first = await recordArrival(deps, intent, 'westus');
      const again = await recordArrival(deps, intent, 'westus');
      expect(first.kind === 'push' && first.result.written).toBe(true);
      expect(again.kind === 'push' && again.result.written).toBe(false);
    });

    it('marks every tag of a deleted digest as deleted in that region', async () => {
      const deps = depsOf(fresh().store, ['westus']);
      const digest = aDigest();
      await recordArrival(deps, intentOf(aPushEvent({ digest, tag: '1.2' })), 'westus');
      await recordArrival(deps, intentOf(aPushEvent({ digest, tag: 'latest' })), 'westus');
      const outcome = await recordArrival(
        deps,
        intentOf(aDeleteEvent({ digest, timestamp: '2026-03-14T10:00:00Z' })),
        'westus',
      );
      expect(outcome.kind === 'delete' && outcome.results).toHaveLength(2);
      for (const tag of ['1.2', 'latest']) {
        const status = await readStatus(deps, 'contoso.azurecr.io', {
          kind: 'tag',
          repository: 'public/products/web',
          tag,
        });
        expect(status?.status).toBe('deleted');
        expect(status?.regions[0]).toMatchObject({ region: 'westus', status: 'deleted' });
      }
    });

    it('completes a tag that waited only on a region removed from the registry', async () => {
      const deps = depsOf(fresh().store, REGIONS);
      const digest = aDigest();
      for (const region of ['westus', 'eastus', 'canadacentral']) {
        await recordArrival(deps, intentOf(aPushEvent({ digest })), region);
      }
      const result = await setRequiredRegions(deps, 'contoso.azurecr.io', [
        'westus',
        'eastus',
        'canadacentral',
      ]);
      expect(result).toMatchObject({ reevaluated: 1, completed: 1 });
      const status = await readStatus(deps, 'contoso.azurecr.io', {
        kind: 'tag',
        repository: 'public/products/web',
        tag: '1.2',
      });
      expect(status).toMatchObject({
        status: 'replicated',
        requiredRegions: ['canadacentral', 'eastus', 'westus'],
      });
    });

    it('finds a tag by its digest', async () => {
      const deps = depsOf(fresh().store, ['westus']);
      const digest = aDigest();
      await recordArrival(
        deps,
        intentOf(aPushEvent({ digest, repository: 'team/app/api' })),
        'westus',
      );
      const status = await readStatus(deps, 'contoso.azurecr.io', {
        kind: 'digest',
        repository: 'team/app/api',
        digest,
      });
      expect(status).toMatchObject({ tag: '1.2', digest, status: 'replicated' });
    });
  });

  describe(`${name}: repositories`, () => {
    /** A real tag record, as the rules write it. */
    async function aTag(
      store: Store,
      tag: string,
      regions = ['westus', 'eastus'],
      now = at('2026-03-14T09:00:00.000Z'),
    ) {
      const deps = { ...depsOf(store, regions), clock: { now: () => now } };
      await recordArrival(deps, intentOf(aPushEvent({ tag, repository: 'team/app' })), 'westus');
      const stored = await store.tags.get({
        registry: 'contoso.azurecr.io',
        repository: 'team/app',
        tag,
      });
      if (!stored) throw new Error('the arrival was not stored');
      return stored;
    }

    it('replaces a tag only while its ETag matches, and creates it only once', async () => {
      const { store } = fresh();
      const stored = await aTag(store, 'etag');
      const next: TagRecord = { ...stored.record, updatedAt: at('2026-03-14T11:00:00.000Z') };
      const first = await store.tags.save(next, { etag: stored.etag });
      expect(first).toMatchObject({ ok: true });
      expect(first.ok && first.etag).not.toBe(stored.etag);
      // The old ETag lost: someone wrote since.
      expect(await store.tags.save(next, { etag: stored.etag })).toEqual({
        ok: false,
        reason: 'conflict',
      });
      expect(await store.tags.save(next, 'absent')).toEqual({ ok: false, reason: 'conflict' });
      const reread = await store.tags.get(next.state);
      expect(reread?.record.updatedAt).toBe(at('2026-03-14T11:00:00.000Z'));
      expect(reread?.etag).toBe(first.ok ? first.etag : undefined);
    });

    it('stores what a tag write decided with it, and nothing when the write loses', async () => {
      const { store } = fresh();
      const stored = await aTag(store, 'decided');
      const event = (id: string) => ({
        entry: {
          event: {
            specversion: '1.0' as const,
            id,
            type: 'acrgate.tag.replicated',
            source: '/acr-replication-gate',
            subject: 'contoso.azurecr.io/team/app:decided',
            time: at('2026-03-14T11:00:00.000Z'),
            datacontenttype: 'application/json' as const,
            data: { registry: 'contoso.azurecr.io', repository: 'team/app', tag: 'decided' },
          },
        },
        recordedAt: at('2026-03-14T11:00:00.000Z'),
      });
      const delivery = (eventId: string): DeliveryRecord => ({
        eventId,
        subscriptionId: 'sub-1',
        state: 'pending',
        attempts: [],
        attemptsInRound: 0,
        nextAttemptAt: at('2026-03-14T11:01:00.000Z'),
        updatedAt: at('2026-03-14T11:00:00.000Z'),
        registry: 'contoso.azurecr.io',
        repository: 'team/app',
      });
      const next: TagRecord = { ...stored.record, updatedAt: at('2026-03-14T11:00:00.000Z') };
      const won = await store.tags.save(
        next,
        { etag: stored.etag },
        { events: [event('won-1')], deliveries: [delivery('won-1')] },
      );
      if (!won.ok) throw new Error('the write lost');
      expect(won.deliveries.map((d) => d.record)).toEqual([delivery('won-1')]);
      // The delivery's ETag is its stored one: its first attempt's outcome is saved under it.
      const [first] = won.deliveries;
      if (!first) throw new Error('no delivery');
      expect(
        await store.deliveries.save({ ...first.record, state: 'delivered' }, first.etag),
      ).toMatchObject({ ok: true });
      expect((await store.events.get('won-1'))?.event.subject).toBe(
        'contoso.azurecr.io/team/app:decided',
      );

      // The same write again, from the ETag it no longer has: nothing of it is stored.
      const lost = await store.tags.save(
        next,
        { etag: stored.etag },
        { events: [event('lost-1')], deliveries: [delivery('lost-1')] },
      );
      expect(lost).toEqual({ ok: false, reason: 'conflict' });
      expect(await store.events.get('lost-1')).toBeUndefined();
      expect(await store.deliveries.listForEvent('lost-1')).toEqual([]);
      const ids = (await allEvents(store)).map((e) => e.event.id);
      expect(ids.filter((id) => id.endsWith('-1'))).toEqual(['won-1']);
      expect((await store.deliveries.listForEvent('won-1')).map((d) => d.record.state)).toEqual([
        'delivered',
      ]);
    });

    it('lands a write checking deletes only while they are as it saw them', async () => {
      const { store } = fresh();
      const stored = await aTag(store, 'checked');
      const digest = stored.record.evaluation.digest ?? '';
      const next = (minute: number): TagRecord => ({
        ...stored.record,
        updatedAt: at(`2026-03-14T11:0${minute}:00.000Z`),
      });
      // Nothing recorded for the digest: a write that saw nothing lands, and says the new version.
      const unseen = await store.deletions.get('contoso.azurecr.io', 'team/app', digest);
      expect(unseen).toEqual({ digest, regions: {}, version: null, updatedAt: null });
      const first = await store.tags.save(next(1), { etag: stored.etag }, undefined, unseen);
      if (!first.ok || first.deletesVersion === undefined) throw new Error('the write lost');
      // Its check is no delete: the digest still reads as never deleted, and the sweep skips it.
      const checked = await store.deletions.get('contoso.azurecr.io', 'team/app', digest);
      expect(checked).toEqual({ ...unseen, version: first.deletesVersion });
      expect(await store.deletions.listChangedSince(at('2026-03-14T00:00:00.000Z'))).toEqual([]);
      // Seeing nothing again is out of date now; so is the version once a delete is recorded.
      expect(await store.tags.save(next(2), { etag: first.etag }, undefined, unseen)).toEqual({
        ok: false,
        reason: 'deletes-changed',
      });
      await store.deletions.record(
        'contoso.azurecr.io',
        'team/app',
        digest,
        'eastus',
        at('2026-03-14T11:02:00Z'),
        at('2026-03-14T11:02:00.000Z'),
      );
      expect(await store.tags.save(next(3), { etag: first.etag }, undefined, checked)).toEqual({
        ok: false,
        reason: 'deletes-changed',
      });
      // Refused writes stored nothing; a write that saw the delete lands and keeps it.
      expect((await store.tags.get(stored.record.state))?.etag).toBe(first.etag);
      const deleted = await store.deletions.get('contoso.azurecr.io', 'team/app', digest);
      expect(deleted.regions).toEqual({ eastus: at('2026-03-14T11:02:00Z') });
      const last = await store.tags.save(next(4), { etag: first.etag }, undefined, deleted);
      expect(last).toMatchObject({ ok: true });
      expect(await store.deletions.get('contoso.azurecr.io', 'team/app', digest)).toEqual({
        ...deleted,
        version: last.ok ? last.deletesVersion : 'lost',
      });
      expect(await store.deletions.listChangedSince(at('2026-03-14T11:02:00.000Z'))).toEqual([
        {
          registry: 'contoso.azurecr.io',
          repository: 'team/app',
          digest,
          regions: deleted.regions,
        },
      ]);
      // A tag conflict beside a current check is a conflict (the tag is read again, not the deletes).
      expect(
        await store.tags.save(next(5), { etag: stored.etag }, undefined, {
          ...deleted,
          version: last.ok ? (last.deletesVersion ?? null) : null,
        }),
      ).toEqual({ ok: false, reason: 'conflict' });
    });

    it('lists tags newest first in pages, and refuses a token it did not issue', async () => {
      const { store } = fresh();
      for (const [i, tag] of ['a', 'b', 'c'].entries()) {
        await aTag(store, tag, ['westus', 'eastus'], at(`2026-03-14T09:00:0${i}.000Z`));
      }
      const names: (string | null)[] = [];
      let token: string | undefined;
      do {
        const page = await store.tags.list({
          registry: 'contoso.azurecr.io',
          repository: 'team/app',
          pageSize: 2,
          ...(token === undefined ? {} : { continuationToken: token }),
        });
        expect(page.items.length).toBeLessThanOrEqual(2);
        names.push(...page.items.map((r) => r.state.tag));
        token = page.continuationToken ?? undefined;
      } while (token !== undefined);
      expect(names).toEqual(['c', 'b', 'a']);
      expect(
        await store.tags.list({
          registry: 'contoso.azurecr.io',
          status: 'replicated',
          pageSize: 10,
        }),
      ).toEqual({ items: [], continuationToken: null });
      await expect(
        store.tags.list({
          registry: 'contoso.azurecr.io',
          pageSize: 2,
          continuationToken: '{"a":1}',
        }),
      ).rejects.toBeInstanceOf(InvalidContinuationTokenError);
    });

    it('answers the tag queries the use cases make', async () => {
      const { store } = fresh();
      const one = await aTag(store, 'one');
      await aTag(store, 'two', ['westus']);
      const digest = one.record.evaluation.digest as string;
      expect(await store.tags.anyInRegistry('contoso.azurecr.io')).toBe(true);
      expect(await store.tags.anyInRegistry('other.azurecr.io')).toBe(false);
      const byDigest = await store.tags.findByDigest('contoso.azurecr.io', 'team/app', digest);
      expect(byDigest.map((t) => t.record.state.tag)).toEqual(['one']);
      const byDigests = await store.tags.findByDigests('contoso.azurecr.io', 'team/app', [
        digest,
        aDigest(),
      ]);
      expect(byDigests.map((t) => t.record.state.tag)).toEqual(['one']);
      const many = await store.tags.getMany('contoso.azurecr.io', 'team/app', [
        'one',
        'two',
        'three',
      ]);
      expect(many.map((t) => t.record.state.tag).sort()).toEqual(['one', 'two']);
      const open: (string | null)[] = [];
      for await (const key of store.tags.listOpen('contoso.azurecr.io')) open.push(key.tag);
      expect(open).toEqual(['one']);
      const stalls = await store.tags.listStallCandidates(at('2099-01-01T00:00:00.000Z'), 10);
      expect(stalls.map((k) => k.tag)).toEqual(['one']);
      expect(await store.tags.listStallCandidates(at('2000-01-01T00:00:00.000Z'), 10)).toEqual([]);
    });

    it('keeps events once, in recorded order, after a cursor, and restamps later only', async () => {
      const { store } = fresh();
      await recordArrival(depsOf(store, ['westus']), intentOf(aPushEvent({ tag: 'ev' })), 'westus');
      const [a, b] = await allEvents(store);
      if (!a || !b) throw new Error('expected an arrival and a replicated event');
      expect(await store.events.list(undefined, 1000)).toMatchObject({ items: [{}, {}] });
      await store.events.add({ event: a.event }, at('2026-03-15T09:00:00.000Z'));
      expect((await allEvents(store)).length).toBe(2);
      const feed = await allEvents(store);
      const first = feed[0];
      if (!first) throw new Error('empty feed');
      const after = await store.events.list(first.cursor, 10);
      expect(after.items.map((e) => e.event.id)).toEqual([feed[1]?.event.id]);
      await store.events.restamp(first.event.id, at('2000-01-01T00:00:00.000Z'));
      expect((await store.events.get(first.event.id))?.recordedAt).toBe(first.recordedAt);
      await store.events.restamp(first.event.id, at('2099-01-01T00:00:00.000Z'));
      expect((await store.events.get(first.event.id))?.recordedAt).toBe(
        at('2099-01-01T00:00:00.000Z'),
      );
      const reordered = await allEvents(store);
      expect(reordered.map((e) => e.event.id)).toEqual([feed[1]?.event.id, first.event.id]);
      const settled = await store.events.list(undefined, 10, at('2098-01-01T00:00:00.000Z'));
      expect(settled.items.map((e) => e.event.id)).toEqual([feed[1]?.event.id]);
      expect(await store.events.get('no-such-event')).toBeUndefined();
    });

    it('stores subscriptions in creation order, disables and deletes them', async () => {
      const { store } = fresh();
      const subscription = (id: string, createdAt: string): Subscription => ({
        id,
        url: 'https://hooks.example.com/x',
        format: 'cloudevents',
        secret: 'whsec_c2VjcmV0',
        filter: {},
        headers: {},
        types: ['acrgate.tag.replicated'],
        enabled: true,
        createdAt: at(createdAt),
      });
      await store.subscriptions.create(subscription('later', '2026-03-14T10:00:00.000Z'));
      await store.subscriptions.create(subscription('earlier', '2026-03-14T09:00:00.000Z'));
      expect((await store.subscriptions.list()).map((s) => s.id)).toEqual(['earlier', 'later']);
      await store.subscriptions.disable('later', 'gone');
      expect(await store.subscriptions.get('later')).toMatchObject({
        enabled: false,
        disabledReason: 'gone',
      });
      await store.subscriptions.disable('never-created', 'gone');
      expect(await store.subscriptions.delete('earlier')).toBe(true);
      expect(await store.subscriptions.delete('earlier')).toBe(false);
      expect(await store.subscriptions.get('earlier')).toBeUndefined();
    });

    it('creates a delivery once, lists the due ones, and saves under its ETag', async () => {
      const { store } = fresh();
      const delivery = (subscriptionId: string, nextAttemptAt: string): DeliveryRecord => ({
        eventId: 'event-1',
        subscriptionId,
        state: 'pending',
        attempts: [],
        attemptsInRound: 0,
        nextAttemptAt: at(nextAttemptAt),
        updatedAt: at('2026-03-14T09:00:00.000Z'),
      });
      await store.deliveries.create(delivery('s2', '2026-03-14T09:02:00.000Z'));
      await store.deliveries.create(delivery('s1', '2026-03-14T09:01:00.000Z'));
      await store.deliveries.create({
        ...delivery('s1', '2026-03-14T09:01:00.000Z'),
        state: 'dead',
      });
      const due = await store.deliveries.listDue(at('2026-03-14T09:05:00.000Z'), 10);
      expect(due.map((d) => d.record.subscriptionId)).toEqual(['s1', 's2']);
      expect(await store.deliveries.listDue(at('2026-03-14T09:00:00.000Z'), 10)).toEqual([]);
      const [s1] = due;
      if (!s1) throw new Error('no delivery');
      const saved = await store.deliveries.save({ ...s1.record, state: 'delivered' }, s1.etag);
      expect(saved.ok).toBe(true);
      expect(await store.deliveries.save(s1.record, s1.etag)).toEqual({
        ok: false,
        reason: 'conflict',
      });
      const forEvent = await store.deliveries.listForEvent('event-1');
      expect(forEvent.map((d) => [d.record.subscriptionId, d.record.state]).sort()).toEqual([
        ['s1', 'delivered'],
        ['s2', 'pending'],
      ]);
    });

    it('creates an approval once and claims it under its ETag', async () => {
      const { store } = fresh();
      const approval: ApprovalRecord = {
        id: 'run-1',
        kind: 'github',
        registry: 'contoso.azurecr.io',
        repository: 'team/app',
        reference: { kind: 'tag', repository: 'team/app', tag: '1.2' },
        regions: null,
        state: 'waiting',
        decision: null,
        deadline: at('2026-03-14T10:00:00.000Z'),
        nextAttemptAt: null,
        attempts: [],
        reports: 0,
        lastReport: null,
        target: { url: 'https://api.github.example/x' },
        createdAt: at('2026-03-14T09:00:00.000Z'),
        updatedAt: at('2026-03-14T09:00:00.000Z'),
      };
      expect(await store.approvals.create(approval)).toBe(true);
      expect(await store.approvals.create({ ...approval, reports: 5 })).toBe(false);
      const stored = await store.approvals.get('contoso.azurecr.io', 'team/app', 'run-1');
      expect(stored?.record).toEqual(approval);
      expect(await store.approvals.get('contoso.azurecr.io', 'team/app', 'none')).toBeUndefined();
      expect(await store.approvals.listWaiting('contoso.azurecr.io', 'team/app')).toHaveLength(1);
      if (!stored) throw new Error('not stored');
      const claimed = {
        ...approval,
        state: 'answering' as const,
        nextAttemptAt: at('2026-03-14T09:30:00.000Z'),
      };
      expect((await store.approvals.save(claimed, stored.etag)).ok).toBe(true);
      expect(await store.approvals.save(claimed, stored.etag)).toEqual({
        ok: false,
        reason: 'conflict',
      });
      expect(await store.approvals.listWaiting('contoso.azurecr.io', 'team/app')).toEqual([]);
      expect(await store.approvals.listDue(at('2026-03-14T09:00:00.000Z'), 10)).toEqual([]);
      const due = await store.approvals.listDue(at('2026-03-14T09:30:00.000Z'), 10);
      expect(due.map((a) => a.record.state)).toEqual(['answering']);
    });

    it('keeps the latest delete per region, regions per registry, indexes and environments', async () => {
      const { store } = fresh();
      const digest = aDigest();
      await store.deletions.record(
        'r.azurecr.io',
        'app',
        digest,
        'westus',
        at('2026-03-14T09:00:00Z'),
        at('2026-03-14T09:00:00.000Z'),
      );
      await store.deletions.record(
        'r.azurecr.io',
        'app',
        digest,
        'westus',
        at('2026-03-14T08:00:00Z'),
        at('2026-03-14T09:01:00.000Z'),
      );
      await store.deletions.record(
        'r.azurecr.io',
        'app',
        digest,
        'eastus',
        at('2026-03-14T09:05:00Z'),
        at('2026-03-14T09:05:00.000Z'),
      );
      expect((await store.deletions.get('r.azurecr.io', 'app', digest)).regions).toEqual({
        westus: at('2026-03-14T09:00:00Z'),
        eastus: at('2026-03-14T09:05:00Z'),
      });
      expect((await store.deletions.get('r.azurecr.io', 'app', aDigest())).regions).toEqual({});
      expect(await store.deletions.listChangedSince(at('2026-03-14T09:05:00.000Z'))).toEqual([
        {
          registry: 'r.azurecr.io',
          repository: 'app',
          digest,
          regions: { westus: at('2026-03-14T09:00:00Z'), eastus: at('2026-03-14T09:05:00Z') },
        },
      ]);
      expect(await store.deletions.listChangedSince(at('2026-03-14T09:06:00.000Z'))).toEqual([]);
      await store.registries.putRegions('r.azurecr.io', ['westus'], at('2026-03-14T09:00:00.000Z'));
      expect(await store.registries.getRegions('r.azurecr.io')).toEqual({
        regions: ['westus'],
        updatedAt: at('2026-03-14T09:00:00.000Z'),
      });
      expect(await store.registries.getRegions('none.azurecr.io')).toBeUndefined();
      expect(await store.registries.listChangedSince(at('2026-03-14T09:00:00.000Z'))).toEqual([
        'r.azurecr.io',
      ]);
      expect(await store.registries.listChangedSince(at('2026-03-14T09:00:01.000Z'))).toEqual([]);

      const child = aDigest();
      const index = {
        mediaType: 'application/vnd.oci.image.index.v1+json',
        children: [{ digest: child, platform: 'linux/amd64', attestation: false }],
      };
      await store.images.putIndex(
        'r.azurecr.io',
        'app',
        digest,
        index,
        at('2026-03-14T09:00:00.000Z'),
      );
      expect(await store.images.getIndex('r.azurecr.io', 'app', digest)).toEqual(index);
      expect(await store.images.findParents('r.azurecr.io', 'app', child)).toEqual([digest]);
      expect(await store.images.findParents('r.azurecr.io', 'other', child)).toEqual([]);

      const mapping = {
        owner: 'Contoso',
        repo: 'Web',
        environment: 'prod',
        image: 'contoso.azurecr.io/web:{sha}',
        regions: null,
        updatedAt: at('2026-03-14T09:00:00.000Z'),
      };
      await store.githubEnvironments.put(mapping);
      expect(await store.githubEnvironments.get('contoso', 'web', 'prod')).toEqual(mapping);
      expect(await store.githubEnvironments.get('contoso', 'web', 'Prod')).toBeUndefined();
      await store.ping();
    });
  });

  describe(`${name}: the event feed`, () => {
    /** Stores `tags.length` events of `registry` one second apart from `from`, in that order. */
    async function recordSpaced(store: Store, registry: string, tags: string[], from: number) {
      const entries = tags.map((tag) => anEvent(registry, tag));
      for (const [i, entry] of entries.entries()) {
        const second = String(from + i).padStart(2, '0');
        await store.events.add(entry, at(`2026-03-14T09:00:${second}.000000000Z`));
      }
      return entries.map((e) => e.event.id);
    }

    it('pages with the cursors it issues: every event once, in recorded order', async () => {
      const underTest = fresh();
      const store = underTest.store;
      const ids = await recordSpaced(store, 'contoso.azurecr.io', ['a', 'b', 'c', 'd', 'e'], 10);
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page++) {
        // A cursor travels as text (a poller keeps it between runs) and may reach another instance.
        const reader = page % 2 === 0 ? store : underTest.instance();
        const { items } = await reader.events.list(
          cursor === undefined ? undefined : eventCursor(cursor),
          2,
        );
        if (items.length === 0) break;
        expect(items.length).toBeLessThanOrEqual(2);
        seen.push(...items.map((e) => e.event.id));
        cursor = JSON.parse(JSON.stringify(items.at(-1)?.cursor)) as string;
      }
      expect(seen).toEqual(ids);
      const middle = (await store.events.list(undefined, 3)).items.at(-1);
      if (!middle) throw new Error('empty feed');
      const rest = await store.events.list(middle.cursor, 10);
      expect(rest.items.map((e) => e.event.id)).toEqual(ids.slice(3));
    });

    it('refuses a cursor it did not issue, before reaching the database', async () => {
      const { store } = fresh();
      await recordSpaced(store, 'contoso.azurecr.io', ['a'], 10);
      const issued = (await store.events.list(undefined, 1)).items[0]?.cursor;
      if (issued === undefined) throw new Error('empty feed');
      const forged = [
        'zzz',
        'bm9wZQ', // "nope"
        Buffer.from('2026-03-14T09:00:10.000000000Z', 'utf8').toString('base64url'), // no id
        Buffer.from(`${randomUUID()}|2026-03-14T09:00:10.000000000Z`).toString('base64url'),
        issued.slice(0, 20), // cut inside the instant
        '',
      ];
      for (const text of forged) {
        await expect(store.events.list(eventCursor(text), 10), text).rejects.toBeInstanceOf(
          InvalidEventCursorError,
        );
      }
      expect((await store.events.list(issued, 10)).items).toEqual([]);
    });

    it('gives the latest N events newest first, of every registry or of one', async () => {
      const { store } = fresh();
      const mine = await recordSpaced(store, 'contoso.azurecr.io', ['a', 'b', 'c'], 10);
      const theirs = await recordSpaced(store, 'fabrikam.azurecr.io', ['x', 'y', 'z'], 20);
      const older = await recordSpaced(store, 'contoso.azurecr.io', ['old'], 0);
      const idsOf = (events: { event: { id: string } }[]) => events.map((e) => e.event.id);
      expect(idsOf(await store.events.latest(4))).toEqual(
        [...theirs].reverse().concat(mine.slice(2)),
      );
      expect(idsOf(await store.events.latest(100))).toEqual(
        [...older, ...mine, ...theirs].reverse(),
      );
      expect(idsOf(await store.events.latest(2, { registry: 'contoso.azurecr.io' }))).toEqual([
        mine[2],
        mine[1],
      ]);
      expect(idsOf(await store.events.latest(10, { registry: 'contoso.azurecr.io' }))).toEqual(
        [...older, ...mine].reverse(),
      );
      expect(await store.events.latest(10, { registry: 'contoso' })).toEqual([]);
      const [newest] = await store.events.latest(1);
      expect(newest?.event.id).toBe(theirs[2]);
      expect(newest).toEqual({
        event: newest?.event,
        recordedAt: at('2026-03-14T09:00:22.000000000Z'),
      });
      // A restamped event is the newest: latest follows the order the feed hands out.
      await store.events.restamp(older[0] ?? '', at('2026-03-14T09:00:30.000000000Z'));
      expect(idsOf(await store.events.latest(1))).toEqual(older);
    });

    it('hands out only events recorded before the settle cutoff, after a cursor too', async () => {
      const { store } = fresh();
      const ids = await recordSpaced(store, 'contoso.azurecr.io', ['a', 'b', 'c', 'd'], 10);
      const cutoff = at('2026-03-14T09:00:12.000000000Z');
      // Recorded exactly at the cutoff is not before it.
      const settled = await store.events.list(undefined, 10, cutoff);
      expect(settled.items.map((e) => e.event.id)).toEqual(ids.slice(0, 2));
      const first = settled.items[0];
      if (!first) throw new Error('empty feed');
      const next = await store.events.list(first.cursor, 10, cutoff);
      expect(next.items.map((e) => e.event.id)).toEqual(ids.slice(1, 2));
      const last = next.items.at(-1);
      if (!last) throw new Error('empty page');
      expect((await store.events.list(last.cursor, 10, cutoff)).items).toEqual([]);
      // The window moves on: what was held back is handed out after the same cursor.
      const later = await store.events.list(last.cursor, 10, at('2026-03-14T09:01:00.000000000Z'));
      expect(later.items.map((e) => e.event.id)).toEqual(ids.slice(2));
    });
  });
}
