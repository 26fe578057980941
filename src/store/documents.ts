// The shapes of stored documents, validated with zod whenever they are read back.
import { z } from 'zod';
import { storedInstantSchema } from '../replication/timestamp';

const observationSchema = z.object({
  firstSeen: storedInstantSchema.optional(),
  lastSeen: storedInstantSchema.optional(),
  deletedAt: storedInstantSchema.optional(),
});

const regionViewSchema = z.object({
  region: z.string(),
  required: z.boolean(),
  status: z.enum(['arrived', 'pending', 'stale', 'deleted']),
  digest: z.string().optional(),
  arrivedAt: storedInstantSchema.optional(),
});

const replicatedEventSchema = z.object({
  specversion: z.literal('1.0'),
  id: z.string(),
  type: z.literal('acrgate.tag.replicated'),
  source: z.string(),
  subject: z.string(),
  time: storedInstantSchema,
  datacontenttype: z.literal('application/json'),
  data: z.object({
    registry: z.string(),
    repository: z.string(),
    tag: z.string().nullable(),
    digest: z.string(),
    regions: z.array(z.object({ region: z.string(), arrivedAt: storedInstantSchema })),
    pushedAt: storedInstantSchema.nullable(),
    replicatedAt: storedInstantSchema,
    durationMs: z.number().nullable(),
  }),
});

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
    z.object({ digest: z.string(), replicatedAt: storedInstantSchema, eventId: z.string() }),
  ),
  outbox: z.array(replicatedEventSchema),
  // Derived when written; kept as fields so they can be queried and indexed.
  digest: z.string().nullable(),
  status: z.enum(['replicating', 'replicated', 'deleted']),
  regions: z.array(regionViewSchema),
  requiredRegions: z.array(z.string()),
  missingRegions: z.array(z.string()),
  pushedAt: storedInstantSchema.nullable(),
  replicatedAt: storedInstantSchema.nullable(),
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
  event: replicatedEventSchema,
  recordedAt: storedInstantSchema,
});
