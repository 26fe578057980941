// An in-memory Store for handler and use-case tests: the same semantics as the Cosmos DB adapter
// (ETag-conditional writes that report conflicts as values, idempotent creates, continuation
// tokens, the queries' filters and orders). test/integration/store-contract.test.ts runs the same
// suite against both, so this cannot drift from the real store. It lives under test/: it never ships.
import {
  InvalidContinuationTokenError,
  StoreUnavailableError,
  type ApprovalRecord,
  type DeliveryRecord,
  type GithubEnvironmentMapping,
  MAX_ITEMS_PER_WRITE,
  noDeletesSeen,
  type SaveResult,
  type Store,
  type TagSaveResult,
  type StoredIndex,
  type TagRecord,
} from '../../src/app/ports';
import type { StoredEvent, Subscription } from '../../src/events/types';
import {
  knownDigests,
  roundKey,
  type Observation,
  type TagKey,
} from '../../src/replication/tag-state';
import type { Instant } from '../../src/replication/timestamp';
import { registrySource, sortKeyAfter, toCursor } from '../../src/store/event-cursor';
import { tagId, tagPartition } from '../../src/store/ids';

interface Versioned<T> {
  value: T;
  etag: string;
}

/** Copies in and out, as a database does: callers never share objects with the store. */
const copy = <T>(value: T): T => structuredClone(value);

const keyOf = (state: TagKey): TagKey =>
  state.untaggedDigest === undefined
    ? { registry: state.registry, repository: state.repository, tag: state.tag }
    : {
        registry: state.registry,
        repository: state.repository,
        tag: state.tag,
        untaggedDigest: state.untaggedDigest,
      };

const present = (o: Observation): boolean =>
  o.lastSeen !== undefined && (o.deletedAt === undefined || o.lastSeen > o.deletedAt);

export interface MemoryStore extends Store {
  /** Makes every call fail as an unreachable database does; `false` restores it. */
  setUnavailable(unavailable: boolean): void;
}

