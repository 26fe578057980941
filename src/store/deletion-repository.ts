// Deletes per (repository, digest): one small item beside the repository's tags, merged under ETags.
import type { Container, ItemDefinition } from '@azure/cosmos';
import type { DeletionRepository, SeenDeletes } from '../app/ports';
import { StoreUnavailableError, noDeletesSeen } from '../app/ports';
import type { Instant } from '../replication/timestamp';
import { guard, isConflict, parse, readEach, statusOf } from './cosmos-errors';
import { deletionDocumentSchema, noDeletionDocumentSchema } from './documents';
import { deletionId, tagPartition } from './ids';

/** How long a write's proof that no delete was recorded is kept (see noDeletionDocumentSchema). */
export const NO_DELETION_TTL_SECONDS = 7 * 24 * 3600;

/** What a completing write stores where a deletion would be, when it saw none. */
export function noDeletionDocument(
  registry: string,
  repository: string,
  digest: string,
  now: Instant,
) {
  return {
    id: deletionId(digest),
    pk: tagPartition(registry, repository),
    type: 'no-deletion' as const,
    registry,
    repository,
    digest,
    updatedAt: now,
    ttl: NO_DELETION_TTL_SECONDS,
  };
}

/**
 * The write, in a completing tag's batch, that proves the digest's deletes are still as seen: it
 * fails (409 or 412, or 404 if what was seen expired) if a delete was recorded since. It stores
 * what was seen again, so it changes nothing but the version.
 */
export function deletesCheck(
  registry: string,
  repository: string,
  seen: SeenDeletes,
  now: Instant,
) {
  const doc =
    seen.updatedAt === null
      ? noDeletionDocument(registry, repository, seen.digest, now)
      : {
          id: deletionId(seen.digest),
          pk: tagPartition(registry, repository),
          type: 'deletion' as const,
          registry,
          repository,
          digest: seen.digest,
          regions: seen.regions,
          updatedAt: seen.updatedAt,
        };
  return seen.version === null
    ? { operationType: 'Create' as const, resourceBody: doc }
    : { operationType: 'Replace' as const, id: doc.id, ifMatch: seen.version, resourceBody: doc };
}

export function makeDeletionRepository(container: () => Promise<Container>): DeletionRepository {
  const read = async (
    c: Container,
    registry: string,
    repository: string,
    digest: string,
  ): Promise<SeenDeletes> => {
    const response = await c
      .item(deletionId(digest), tagPartition(registry, repository))
      .read<ItemDefinition>();
    const raw = response.resource;
    if (response.statusCode === 404 || !raw) return noDeletesSeen(digest);
    if ((raw as { type?: unknown }).type === 'no-deletion') {
      const doc = parse(noDeletionDocumentSchema, raw, 'deletion');
      return { ...noDeletesSeen(digest), version: doc._etag };
    }
    const doc = parse(deletionDocumentSchema, raw, 'deletion');
    return { digest, regions: doc.regions, version: doc._etag, updatedAt: doc.updatedAt };
  };

  return {
    get: (registry, repository, digest) =>
      guard('read', async () => read(await container(), registry, repository, digest)),

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
          const seen = await read(c, registry, repository, digest);
          const known = seen.regions[region];
          if (known !== undefined && known >= at) return;
          const next = {
            id: deletionId(digest),
            pk: tagPartition(registry, repository),
            type: 'deletion' as const,
            registry,
            repository,
            digest,
            regions: { ...seen.regions, [region]: at },
            updatedAt: now,
          };
          try {
            // A replace also changes the version a completing write may hold: that write is refused.
            if (seen.version !== null) {
              await c.item(next.id, next.pk).replace(next, {
                accessCondition: { type: 'IfMatch', condition: seen.version },
              });
            } else {
              await c.items.create(next);
            }
            return;
          } catch (error) {
            // 404: what was read expired (a no-deletion item) before the replace; read again.
            if (!isConflict(error) && statusOf(error) !== 404) throw error;
          }
        }
        throw new StoreUnavailableError(
          `could not record the delete of ${digest} after 10 conflicts`,
        );
      }),
  };
}
