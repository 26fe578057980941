// Indexes read from the registry (immutable, so written once) and the arrivals of their children.
import type { Container, ItemDefinition } from '@azure/cosmos';
import type { ImageRepository } from '../app/ports';
import type { Observation, TagKey } from '../replication/tag-state';
import { guard, parse } from './cosmos-errors';
import { indexDocumentSchema } from './documents';
import { encodeId, tagPartition } from './ids';

export const indexId = (digest: string): string => `index:${encodeId(digest)}`;

const present = (o: Observation): boolean =>
  o.lastSeen !== undefined && (o.deletedAt === undefined || o.lastSeen > o.deletedAt);

export function makeImageRepository(container: () => Promise<Container>): ImageRepository {
  return {
    getIndex: (registry, repository, digest) =>
      guard('read', async () => {
        const c = await container();
        const response = await c
          .item(indexId(digest), tagPartition(registry, repository))
          .read<ItemDefinition>();
        if (response.statusCode === 404 || !response.resource) return undefined;
        const doc = parse(indexDocumentSchema, response.resource, 'index');
        return { mediaType: doc.mediaType, children: doc.children };
      }),

    putIndex: (registry, repository, digest, index, at) =>
      guard('write', async () => {
        const c = await container();
        // Upsert: instances that read the same index concurrently write the same content.
        await c.items.upsert({
          id: indexId(digest),
          pk: tagPartition(registry, repository),
          type: 'index',
          registry,
          repository,
          digest,
          mediaType: index.mediaType,
          children: index.children,
          childDigests: index.children.map((child) => child.digest),
          readAt: at,
        });
      }),

    findParents: (registry, repository, child) =>
      guard('query', async () => {
        const c = await container();
        const pk = tagPartition(registry, repository);
        const { resources } = await c.items
          .query<{ digest: string }>(
            {
              query:
                "SELECT c.digest FROM c WHERE c.pk = @pk AND c.type = 'index' AND ARRAY_CONTAINS(c.childDigests, @child)",
              parameters: [
                { name: '@pk', value: pk },
                { name: '@child', value: child },
              ],
            },
            { partitionKey: pk },
          )
          .fetchAll();
        return resources.map((r) => r.digest);
      }),

    childArrivals: (registry, repository, digests) =>
      guard('query', async () => {
        if (digests.length === 0) return {};
        const c = await container();
        const pk = tagPartition(registry, repository);
        // Children are pushed by digest: their webhooks are stored as untagged rounds.
        const { resources } = await c.items
          .query<{
            untaggedDigest: string;
            observations: Record<string, Record<string, Observation>>;
          }>(
            {
              query:
                "SELECT c.untaggedDigest, c.observations FROM c WHERE c.pk = @pk AND c.type = 'tag' AND IS_NULL(c.tag) AND ARRAY_CONTAINS(@digests, c.untaggedDigest)",
              parameters: [
                { name: '@pk', value: pk },
                { name: '@digests', value: [...digests] },
              ],
            },
            { partitionKey: pk },
          )
          .fetchAll();
        const arrived: Record<string, string[]> = {};
        for (const row of resources) {
          for (const [region, byDigest] of Object.entries(row.observations)) {
            const o = byDigest[row.untaggedDigest];
            if (o && present(o)) (arrived[region] ??= []).push(row.untaggedDigest);
          }
        }
        for (const list of Object.values(arrived)) list.sort();
        return arrived;
      }),

    listRetries: (now, limit) =>
      guard('retry query', async () => {
        const c = await container();
        const { resources } = await c.items
          .query<TagKey & { untaggedDigest?: string }>({
            query: `SELECT TOP ${limit} c.registry, c.repository, c.tag, c.untaggedDigest FROM c WHERE c.type = 'tag' AND c.status = 'replicating' AND IS_DEFINED(c.image.retryAt) AND c.image.retryAt <= @now`,
            parameters: [{ name: '@now', value: now }],
          })
          .fetchAll();
        return resources.map((r) =>
          r.untaggedDigest === undefined
            ? { registry: r.registry, repository: r.repository, tag: r.tag }
            : { ...r },
        );
      }),
  };
}