export function makeMemoryStore(): MemoryStore {
  let version = 0;
  const nextEtag = (): string => `"mem-${++version}"`;
  let unavailable = false;
  const reachable = async <T>(run: () => T): Promise<T> => {
    await Promise.resolve();
    if (unavailable) throw new StoreUnavailableError('in-memory store set unavailable');
    return run();
  };

  const tags = new Map<string, Versioned<TagRecord>>();
  const tagKey = (key: TagKey) => `${tagPartition(key.registry, key.repository)}|${tagId(key)}`;
  /** As stored: `updatedAt` null is the adapter's no-deletion item (a completing write's check). */
  const deletions = new Map<
    string,
    {
      registry: string;
      repository: string;
      digest: string;
      regions: Record<string, Instant>;
      updatedAt: Instant | null;
      version: string;
    }
  >();
  const deletionKey = (registry: string, repository: string, digest: string) =>
    `${registry}/${repository}|${digest}`;
  const registries = new Map<string, { regions: string[]; updatedAt: Instant }>();
  const events = new Map<string, StoredEvent & { sortKey: string }>();
  const subscriptions = new Map<string, Subscription>();
  const deliveries = new Map<string, Versioned<DeliveryRecord>>();
  const approvals = new Map<string, Versioned<ApprovalRecord>>();
  const environments = new Map<string, GithubEnvironmentMapping>();
  const indexes = new Map<
    string,
    { registry: string; repository: string; digest: string; index: StoredIndex }
  >();
  /** Issued continuation tokens → the offset they continue at, per query. */
  const tokens = new Map<string, { query: string; offset: number }>();

  const inFeedOrder = () =>
    [...events.values()].sort((a, b) =>
      a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0,
    );
  const allTags = () => [...tags.values()];
  const storedTag = (v: Versioned<TagRecord>) => ({ record: copy(v.value), etag: v.etag });
  const inRepository = (registry: string, repository: string) =>
    allTags().filter(
      (v) => v.value.state.registry === registry && v.value.state.repository === repository,
    );
  const approvalKey = (registry: string, repository: string, id: string) =>
    `${registry}/${repository}|${id}`;
  const deliveryKey = (eventId: string, subscriptionId: string) => `${eventId}|${subscriptionId}`;

  return {
    setUnavailable: (value) => {
      unavailable = value;
    },
    ping: () => reachable(() => undefined),

    tags: {
      get: (key) =>
        reachable(() => {
          const found = tags.get(tagKey(key));
          return found && storedTag(found);
        }),
      save: (record, expected, decided, deletes) =>
        reachable((): TagSaveResult => {
          const key = tagKey(record.state);
          const current = tags.get(key);
          const { registry, repository } = record.state;
          const deletesKey = deletes && deletionKey(registry, repository, deletes.digest);
          const checked = deletesKey === undefined ? undefined : deletions.get(deletesKey);
          // Checked first, as the adapter's batch does.
          if (deletes && (checked?.version ?? null) !== deletes.version) {
            return { ok: false, reason: 'deletes-changed' };
          }
          if (expected === 'absent' ? current !== undefined : current?.etag !== expected.etag) {
            return { ok: false, reason: 'conflict' };
          }
          // The deletes' check is an item of the request too, as in the adapter's batch.
          const items =
            1 +
            (deletes ? 1 : 0) +
            (decided?.events.length ?? 0) +
            (decided?.deliveries.length ?? 0);
          if (items > MAX_ITEMS_PER_WRITE) {
            throw new StoreUnavailableError(`Cosmos DB write failed: ${items} items in one batch`);
          }
          const etag = nextEtag();
          tags.set(key, { value: copy(record), etag });
          // Upserts, as the adapter's batch does: stable ids, the same thing stored again.
          for (const { entry, recordedAt } of decided?.events ?? []) {
            events.set(entry.event.id, {
              event: copy(entry.event),
              ...(entry.acrPayload === undefined ? {} : { acrPayload: copy(entry.acrPayload) }),
              recordedAt,
              sortKey: `${recordedAt}|${entry.event.id}`,
            });
          }
          const stored = (decided?.deliveries ?? []).map((delivery) => {
            const value = { value: copy(delivery), etag: nextEtag() };
            deliveries.set(deliveryKey(delivery.eventId, delivery.subscriptionId), value);
            return { record: copy(delivery), etag: value.etag };
          });
          if (deletes === undefined || deletesKey === undefined) {
            return { ok: true, etag, deliveries: stored };
          }
          // The check stores what it saw again: only the version changes.
          const deletesVersion = nextEtag();
          deletions.set(deletesKey, {
            registry,
            repository,
            digest: deletes.digest,
            regions: copy(deletes.regions),
            updatedAt: deletes.updatedAt,
            version: deletesVersion,
          });
          return { ok: true, etag, deliveries: stored, deletesVersion };
        }),
      findByDigest: (registry, repository, digest) =>
        reachable(() =>
          inRepository(registry, repository)
            .filter((v) => knownDigests(v.value.state).includes(digest))
            .map(storedTag),
        ),
      getMany: (registry, repository, names) =>
        reachable(() =>
          [...new Set(names)].flatMap((tag) => {
            const found = tags.get(tagKey({ registry, repository, tag }));
            return found ? [storedTag(found)] : [];
          }),
        ),
      anyInRegistry: (registry) =>
        reachable(() => allTags().some((v) => v.value.state.registry === registry)),
      findByDigests: (registry, repository, digests) =>
        reachable(() =>
          inRepository(registry, repository)
            .filter((v) => knownDigests(v.value.state).some((d) => digests.includes(d)))
            .map(storedTag),
        ),
      list: (query) =>
        reachable(() => {
          const signature = JSON.stringify([query.registry, query.repository, query.status]);
          let offset = 0;
          if (query.continuationToken) {
            const issued = tokens.get(query.continuationToken);
            if (issued?.query !== signature) {
              throw new InvalidContinuationTokenError('not a continuation token of this query');
            }
            offset = issued.offset;
          }
          const matching = allTags()
            .map((v) => v.value)
            .filter(
              (r) =>
                r.state.registry === query.registry &&
                (query.repository === undefined || r.state.repository === query.repository) &&
                (query.status === undefined || r.evaluation.status === query.status),
            )
            .sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : 0));
          const items = matching.slice(offset, offset + query.pageSize).map(copy);
          let continuationToken: string | null = null;
          if (offset + query.pageSize < matching.length) {
            continuationToken = `mem-${++version}`;
            tokens.set(continuationToken, { query: signature, offset: offset + query.pageSize });
          }
          return { items, continuationToken };
        }),
      listOpen: (registry) => ({
        async *[Symbol.asyncIterator]() {
          const open = await reachable(() =>
            allTags()
              .filter(
                (v) =>
                  v.value.state.registry === registry &&
                  v.value.evaluation.status === 'replicating',
              )
              .map((v) => keyOf(v.value.state)),
          );
          yield* open;
        },
      }),
      listWithOutbox: (limit) =>
        reachable(() =>
          allTags()
            .filter((v) => v.value.outbox.length > 0)
            .slice(0, limit)
            .map((v) => keyOf(v.value.state)),
        ),
      listStallCandidates: (pushedBefore, limit) =>
        reachable(() =>
          allTags()
            .filter(({ value: { evaluation, state } }) => {
              if (evaluation.status !== 'replicating') return false;
              if (evaluation.pushedAt === null || evaluation.pushedAt > pushedBefore) return false;
              const round = roundKey(evaluation);
              return round === null || !state.stalls.includes(round);
            })
            .slice(0, limit)
            .map((v) => keyOf(v.value.state)),
        ),
    },

    images: {
      getIndex: (registry, repository, digest) =>
        reachable(() => {
          const found = indexes.get(`${registry}/${repository}|${digest}`);
          return found && copy(found.index);
        }),
      putIndex: (registry, repository, digest, index) =>
        reachable(() => {
          indexes.set(`${registry}/${repository}|${digest}`, {
            registry,
            repository,
            digest,
            index: copy(index),
          });
        }),
      findParents: (registry, repository, child) =>
        reachable(() =>
          [...indexes.values()]
            .filter(
              (i) =>
                i.registry === registry &&
                i.repository === repository &&
                i.index.children.some((c) => c.digest === child),
            )
            .map((i) => i.digest),
        ),
      childArrivals: (registry, repository, digests) =>
        reachable(() => {
          const arrived: Record<string, string[]> = {};
          for (const { value } of inRepository(registry, repository)) {
            const digest = value.state.untaggedDigest;
            if (value.state.tag !== null || digest === undefined || !digests.includes(digest)) {
              continue;
            }
            for (const [region, byDigest] of Object.entries(value.state.observations)) {
              const o = byDigest[digest];
              if (o && present(o)) (arrived[region] ??= []).push(digest);
            }
          }
          for (const list of Object.values(arrived)) list.sort();
          return arrived;
        }),
      listRetries: (now, limit) =>
        reachable(() =>
          allTags()
            .filter(({ value }) => {
              const retryAt = value.state.image?.retryAt;
              return (
                value.evaluation.status === 'replicating' &&
                retryAt !== undefined &&
                retryAt !== null &&
                retryAt <= now
              );
            })
            .slice(0, limit)
            .map((v) => keyOf(v.value.state)),
        ),
    },

    deletions: {
      get: (registry, repository, digest) =>
        reachable(() => {
          const known = deletions.get(deletionKey(registry, repository, digest));
          return known
            ? copy({
                digest,
                regions: known.regions,
                version: known.version,
                updatedAt: known.updatedAt,
              })
            : noDeletesSeen(digest);
        }),
      record: (registry, repository, digest, region, at, now) =>
        reachable(() => {
          const key = deletionKey(registry, repository, digest);
          const known = deletions.get(key);
          const before = known?.regions[region];
          if (before !== undefined && before >= at) return;
          deletions.set(key, {
            registry,
            repository,
            digest,
            regions: { ...known?.regions, [region]: at },
            updatedAt: now,
            version: nextEtag(),
          });
        }),
      listChangedSince: (since) =>
        reachable(() =>
          [...deletions.values()]
            .filter((d) => d.updatedAt !== null && d.updatedAt >= since)
            .map(({ registry, repository, digest, regions }) =>
              copy({ registry, repository, digest, regions }),
            ),
        ),
    },

    registries: {
      getRegions: (registry) =>
        reachable(() => {
          const found = registries.get(registry);
          return found && copy(found);
        }),
      putRegions: (registry, regions, at) =>
        reachable(() => {
          registries.set(registry, { regions: [...regions], updatedAt: at });
        }),
      listChangedSince: (since) =>
        reachable(() =>
          [...registries.entries()].filter(([, r]) => r.updatedAt >= since).map(([name]) => name),
        ),
    },

    events: {
      add: (entry, recordedAt) =>
        reachable(() => {
          if (events.has(entry.event.id)) return;
          events.set(entry.event.id, {
            event: copy(entry.event),
            ...(entry.acrPayload === undefined ? {} : { acrPayload: copy(entry.acrPayload) }),
            recordedAt,
            sortKey: `${recordedAt}|${entry.event.id}`,
          });
        }),
      get: (id) =>
        reachable(() => {
          const found = events.get(id);
          if (!found) return undefined;
          const { sortKey: _sortKey, ...stored } = copy(found);
          return stored;
        }),
      restamp: (id, recordedAt) =>
        reachable(() => {
          const found = events.get(id);
          if (!found || found.recordedAt >= recordedAt) return;
          events.set(id, { ...found, recordedAt, sortKey: `${recordedAt}|${id}` });
        }),
      list: async (after, limit, recordedBefore) => {
        // The cursor is checked before the store is reached, as the Cosmos adapter does.
        const afterKey = after === undefined ? '' : sortKeyAfter(after);
        return reachable(() => ({
          items: inFeedOrder()
            .filter(
              (e) =>
                e.sortKey > afterKey &&
                (recordedBefore === undefined || e.sortKey < recordedBefore),
            )
            .slice(0, Math.floor(limit))
            .map(({ sortKey, ...stored }) => ({ ...copy(stored), cursor: toCursor(sortKey) })),
        }));
      },
      latest: (limit, filter) =>
        reachable(() =>
          inFeedOrder()
            .filter(
              (e) =>
                filter?.registry === undefined ||
                e.event.source === registrySource(filter.registry),
            )
            .reverse()
            .slice(0, Math.floor(limit))
            .map(({ sortKey: _sortKey, ...stored }) => copy(stored)),
        ),
    },

    subscriptions: {
      create: (subscription) =>
        reachable(() => {
          // Cosmos DB answers 409 to a second create, which the adapter reports as unavailable.
          if (subscriptions.has(subscription.id)) {
            throw new StoreUnavailableError('Cosmos DB write failed: status 409');
          }
          subscriptions.set(subscription.id, copy(subscription));
        }),
      get: (id) => reachable(() => copy(subscriptions.get(id))),
      list: () =>
        reachable(() =>
          [...subscriptions.values()]
            .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0))
            .map(copy),
        ),
      delete: (id) => reachable(() => subscriptions.delete(id)),
      disable: (id, reason) =>
        reachable(() => {
          const found = subscriptions.get(id);
          if (found) subscriptions.set(id, { ...found, enabled: false, disabledReason: reason });
        }),
    },

    deliveries: {
      create: (record) =>
        reachable(() => {
          const key = deliveryKey(record.eventId, record.subscriptionId);
          if (!deliveries.has(key)) deliveries.set(key, { value: copy(record), etag: nextEtag() });
        }),
      listForEvent: (eventId) =>
        reachable(() =>
          [...deliveries.values()]
            .filter((d) => d.value.eventId === eventId)
            .map((d) => ({ record: copy(d.value), etag: d.etag })),
        ),
      listDue: (now, limit) =>
        reachable(() =>
          [...deliveries.values()]
            .filter(
              (d) =>
                d.value.state === 'pending' &&
                d.value.nextAttemptAt !== null &&
                d.value.nextAttemptAt <= now,
            )
            .sort((a, b) =>
              (a.value.nextAttemptAt ?? '') < (b.value.nextAttemptAt ?? '') ? -1 : 1,
            )
            .slice(0, Math.floor(limit))
            .map((d) => ({ record: copy(d.value), etag: d.etag })),
        ),
      save: (record, etag) =>
        reachable((): SaveResult => {
          const key = deliveryKey(record.eventId, record.subscriptionId);
          if (deliveries.get(key)?.etag !== etag) return { ok: false, reason: 'conflict' };
          const next = nextEtag();
          deliveries.set(key, { value: copy(record), etag: next });
          return { ok: true, etag: next };
        }),
    },

    approvals: {
      create: (record) =>
        reachable(() => {
          const key = approvalKey(record.registry, record.repository, record.id);
          if (approvals.has(key)) return false;
          approvals.set(key, { value: copy(record), etag: nextEtag() });
          return true;
        }),
      get: (registry, repository, id) =>
        reachable(() => {
          const found = approvals.get(approvalKey(registry, repository, id));
          return found && { record: copy(found.value), etag: found.etag };
        }),
      listWaiting: (registry, repository) =>
        reachable(() =>
          [...approvals.values()]
            .filter(
              (a) =>
                a.value.registry === registry &&
                a.value.repository === repository &&
                a.value.state === 'waiting',
            )
            .map((a) => ({ record: copy(a.value), etag: a.etag })),
        ),
      listDue: (now, limit) =>
        reachable(() =>
          [...approvals.values()]
            .filter(
              (a) =>
                a.value.state === 'waiting' ||
                (a.value.state === 'answering' &&
                  a.value.nextAttemptAt !== null &&
                  a.value.nextAttemptAt <= now),
            )
            .slice(0, Math.floor(limit))
            .map((a) => ({ record: copy(a.value), etag: a.etag })),
        ),
      save: (record, etag) =>
        reachable((): SaveResult => {
          const key = approvalKey(record.registry, record.repository, record.id);
          if (approvals.get(key)?.etag !== etag) return { ok: false, reason: 'conflict' };
          const next = nextEtag();
          approvals.set(key, { value: copy(record), etag: next });
          return { ok: true, etag: next };
        }),
    },

    githubEnvironments: {
      get: (owner, repo, environment) =>
        reachable(() =>
          copy(environments.get(`${owner.toLowerCase()}/${repo.toLowerCase()}/${environment}`)),
        ),
      put: (mapping) =>
        reachable(() => {
          environments.set(
            `${mapping.owner.toLowerCase()}/${mapping.repo.toLowerCase()}/${mapping.environment}`,
            copy(mapping),
          );
        }),
    },
  };
}
