// The Cosmos DB adapter: the only module that imports @azure/cosmos. Conflicts come back as values.
import { CosmosClient, ErrorResponse, type Container, type ItemDefinition } from '@azure/cosmos';
import { DefaultAzureCredential } from '@azure/identity';
import type { z } from 'zod';
import type {
  EventRepository,
  RegistryRepository,
  SaveResult,
  Store,
  StoredTag,
  TagListQuery,
  TagRecord,
  TagRepository,
} from '../app/ports';
import { StoreUnavailableError } from '../app/ports';
import type { ReplicatedEvent } from '../events/replicated-event';
import { keyOf, knownDigests, type TagKey } from '../replication/tag-state';
import type { Instant } from '../replication/timestamp';
import { instantFromDate } from '../replication/timestamp';
import {
  eventDocumentSchema,
  registryDocumentSchema,
  tagDocumentSchema,
  type TagDocument,
} from './documents';
import { EVENTS_PARTITION, registryPartition, tagId, tagPartition } from './ids';

export interface CosmosSettings {
  endpoint: string;
  key: string | undefined;
  database: string;
  container: string;
}

/** Only what is filtered or sorted on is indexed; observations and outbox are never queried. */
export const INDEXING_POLICY = {
  indexingMode: 'consistent' as const,
  automatic: true,
  includedPaths: [
    { path: '/type/?' },
    { path: '/registry/?' },
    { path: '/repository/?' },
    { path: '/status/?' },
    { path: '/digests/[]/?' },
    { path: '/updatedAt/?' },
  ],
  excludedPaths: [{ path: '/*' }, { path: '/"_etag"/?' }],
};

export function createCosmosClient(settings: CosmosSettings): CosmosClient {
  // The embedded server speaks plain HTTP on loopback and has no regional endpoints to discover.
  const local = new URL(settings.endpoint).protocol === 'http:';
  return new CosmosClient({
    endpoint: settings.endpoint,
    ...(settings.key ? { key: settings.key } : { aadCredentials: new DefaultAzureCredential() }),
    connectionPolicy: { enableEndpointDiscovery: !local, requestTimeout: 10_000 },
    userAgentSuffix: 'acr-replication-gate',
  });
}

/** Creates the database and container when missing; partitioned by `/pk`. */
export async function ensureContainer(
  client: CosmosClient,
  settings: CosmosSettings,
): Promise<Container> {
  // createIfNotExists is read-then-create: instances starting together race, and the loser sees 409.
  for (let attempt = 1; ; attempt++) {
    try {
      const { database } = await client.databases.createIfNotExists({ id: settings.database });
      const { container } = await database.containers.createIfNotExists({
        id: settings.container,
        partitionKey: { paths: ['/pk'] },
        indexingPolicy: INDEXING_POLICY,
      });
      return container;
    } catch (error) {
      if (statusOf(error) !== 409 || attempt >= 5) throw error;
    }
  }
}

function statusOf(error: unknown): number | undefined {
  if (!(error instanceof ErrorResponse) && (typeof error !== 'object' || error === null))
    return undefined;
  const { statusCode, code } = error as { statusCode?: unknown; code?: unknown };
  if (typeof statusCode === 'number') return statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** Anything but an expected status is the store being unavailable (timeouts, 5xx, throttling, network). */
async function guard<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof StoreUnavailableError) throw error;
    const status = statusOf(error);
    const detail = status === undefined ? String((error as Error).message) : `status ${status}`;
    throw new StoreUnavailableError(`Cosmos DB ${what} failed: ${detail}`, { cause: error });
  }
}

function parse<T>(schema: z.ZodType<T>, doc: unknown, what: string): T {
  const parsed = schema.safeParse(doc);
  if (!parsed.success) {
    throw new StoreUnavailableError(
      `stored ${what} is malformed: ${parsed.error.issues[0]?.message}`,
    );
  }
  return parsed.data;
}

function toTagDocument(record: TagRecord): Omit<TagDocument, '_etag'> {
  const { state, evaluation } = record;
  return {
    id: tagId(state),
    pk: tagPartition(state.registry, state.repository),
    type: 'tag',
    registry: state.registry,
    repository: state.repository,
    tag: state.tag,
    ...(state.untaggedDigest === undefined ? {} : { untaggedDigest: state.untaggedDigest }),
    observations: state.observations,
    completions: state.completions,
    outbox: record.outbox,
    digest: evaluation.digest,
    status: evaluation.status,
    regions: evaluation.regions,
    requiredRegions: evaluation.requiredRegions,
    missingRegions: evaluation.missingRegions,
    pushedAt: evaluation.pushedAt,
    replicatedAt: evaluation.replicatedAt,
    digests: knownDigests(state),
    updatedAt: record.updatedAt,
  };
}

function fromTagDocument(raw: unknown): StoredTag {
  const doc = parse(tagDocumentSchema, raw, 'tag');
  const key: TagKey = {
    registry: doc.registry,
    repository: doc.repository,
    tag: doc.tag,
    ...(doc.untaggedDigest === undefined ? {} : { untaggedDigest: doc.untaggedDigest }),
  };
  return {
    etag: doc._etag,
    record: {
      state: { ...key, observations: doc.observations, completions: doc.completions },
      evaluation: {
        digest: doc.digest,
        status: doc.status,
        regions: doc.regions,
        requiredRegions: doc.requiredRegions,
        missingRegions: doc.missingRegions,
        pushedAt: doc.pushedAt,
        replicatedAt: doc.replicatedAt,
        newCompletion: null,
      },
      outbox: doc.outbox,
      updatedAt: doc.updatedAt,
    },
  };
}

