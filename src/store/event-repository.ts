// The event store: one item per emitted event, in the order it was recorded, for the feed.
import type { Container, ItemDefinition } from '@azure/cosmos';
import type { EventRepository } from '../app/ports';
import type { StoredEvent } from '../events/types';
import { createIdempotent, guard, parse, readEach } from './cosmos-errors';
import { eventDocumentSchema } from './documents';
import { EVENTS_PARTITION } from './ids';

const toStored = (raw: unknown): StoredEvent & { sortKey: string } => {
  const doc = parse(eventDocumentSchema, raw, 'event');
  return {
    event: doc.event,
    ...(doc.acrPayload === undefined ? {} : { acrPayload: doc.acrPayload }),
    recordedAt: doc.recordedAt,
    sortKey: doc.sortKey,
  };
};

/** The cursor is opaque to pollers; inside it is the sort key of the last event they saw. */
const toCursor = (sortKey: string): string => Buffer.from(sortKey, 'utf8').toString('base64url');
export const fromCursor = (cursor: string): string | undefined => {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  return /^\d{4}-\d{2}-\d{2}T[\d:.]+Z\|[\w-]+$/.test(text) ? text : undefined;
};

export function makeEventRepository(container: () => Promise<Container>): EventRepository {
  return {
    add: (entry, recordedAt) =>
      guard('write', async () => {
        const c = await container();
        await createIdempotent(() =>
          c.items.create({
            id: entry.event.id,
            pk: EVENTS_PARTITION,
            type: 'event',
            event: entry.event,
            ...(entry.acrPayload === undefined ? {} : { acrPayload: entry.acrPayload }),
            recordedAt,
            sortKey: `${recordedAt}|${entry.event.id}`,
          }),
        );
      }),

    get: (id) =>
      guard('read', async () => {
        const c = await container();
        const response = await c.item(id, EVENTS_PARTITION).read<ItemDefinition>();
        if (response.statusCode === 404 || !response.resource) return undefined;
        const { sortKey: _sortKey, ...stored } = toStored(response.resource);
        return stored;
      }),

    restamp: (id, recordedAt) =>
      guard('write', async () => {
        const c = await container();
        const response = await c.item(id, EVENTS_PARTITION).read<ItemDefinition>();
        if (response.statusCode === 404 || !response.resource) return;
        const doc = parse(eventDocumentSchema, response.resource, 'event');
        if (doc.recordedAt >= recordedAt) return;
        await c.item(id, EVENTS_PARTITION).replace({
          ...response.resource,
          recordedAt,
          sortKey: `${recordedAt}|${id}`,
        });
      }),

    list: (after, limit, recordedBefore) =>
      guard('query', async () => {
        const c = await container();
        // `recordedAt|id` < `cutoff` exactly when recordedAt < cutoff (fixed-width instants).
        const settled = recordedBefore === undefined ? '' : ' AND c.sortKey < @before';
        const { resources } = await c.items
          .query<unknown>(
            {
              query: `SELECT TOP ${Math.floor(limit)} * FROM c WHERE c.pk = @pk AND c.type = 'event' AND c.sortKey > @after${settled} ORDER BY c.sortKey ASC`,
              parameters: [
                { name: '@pk', value: EVENTS_PARTITION },
                { name: '@after', value: after ?? '' },
                ...(recordedBefore === undefined
                  ? []
                  : [{ name: '@before', value: recordedBefore }]),
              ],
            },
            { partitionKey: EVENTS_PARTITION },
          )
          .fetchAll();
        return {
          items: readEach(resources, (raw) => {
            const { sortKey, ...stored } = toStored(raw);
            return { ...stored, cursor: toCursor(sortKey) };
          }),
        };
      }),
  };
}
