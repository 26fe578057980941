// Subscriptions: where events go. Few and small, so they share one partition.
import type { Container, ItemDefinition } from '@azure/cosmos';
import type { SubscriptionRepository } from '../app/ports';
import type { Subscription } from '../events/types';
import { guard, parse, readEach, statusOf } from './cosmos-errors';
import { subscriptionDocumentSchema } from './documents';
import { SUBSCRIPTIONS_PARTITION } from './ids';

const toSubscription = (raw: unknown): Subscription => {
  const {
    pk: _pk,
    type: _type,
    ...subscription
  } = parse(subscriptionDocumentSchema, raw, 'subscription');
  return subscription;
};

export function makeSubscriptionRepository(
  container: () => Promise<Container>,
): SubscriptionRepository {
  const read = async (id: string) => {
    const c = await container();
    const response = await c.item(id, SUBSCRIPTIONS_PARTITION).read<ItemDefinition>();
    return response.statusCode === 404 || !response.resource ? undefined : response.resource;
  };
  return {
    create: (subscription) =>
      guard('write', async () => {
        const c = await container();
        await c.items.create({
          ...subscription,
          pk: SUBSCRIPTIONS_PARTITION,
          type: 'subscription',
        });
      }),
    get: (id) =>
      guard('read', async () => {
        const raw = await read(id);
        return raw === undefined ? undefined : toSubscription(raw);
      }),
    list: () =>
      guard('query', async () => {
        const c = await container();
        const { resources } = await c.items
          .query<unknown>(
            {
              query:
                "SELECT * FROM c WHERE c.pk = @pk AND c.type = 'subscription' ORDER BY c.createdAt ASC",
              parameters: [{ name: '@pk', value: SUBSCRIPTIONS_PARTITION }],
            },
            { partitionKey: SUBSCRIPTIONS_PARTITION },
          )
          .fetchAll();
        return readEach(resources, toSubscription);
      }),
    delete: (id) =>
      guard('delete', async () => {
        const c = await container();
        try {
          await c.item(id, SUBSCRIPTIONS_PARTITION).delete();
          return true;
        } catch (error) {
          if (statusOf(error) === 404) return false;
          throw error;
        }
      }),
    disable: (id, reason) =>
      guard('write', async () => {
        const c = await container();
        // A patch, so it never races with anything but another disable.
        try {
          await c.item(id, SUBSCRIPTIONS_PARTITION).patch([
            { op: 'set', path: '/enabled', value: false },
            { op: 'set', path: '/disabledReason', value: reason },
          ]);
        } catch (error) {
          if (statusOf(error) !== 404) throw error;
        }
      }),
  };
}
