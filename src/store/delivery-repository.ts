// Deliveries: one item per (event, subscription), claimed and updated with ETag conditions.
import type { Container } from '@azure/cosmos';
import type { DeliveryRecord, DeliveryRepository, StoredDelivery } from '../app/ports';
import { createIdempotent, guard, parse, readEach, replaceIfMatch } from './cosmos-errors';
import { deliveryDocumentSchema } from './documents';
import { deliveryId, legacyDeliveryId, legacyDeliveryPartition, tagPartition } from './ids';

/** Beside the event's tag; one opened before deliveries lived there stays where it was. */
export const deliveryDocument = (record: DeliveryRecord) => ({
  ...(record.registry !== undefined && record.repository !== undefined
    ? {
        id: deliveryId(record.eventId, record.subscriptionId),
        pk: tagPartition(record.registry, record.repository),
      }
    : {
        id: legacyDeliveryId(record.subscriptionId),
        pk: legacyDeliveryPartition(record.eventId),
      }),
  type: 'delivery' as const,
  ...record,
});

const fromDocument = (raw: unknown): StoredDelivery => {
  const {
    id: _id,
    pk: _pk,
    type: _type,
    _etag,
    ...record
  } = parse(deliveryDocumentSchema, raw, 'delivery');
  return { record, etag: _etag };
};

export function makeDeliveryRepository(container: () => Promise<Container>): DeliveryRepository {
  return {
    create: (record) =>
      guard('write', async () => {
        const c = await container();
        await createIdempotent(() => c.items.create(deliveryDocument(record)));
      }),
    listForEvent: (eventId) =>
      guard('query', async () => {
        const c = await container();
        // Only the event id is known here (an event's page, a redelivery): a query, wherever they live.
        const { resources } = await c.items
          .query<unknown>({
            query: "SELECT * FROM c WHERE c.type = 'delivery' AND c.eventId = @eventId",
            parameters: [{ name: '@eventId', value: eventId }],
          })
          .fetchAll();
        return readEach(resources, fromDocument);
      }),
    listDue: (now, limit) =>
      guard('query', async () => {
        const c = await container();
        const { resources } = await c.items
          .query<unknown>({
            query: `SELECT TOP ${Math.floor(limit)} * FROM c WHERE c.type = 'delivery' AND c.state = 'pending' AND c.nextAttemptAt <= @now ORDER BY c.nextAttemptAt ASC`,
            parameters: [{ name: '@now', value: now }],
          })
          .fetchAll();
        return readEach(resources, fromDocument);
      }),
    save: (record, etag) =>
      guard('write', async () => replaceIfMatch(await container(), deliveryDocument(record), etag)),
  };
}
