// Tags in Cosmos DB: one item per tag, replaced only if its ETag still matches.
import type { Container, ItemDefinition, JSONObject, OperationInput } from '@azure/cosmos';
import {
  InvalidContinuationTokenError,
  type Decided,
  type SeenDeletes,
  type TagSaveResult,
  type StoredTag,
  type TagListQuery,
  type TagRecord,
  type TagRepository,
} from '../app/ports';
import { knownDigests, roundKey, type TagKey } from '../replication/tag-state';
import { guard, isConflict, parse, readEach, statusOf } from './cosmos-errors';
import { deletesCheck } from './deletion-repository';
import { deliveryDocument } from './delivery-repository';
import { tagDocumentSchema, type TagDocument } from './documents';
import { eventDocument } from './event-repository';
import { tagId, tagPartition } from './ids';

const NOTHING_DECIDED: Decided = { events: [], deliveries: [] };

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
    pushes: state.pushes,
    stalls: state.stalls,
    ...(state.retired === undefined ? {} : { retired: state.retired }),
    ...(state.retiredBefore === undefined ? {} : { retiredBefore: state.retiredBefore }),
    ...(state.image === undefined ? {} : { image: state.image }),
    outbox: record.outbox,
    arrivals: record.arrivals ?? {},
    outboxSize: record.outbox.length,
    digest: evaluation.digest,
    status: evaluation.status,
    regions: evaluation.regions,
    requiredRegions: evaluation.requiredRegions,
    missingRegions: evaluation.missingRegions,
    pushedAt: evaluation.pushedAt,
    replicatedAt: evaluation.replicatedAt,
    round: roundKey(evaluation),
    ...(evaluation.reason === undefined ? {} : { reason: evaluation.reason }),
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
      state: {
        ...key,
        observations: doc.observations,
        completions: doc.completions,
        pushes: doc.pushes,
        stalls: doc.stalls,
        ...(doc.retired === undefined ? {} : { retired: doc.retired }),
        ...(doc.retiredBefore === undefined ? {} : { retiredBefore: doc.retiredBefore }),
        ...(doc.image === undefined ? {} : { image: doc.image }),
      },
      evaluation: {
        digest: doc.digest,
        status: doc.status,
        regions: doc.regions,
        requiredRegions: doc.requiredRegions,
        missingRegions: doc.missingRegions,
        pushedAt: doc.pushedAt,
        replicatedAt: doc.replicatedAt,
        newCompletion: null,
        ...(doc.reason === undefined ? {} : { reason: doc.reason }),
      },
      outbox: doc.outbox,
      arrivals: doc.arrivals,
      updatedAt: doc.updatedAt,
    },
  };
}

const KEY_FIELDS = 'c.registry, c.repository, c.tag, c.untaggedDigest';

const toKey = (row: {
  registry: string;
  repository: string;
  tag: string | null;
  untaggedDigest?: string;
}): TagKey =>
  row.untaggedDigest === undefined
    ? { registry: row.registry, repository: row.repository, tag: row.tag }
    : { ...row };

/**
 * The tag and what its write decided, as one transactional batch in the tag's partition: the tag's
 * conditional write first, so a lost race stores nothing (Cosmos DB rolls the batch back; the
 * embedded server stops at the first failure and so applies nothing either). Events and
 * deliveries are upserts: their ids are stable, and storing one again is storing the same thing.
 */
