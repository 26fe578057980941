// The shapes of stored documents, validated with zod whenever they are read back.
import { z } from 'zod';
import { SUBSCRIPTION_FORMATS } from '../events/types';
import { storedInstantSchema } from '../replication/timestamp';

const observationSchema = z.object({
  firstSeen: storedInstantSchema.optional(),
  lastSeen: storedInstantSchema.optional(),
  deletedAt: storedInstantSchema.optional(),
  seen: z.array(storedInstantSchema).optional(),
});

const regionViewSchema = z.object({
  region: z.string(),
  required: z.boolean(),
  status: z.enum(['arrived', 'reported', 'pending', 'stale', 'deleted']),
  digest: z.string().optional(),
  arrivedAt: storedInstantSchema.optional(),
  missing: z.array(z.string()).optional(),
});

const imageStateSchema = z.object({
  digest: z.string(),
  children: z.array(z.string()).optional(),
  reason: z.string().optional(),
  trustIndex: z.boolean().optional(),
  arrived: z.record(z.string(), z.array(z.string())),
  verify: z.boolean().optional(),
  confirmed: z.record(z.string(), storedInstantSchema),
  unconfirmed: z.record(z.string(), z.string()).optional(),
  attempts: z.number().int(),
  retryAt: storedInstantSchema.optional(),
});

/** An index's children, read once from the registry: an index is immutable. */
export const indexDocumentSchema = z.object({
  id: z.string(),
  pk: z.string(),
  type: z.literal('index'),
  registry: z.string(),
  repository: z.string(),
  digest: z.string(),
  mediaType: z.string(),
  children: z.array(
    z.object({ digest: z.string(), platform: z.string().optional(), attestation: z.boolean() }),
  ),
  childDigests: z.array(z.string()),
  readAt: storedInstantSchema,
});

export const gateEventSchema = z.object({
  specversion: z.literal('1.0'),
  id: z.string(),
  type: z.string(),
  source: z.string(),
  subject: z.string(),
  time: z.string(),
  datacontenttype: z.literal('application/json'),
  data: z.record(z.string(), z.unknown()),
});

const jsonObject = z.record(z.string(), z.unknown());

const outboxEntrySchema = z.object({ event: gateEventSchema, acrPayload: jsonObject.optional() });

export const tagDocumentSchema = z.object({
  id: z.string(),
  pk: z.string(),
  type: z.literal('tag'),
  registry: z.string(),
  repository: z.string(),
  tag: z.string().nullable(),
  untaggedDigest: z.string().optional(),
  observations: z.record(z.string(), z.record(z.string(), observationSchema)),
  completions: z.array(
    z.object({
      digest: z.string(),
      replicatedAt: storedInstantSchema,
      eventId: z.string(),
      pushedAt: storedInstantSchema.optional(),
    }),
  ),
  pushes: z
    .record(z.string(), z.object({ timestamp: storedInstantSchema, payload: jsonObject }))
    .default({}),
  stalls: z.array(z.string()).default([]),
  retired: z.record(z.string(), z.record(z.string(), storedInstantSchema)).optional(),
  retiredBefore: storedInstantSchema.optional(),
  image: imageStateSchema.optional(),
  outbox: z.array(outboxEntrySchema),
  /** Digest → regions whose arrival event was decided (absent in older documents). */
  arrivals: z.record(z.string(), z.array(z.string())).default({}),
  // Derived when written; kept as fields so they can be queried and indexed.
  outboxSize: z.number().int().default(0),
  digest: z.string().nullable(),
  status: z.enum(['replicating', 'replicated', 'deleted']),
  regions: z.array(regionViewSchema),
  requiredRegions: z.array(z.string()),
  missingRegions: z.array(z.string()),
  pushedAt: storedInstantSchema.nullable(),
  replicatedAt: storedInstantSchema.nullable(),
  /** `digest@pushedAt` of the current round, to find rounds not reported stalled yet. */
  round: z.string().nullable().optional(),
  reason: z.string().optional(),
  digests: z.array(z.string()),
  updatedAt: storedInstantSchema,
  _etag: z.string(),
});

export type TagDocument = z.infer<typeof tagDocumentSchema>;

export const registryDocumentSchema = z.object({
  id: z.literal('regions'),
  pk: z.string(),
  type: z.literal('registry'),
  registry: z.string(),
  regions: z.array(z.string()),
  updatedAt: storedInstantSchema,
});

