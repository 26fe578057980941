// Deliveries: one item per (event, subscription), claimed and updated with ETag conditions.
import type { Container } from '@azure/cosmos';
import type { DeliveryRecord, DeliveryRepository, StoredDelivery } from '../app/ports';
import { createIdempotent, guard, parse, readEach, replaceIfMatch } from './cosmos-errors';
import { deliveryDocumentSchema } from './documents';
import { deliveryId, deliveryPartition } from './ids';

const toDocument = (record: DeliveryRecord) => ({
  id: deliveryId(record.subscriptionId),
  pk: deliveryPartition(record.eventId),
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
        await createIdempotent(() => c.items.create(toDocument(record)));
      }),
    listForEvent: (eventId) =>
      guard('query', async () => {
        const c = await container();
        const pk = deliveryPartition(eventId);
        const { resources } = await c.items
          .query<unknown>(
            {
              query: "SELECT * FROM c WHERE c.pk = @pk AND c.type = 'delivery'",
              parameters: [{ name: '@pk', value: pk }],
            },
            { partitionKey: pk },
          )
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
      guard('write', async () => replaceIfMatch(await container(), toDocument(record), etag)),
  };
}