async function saveWithDecided(
  c: Container,
  doc: ReturnType<typeof toTagDocument>,
  expected: { etag: string } | 'absent',
  decided: Decided,
  deletes: SeenDeletes | undefined,
): Promise<TagSaveResult> {
  const partitionKey = doc.pk;
  // Our documents are JSON by construction (they are validated when read back).
  const json = (value: object): JSONObject => value as JSONObject;
  const deliveries = decided.deliveries.map(deliveryDocument);
  // The deletes' check goes first: the embedded server stops at the first failure without undoing
  // what went before, so nothing the check refuses is ever applied, there or on Cosmos DB.
  const check = deletes && deletesCheck(doc.registry, doc.repository, deletes, doc.updatedAt);
  const operations: OperationInput[] = [
    ...(check ? [{ ...check, partitionKey, resourceBody: json(check.resourceBody) }] : []),
    expected === 'absent'
      ? { operationType: 'Create', partitionKey, resourceBody: json(doc) }
      : {
          operationType: 'Replace',
          partitionKey,
          id: doc.id,
          ifMatch: expected.etag,
          resourceBody: json(doc),
        },
    ...decided.events.map(({ entry, recordedAt }): OperationInput => ({
      operationType: 'Upsert',
      partitionKey,
      resourceBody: json({ ...eventDocument(entry, recordedAt), pk: partitionKey }),
    })),
    ...deliveries.map((delivery): OperationInput => ({
      operationType: 'Upsert',
      partitionKey,
      resourceBody: json({ ...delivery, pk: partitionKey }),
    })),
  ];
  let results;
  try {
    results = (await c.items.batch(operations, partitionKey)).result ?? [];
  } catch (error) {
    // Which operation failed is not known here: the caller reads the tag and the deletes again.
    if (isConflict(error) || (check && statusOf(error) === 404)) {
      return { ok: false, reason: 'conflict' };
    }
    throw error;
  }
  const checked = check ? results[0] : undefined;
  if (checked !== undefined && [404, 409, 412].includes(checked.statusCode)) {
    return { ok: false, reason: 'deletes-changed' };
  }
  const first = check ? 1 : 0;
  const tag = results[first];
  if (tag !== undefined && (tag.statusCode === 409 || tag.statusCode === 412)) {
    return { ok: false, reason: 'conflict' };
  }
  const failed = results.find((r) => r.statusCode >= 400);
  if (tag === undefined || failed !== undefined || results.length !== operations.length) {
    throw Object.assign(new Error(`batch write failed: ${failed?.statusCode ?? 'no result'}`), {
      statusCode: failed?.statusCode,
    });
  }
  const firstDelivery = first + 1 + decided.events.length;
  return {
    ok: true,
    etag: tag.eTag ?? '',
    deliveries: decided.deliveries.map((record, i) => ({
      record,
      etag: results[firstDelivery + i]?.eTag ?? '',
    })),
    ...(checked?.eTag === undefined ? {} : { deletesVersion: checked.eTag }),
  };
}

