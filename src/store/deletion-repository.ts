// Deletes per (repository, digest): one small item beside the repository's tags, merged under ETags.
import type { Container, ItemDefinition } from '@azure/cosmos';
import type { DeletionRepository } from '../app/ports';
import { StoreUnavailableError } from '../app/ports';
import { guard, isConflict, parse, readEach } from './cosmos-errors';
import { deletionDocumentSchema } from './documents';
import { deletionId, tagPartition } from './ids';

export function makeDeletionRepository(container: () => Promise<Container>): DeletionRepository {
  const read = async (c: Container, registry: string, repository: string, digest: string) => {
    const response = await c
      .item(deletionId(digest), tagPartition(registry, repository))
      .read<ItemDefinition>();
    return response.statusCode === 404 || !response.resource
      ? undefined
      : parse(deletionDocumentSchema, response.resource, 'deletion');
  };

  return {
    get: (registry, repository, digest) =>
      guard('read', async () => {
        const doc = await read(await container(), registry, repository, digest);
        return doc?.regions ?? {};
      }),

    listChangedSince: (since) =>
      guard('query', async () => {
        const c = await container();
        const { resources } = await c.items
          .query<unknown>({
            query: "SELECT * FROM c WHERE c.type = 'deletion' AND c.updatedAt >= @since",
            parameters: [{ name: '@since', value: since }],
          })
          .fetchAll();
        return readEach(resources, (raw) => {
          const { registry, repository, digest, regions } = parse(
            deletionDocumentSchema,
            raw,
            'deletion',
          );
          return { registry, repository, digest, regions };
        });
      }),

    record: (registry, repository, digest, region, at, now) =>
      guard('write', async () => {
        const c = await container();
        for (let attempt = 0; attempt < 10; attempt++) {
          const doc = await read(c, registry, repository, digest);
          const known = doc?.regions[region];
          if (known !== undefined && known >= at) return;
          const next = {
            id: deletionId(digest),
            pk: tagPartition(registry, repository),
            type: 'deletion' as const,
            registry,
            repository,
            digest,
            regions: { ...doc?.regions, [region]: at },
            updatedAt: now,
          };
          try {
            if (doc) {
              await c.item(next.id, next.pk).replace(next, {
                accessCondition: { type: 'IfMatch', condition: doc._etag },
              });
            } else {
              await c.items.create(next);
            }
            return;
          } catch (error) {
            if (!isConflict(error)) throw error;
          }
        }
        throw new StoreUnavailableError(
          `could not record the delete of ${digest} after 10 conflicts`,
        );
      }),
  };
}