function makeTagRepository(container: () => Promise<Container>): TagRepository {
  return {
    get: (key) =>
      guard('read', async () => {
        const c = await container();
        const response = await c
          .item(tagId(key), tagPartition(key.registry, key.repository))
          .read<ItemDefinition>();
        return response.statusCode === 404 || !response.resource
          ? undefined
          : fromTagDocument(response.resource);
      }),

    save: (record, expected) =>
      guard('write', async (): Promise<SaveResult> => {
        const c = await container();
        const doc = toTagDocument(record);
        try {
          const response =
            expected === 'absent'
              ? await c.items.create(doc)
              : await c.item(doc.id, doc.pk).replace(doc, {
                  accessCondition: { type: 'IfMatch', condition: expected.etag },
                });
          return { ok: true, etag: response.etag };
        } catch (error) {
          // 409: someone created it first; 412: someone wrote since we read. Both mean: read again.
          const status = statusOf(error);
          if (status === 409 || status === 412) return { ok: false, reason: 'conflict' };
          throw error;
        }
      }),

    findByDigest: (registry, repository, digest) =>
      guard('query', async () => {
        const c = await container();
        const { resources } = await c.items
          .query<unknown>(
            {
              query:
                "SELECT * FROM c WHERE c.pk = @pk AND c.type = 'tag' AND ARRAY_CONTAINS(c.digests, @digest)",
              parameters: [
                { name: '@pk', value: tagPartition(registry, repository) },
                { name: '@digest', value: digest },
              ],
            },
            { partitionKey: tagPartition(registry, repository) },
          )
          .fetchAll();
        return resources.map(fromTagDocument);
      }),

    list: (query: TagListQuery) =>
      guard('query', async () => {
        const c = await container();
        const filters = ["c.type = 'tag'", 'c.registry = @registry'];
        const parameters = [{ name: '@registry', value: query.registry }];
        if (query.repository !== undefined) {
          filters.push('c.repository = @repository');
          parameters.push({ name: '@repository', value: query.repository });
        }
        if (query.status !== undefined) {
          filters.push('c.status = @status');
          parameters.push({ name: '@status', value: query.status });
        }
        const iterator = c.items.query<unknown>(
          {
            query: `SELECT * FROM c WHERE ${filters.join(' AND ')} ORDER BY c.updatedAt DESC`,
            parameters,
          },
          {
            maxItemCount: query.pageSize,
            ...(query.continuationToken ? { continuationToken: query.continuationToken } : {}),
            ...(query.repository !== undefined
              ? { partitionKey: tagPartition(query.registry, query.repository) }
              : {}),
          },
        );
        const page = await iterator.fetchNext();
        return {
          items: page.resources.map((r) => fromTagDocument(r).record),
          continuationToken: page.continuationToken ?? null,
        };
      }),

    listOpen: (registry) => ({
      async *[Symbol.asyncIterator]() {
        const c = await guard('connect', container);
        const iterator = c.items.query<unknown>({
          query:
            "SELECT * FROM c WHERE c.type = 'tag' AND c.registry = @registry AND c.status = 'replicating'",
          parameters: [{ name: '@registry', value: registry }],
        });
        while (iterator.hasMoreResults()) {
          const page = await guard('query', () => iterator.fetchNext());
          for (const raw of page.resources) yield keyOf(fromTagDocument(raw).record.state);
        }
      },
    }),
  };
}

function makeRegistryRepository(container: () => Promise<Container>): RegistryRepository {
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

function makeEventRepository(
  container: () => Promise<Container>,
  now: () => Instant,
): EventRepository {
  return {
    add: (event: ReplicatedEvent) =>
      guard('write', async () => {
        const c = await container();
        try {
          await c.items.create({
            id: event.id,
            pk: EVENTS_PARTITION,
            type: 'event',
            event,
            recordedAt: now(),
          });
        } catch (error) {
          if (statusOf(error) !== 409) throw error; // already stored: idempotent
        }
      }),
    get: (id) =>
      guard('read', async () => {
        const c = await container();
        const response = await c.item(id, EVENTS_PARTITION).read<ItemDefinition>();
        if (response.statusCode === 404 || !response.resource) return undefined;
        return parse(eventDocumentSchema, response.resource, 'event').event;
      }),
  };
}

/**
 * The store over one container. The container is created on first use, and a failed attempt is
 * forgotten so the next request tries again instead of failing forever.
 */
export function makeCosmosStore(client: CosmosClient, settings: CosmosSettings): Store {
  let ready: Promise<Container> | undefined;
  const container = (): Promise<Container> => {
    ready ??= ensureContainer(client, settings).catch((error: unknown) => {
      ready = undefined;
      throw error;
    });
    return ready;
  };
  const now = () => instantFromDate(new Date());
  return {
    tags: makeTagRepository(container),
    registries: makeRegistryRepository(container),
    events: makeEventRepository(container, now),
    ping: () =>
      guard('health check', async () => {
        const c = await container();
        await c.read();
      }),
  };
}