export function makeTagRepository(container: () => Promise<Container>): TagRepository {
  const keysWhere = (
    what: string,
    where: string,
    parameters: { name: string; value: string }[],
    limit: number,
  ) =>
    guard(what, async () => {
      const c = await container();
      const { resources } = await c.items
        .query<Parameters<typeof toKey>[0]>({
          query: `SELECT TOP ${limit} ${KEY_FIELDS} FROM c WHERE c.type = 'tag' AND ${where}`,
          parameters,
        })
        .fetchAll();
      return resources.map(toKey);
    });

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

    save: (record, expected, decided, deletes) =>
      guard('write', async (): Promise<TagSaveResult> => {
        const c = await container();
        const doc = toTagDocument(record);
        const alone = (decided?.events.length ?? 0) + (decided?.deliveries.length ?? 0) === 0;
        if (alone && deletes === undefined) {
          try {
            const response =
              expected === 'absent'
                ? await c.items.create(doc)
                : await c.item(doc.id, doc.pk).replace(doc, {
                    accessCondition: { type: 'IfMatch', condition: expected.etag },
                  });
            return { ok: true, etag: response.etag, deliveries: [] };
          } catch (error) {
            // Someone created it first, or wrote since we read: read again.
            if (isConflict(error)) return { ok: false, reason: 'conflict' };
            throw error;
          }
        }
        return saveWithDecided(c, doc, expected, decided ?? NOTHING_DECIDED, deletes);
      }),

    findByDigest: (registry, repository, digest) =>
      guard('query', async () => {
        const c = await container();
        const pk = tagPartition(registry, repository);
        const { resources } = await c.items
          .query<unknown>(
            {
              query:
                "SELECT * FROM c WHERE c.pk = @pk AND c.type = 'tag' AND ARRAY_CONTAINS(c.digests, @digest)",
              parameters: [
                { name: '@pk', value: pk },
                { name: '@digest', value: digest },
              ],
            },
            { partitionKey: pk },
          )
          .fetchAll();
        return readEach(resources, fromTagDocument);
      }),

    getMany: (registry, repository, tags) =>
      guard('query', async () => {
        if (tags.length === 0) return [];
        const c = await container();
        const pk = tagPartition(registry, repository);
        const ids = [...new Set(tags)].map((tag) => tagId({ tag }));
        if (ids.length === 1) {
          // A point read is cheaper than a query for the single image of most pods.
          const response = await c.item(ids[0] as string, pk).read<ItemDefinition>();
          return response.statusCode === 404 || !response.resource
            ? []
            : [fromTagDocument(response.resource)];
        }
        const { resources } = await c.items
          .query<unknown>(
            {
              query:
                "SELECT * FROM c WHERE c.pk = @pk AND c.type = 'tag' AND ARRAY_CONTAINS(@ids, c.id)",
              parameters: [
                { name: '@pk', value: pk },
                { name: '@ids', value: ids },
              ],
            },
            { partitionKey: pk },
          )
          .fetchAll();
        return resources.map(fromTagDocument);
      }),

    anyInRegistry: (registry) =>
      guard('query', async () => {
        const c = await container();
        const { resources } = await c.items
          .query<unknown>({
            query: "SELECT TOP 1 c.id FROM c WHERE c.type = 'tag' AND c.registry = @registry",
            parameters: [{ name: '@registry', value: registry }],
          })
          .fetchAll();
        return resources.length > 0;
      }),

    findByDigests: (registry, repository, digests) =>
      guard('query', async () => {
        if (digests.length === 0) return [];
        const c = await container();
        const pk = tagPartition(registry, repository);
        const unique = [...new Set(digests)];
        const { resources } = await c.items
          .query<unknown>(
            {
              query: `SELECT * FROM c WHERE c.pk = @pk AND c.type = 'tag' AND (${unique.map((_, i) => `ARRAY_CONTAINS(c.digests, @d${i})`).join(' OR ')})`,
              parameters: [
                { name: '@pk', value: pk },
                ...unique.map((digest, i) => ({ name: `@d${i}`, value: digest })),
              ],
            },
            { partitionKey: pk },
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
        const page = await c.items
          .query<unknown>(
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
          )
          .fetchNext()
          .catch((error: unknown) => {
            // Cosmos DB answers 400 to a continuation token it did not issue.
            if (query.continuationToken && statusOf(error) === 400) {
              throw new InvalidContinuationTokenError('not a continuation token of this query');
            }
            throw error;
          });
        return {
          items: readEach(page.resources, (r) => fromTagDocument(r).record),
          continuationToken: page.continuationToken ?? null,
        };
      }),

    listOpen: (registry) => ({
      async *[Symbol.asyncIterator]() {
        const c = await guard('connect', container);
        const iterator = c.items.query<Parameters<typeof toKey>[0]>({
          query: `SELECT ${KEY_FIELDS} FROM c WHERE c.type = 'tag' AND c.registry = @registry AND c.status = 'replicating'`,
          parameters: [{ name: '@registry', value: registry }],
        });
        while (iterator.hasMoreResults()) {
          const page = await guard('query', () => iterator.fetchNext());
          for (const row of page.resources) yield toKey(row);
        }
      },
    }),

    listWithOutbox: (limit) => keysWhere('outbox query', 'c.outboxSize > 0', [], limit),

    listStallCandidates: (pushedBefore, limit) =>
      keysWhere(
        'stall query',
        // Items written before rounds had a key (no c.round) are candidates; the rules decide.
        "c.status = 'replicating' AND c.pushedAt <= @before AND (NOT IS_DEFINED(c.round) OR NOT ARRAY_CONTAINS(c.stalls, c.round))",
        [{ name: '@before', value: pushedBefore }],
        limit,
      ),
  };
}
