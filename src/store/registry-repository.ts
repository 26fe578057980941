// A registry's required regions, one small item per registry.
import type { Container, ItemDefinition } from '@azure/cosmos';
import type { RegistryRepository } from '../app/ports';
import { guard, parse } from './cosmos-errors';
import { registryDocumentSchema } from './documents';
import { registryPartition } from './ids';

export function makeRegistryRepository(container: () => Promise<Container>): RegistryRepository {
  return {
    getRegions: (registry) =>
      guard('read', async () => {
        const c = await container();
        const response = await c
          .item('regions', registryPartition(registry))
          .read<ItemDefinition>();
        if (response.statusCode === 404 || !response.resource) return undefined;
        const doc = parse(registryDocumentSchema, response.resource, 'registry');
        return { regions: doc.regions, updatedAt: doc.updatedAt };
      }),
    listChangedSince: (since) =>
      guard('query', async () => {
        const c = await container();
        const { resources } = await c.items
          .query<{ registry: string }>({
            query: "SELECT c.registry FROM c WHERE c.type = 'registry' AND c.updatedAt >= @since",
            parameters: [{ name: '@since', value: since }],
          })
          .fetchAll();
        return resources.map((r) => r.registry);
      }),
    putRegions: (registry, regions, at) =>
      guard('write', async () => {
        const c = await container();
        await c.items.upsert({
          id: 'regions',
          pk: registryPartition(registry),
          type: 'registry',
          registry,
          regions,
          updatedAt: at,
        });
      }),
  };
}
