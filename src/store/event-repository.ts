// The event store: one item per emitted event, in the order it was recorded, for the feed.
import type { Container, ItemDefinition } from '@azure/cosmos';
import type { EventRepository } from '../app/ports';
import type { StoredEvent } from '../events/types';
import { createIdempotent, guard, parse, readEach } from './cosmos-errors';
import { eventDocumentSchema } from './documents';
import { registrySource, sortKeyAfter, toCursor } from './event-cursor';
import { repositoryOf, type OutboxEntry } from '../events/replicated-event';
import type { Instant } from '../replication/timestamp';
import { EVENTS_PARTITION, tagPartition } from './ids';

/** An event lives beside its tag (every event names the tag's registry and repository). */
export function eventDocument(entry: OutboxEntry, recordedAt: Instant) {
  const about = repositoryOf(entry.event);
  return {
    id: entry.event.id,
    pk: about ? tagPartition(about.registry, about.repository) : EVENTS_PARTITION,
    type: 'event' as const,
    event: entry.event,
    ...(entry.acrPayload === undefined ? {} : { acrPayload: entry.acrPayload }),
    recordedAt,
    sortKey: `${recordedAt}|${entry.event.id}`,
  };
}

const toStored = (raw: unknown): StoredEvent & { sortKey: string } => {
  const doc = parse(eventDocumentSchema, raw, 'event');
  return {
    event: doc.event,
    ...(doc.acrPayload === undefined ? {} : { acrPayload: doc.acrPayload }),
    recordedAt: doc.recordedAt,
    sortKey: doc.sortKey,
  };
};

/**
 * An event by id wherever it lives (beside its tag, or in the partition events had before): a
 * query, as only the id is known. Rare: an event's page and a late write's restamp.
 */
async function byId(c: Container, id: string): Promise<ItemDefinition | undefined> {
  const { resources } = await c.items
    .query<ItemDefinition>({
      query: "SELECT * FROM c WHERE c.type = 'event' AND c.id = @id",
      parameters: [{ name: '@id', value: id }],
    })
    .fetchAll();
  return resources[0];
}

export function makeEventRepository(container: () => Promise<Container>): EventRepository {
  return {
    add: (entry, recordedAt) =>
      guard('write', async () => {
        const c = await container();
        await createIdempotent(() => c.items.create(eventDocument(entry, recordedAt)));
      }),

    get: (id) =>
      guard('read', async () => {
        const found = await byId(await container(), id);
        if (!found) return undefined;
        const { sortKey: _sortKey, ...stored } = toStored(found);
        return stored;
      }),

    restamp: (id, recordedAt) =>
      guard('write', async () => {
        const c = await container();
        const found = await byId(c, id);
        if (!found) return;
        const doc = parse(eventDocumentSchema, found, 'event');
        if (doc.recordedAt >= recordedAt) return;
        await c.item(id, doc.pk).replace({ ...found, recordedAt, sortKey: `${recordedAt}|${id}` });
      }),

    // The feed reads every partition: an event's partition is where its writer put it.
    list: async (after, limit, recordedBefore) => {
      // Before the query: a cursor the store did not issue is the caller's mistake, not an outage.
      const afterKey = after === undefined ? '' : sortKeyAfter(after);
      return guard('query', async () => {
        const c = await container();
        // `recordedAt|id` < `cutoff` exactly when recordedAt < cutoff (fixed-width instants).
        const settled = recordedBefore === undefined ? '' : ' AND c.sortKey < @before';
        const { resources } = await c.items
          .query<unknown>({
            query: `SELECT TOP ${Math.floor(limit)} * FROM c WHERE c.type = 'event' AND c.sortKey > @after${settled} ORDER BY c.sortKey ASC`,
            parameters: [
              { name: '@after', value: afterKey },
              ...(recordedBefore === undefined ? [] : [{ name: '@before', value: recordedBefore }]),
            ],
          })
          .fetchAll();
        return {
          items: readEach(resources, (raw) => {
            const { sortKey, ...stored } = toStored(raw);
            return { ...stored, cursor: toCursor(sortKey) };
          }),
        };
      });
    },

    latest: (limit, filter) =>
      guard('query', async () => {
        const c = await container();
        const registry = filter?.registry;
        const { resources } = await c.items
          .query<unknown>({
            query: `SELECT TOP ${Math.floor(limit)} * FROM c WHERE c.type = 'event'${registry === undefined ? '' : ' AND c.event.source = @source'} ORDER BY c.sortKey DESC`,
            parameters:
              registry === undefined ? [] : [{ name: '@source', value: registrySource(registry) }],
          })
          .fetchAll();
        return readEach(resources, (raw) => {
          const { sortKey: _sortKey, ...stored } = toStored(raw);
          return stored;
        });
      }),
  };
}