export const eventDocumentSchema = z.object({
  id: z.string(),
  pk: z.string(),
  type: z.literal('event'),
  event: gateEventSchema,
  acrPayload: jsonObject.optional(),
  recordedAt: storedInstantSchema,
  /** `recordedAt|id`: one string field to order and page the feed by. */
  sortKey: z.string(),
});

export const subscriptionDocumentSchema = z.object({
  id: z.string(),
  pk: z.string(),
  type: z.literal('subscription'),
  url: z.string(),
  format: z.enum(SUBSCRIPTION_FORMATS),
  secret: z.string(),
  filter: z.object({
    registry: z.string().optional(),
    repository: z.string().optional(),
    tag: z.string().optional(),
    regions: z.array(z.string()).optional(),
  }),
  headers: z.record(z.string(), z.string()),
  types: z.array(z.string()).default([]),
  enabled: z.boolean(),
  disabledReason: z.string().optional(),
  createdAt: storedInstantSchema,
});

export const deliveryDocumentSchema = z.object({
  id: z.string(),
  pk: z.string(),
  type: z.literal('delivery'),
  eventId: z.string(),
  subscriptionId: z.string(),
  state: z.enum(['pending', 'delivered', 'dead', 'gone', 'cancelled']),
  attempts: z.array(
    z.object({
      at: storedInstantSchema,
      durationMs: z.number(),
      status: z.number().int().optional(),
      error: z.string().optional(),
      retryAfterMs: z.number().optional(),
    }),
  ),
  attemptsInRound: z.number().int(),
  nextAttemptAt: storedInstantSchema.nullable(),
  detail: z.string().optional(),
  updatedAt: storedInstantSchema,
  registry: z.string().optional(),
  repository: z.string().optional(),
  _etag: z.string(),
});

export const deletionDocumentSchema = z.object({
  id: z.string(),
  pk: z.string(),
  type: z.literal('deletion'),
  registry: z.string(),
  repository: z.string(),
  digest: z.string(),
  regions: z.record(z.string(), storedInstantSchema),
  updatedAt: storedInstantSchema,
  _etag: z.string(),
});

/**
 * Written where a deletion would be (same id) by a write that completed a round while none was
 * recorded: its create, or its replace under the ETag, in the same batch as the tag is what
 * proves no delete came in between. A later delete replaces it. It expires (the container's
 * items live for ever unless they say otherwise); the next completing write makes a new one.
 */
export const noDeletionDocumentSchema = z.object({
  id: z.string(),
  pk: z.string(),
  type: z.literal('no-deletion'),
  registry: z.string(),
  repository: z.string(),
  digest: z.string(),
  updatedAt: storedInstantSchema,
  _etag: z.string(),
});

const attemptSchema = z.object({
  at: storedInstantSchema,
  durationMs: z.number(),
  status: z.number().int().optional(),
  error: z.string().optional(),
  retryAfterMs: z.number().optional(),
});

export const approvalDocumentSchema = z.object({
  id: z.string(),
  pk: z.string(),
  type: z.literal('approval'),
  approvalId: z.string(),
  kind: z.enum(['azure-pipelines', 'github']),
  registry: z.string(),
  repository: z.string(),
  reference: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('tag'), repository: z.string(), tag: z.string() }),
    z.object({ kind: z.literal('digest'), repository: z.string(), digest: z.string() }),
  ]),
  regions: z.array(z.string()).nullable(),
  state: z.enum(['waiting', 'answering', 'answered', 'failed']),
  decision: z
    .object({ approved: z.boolean(), reason: z.string(), at: storedInstantSchema })
    .nullable(),
  deadline: storedInstantSchema,
  nextAttemptAt: storedInstantSchema.nullable(),
  attempts: z.array(attemptSchema),
  reports: z.number().int(),
  lastReport: z.string().nullable(),
  target: z.record(z.string(), z.string()),
  detail: z.string().optional(),
  createdAt: storedInstantSchema,
  updatedAt: storedInstantSchema,
  _etag: z.string(),
});

export const githubEnvironmentDocumentSchema = z.object({
  id: z.string(),
  pk: z.string(),
  type: z.literal('github-environment'),
  owner: z.string(),
  repo: z.string(),
  environment: z.string(),
  image: z.string(),
  regions: z.array(z.string()).nullable(),
  updatedAt: storedInstantSchema,
});
