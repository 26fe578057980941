// The bodies the API answers with, as zod schemas: the OpenAPI document, the CLI and the tests read them.
import { z } from 'zod';
import type { DeliveryRecord } from '../app/ports';
import type { VerifyReport } from '../app/follow-image';
import type { StatusBody as ServerStatusBody } from '../app/read-status';
import type { RequiredRegions } from '../app/required-regions';
import type { SubscriptionView } from '../app/manage-subscriptions';
import type { ImageCheck } from '../app/check-images';
import {
  ARRIVED_EVENT_TYPE,
  REPLICATED_EVENT_TYPE,
  STALLED_EVENT_TYPE,
} from '../events/event-types';
import { SUBSCRIPTION_FORMATS } from '../events/types';

/** What the store keeps: UTC with nine fractional digits, e.g. `2026-03-14T09:26:53.589793238Z`. */
export const instantTextSchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/)
  .meta({ description: 'RFC 3339 UTC timestamp with nine fractional digits' });

export const regionStatusSchema = z.object({
  region: z.string(),
  required: z.boolean().meta({ description: 'false for a region shown but not required' }),
  status: z.enum(['arrived', 'reported', 'pending', 'stale', 'deleted']).meta({
    description:
      'reported: the webhook came and VERIFY_REGIONS=true, the regional endpoint has not confirmed it yet',
  }),
  digest: z.string().optional(),
  arrivedAt: instantTextSchema.optional(),
  missing: z.array(z.string()).optional().meta({
    description:
      'manifests of a multi-platform image (index and children) the region still lacks or has not confirmed',
  }),
});

/**
 * The status body of one tag (docs/api.md, docs/design.md). Unknown fields are dropped, not refused, when a client
 * parses it, so a newer server can add fields; the OpenAPI document still lists exactly these.
 */
export const statusBodySchema = z.object({
  registry: z.string(),
  repository: z.string(),
  tag: z.string().nullable(),
  digest: z.string().nullable(),
  status: z.enum(['replicating', 'replicated', 'deleted']),
  requiredRegions: z.array(z.string()),
  regions: z.array(regionStatusSchema),
  missingRegions: z.array(z.string()),
  pushedAt: instantTextSchema.nullable(),
  replicatedAt: instantTextSchema.nullable(),
  eventId: z.string().nullable(),
  scope: z.array(z.string()).optional().meta({
    description:
      'with `?regions=`: the regions the status is computed over (then also `requiredRegions`)',
  }),
  reason: z
    .string()
    .optional()
    .meta({ description: 'why the round cannot complete on webhooks alone (an unreadable index)' }),
});

/** `acr-gate verify`: every required region checked at its own endpoint. */
export const verifyReportSchema = z.object({
  registry: z.string(),
  repository: z.string(),
  tag: z.string().nullable(),
  digest: z.string(),
  manifests: z
    .array(z.string())
    .meta({ description: 'the target and every child manifest a pull needs' }),
  regions: z.array(
    z.object({
      region: z.string(),
      confirmed: z.boolean(),
      endpoint: z.string(),
      detail: z.string().optional(),
    }),
  ),
  reason: z.string().optional(),
});

export const statusListSchema = z.object({
  registry: z.string(),
  items: z.array(statusBodySchema),
  continuationToken: z.string().nullable(),
});

export const pongSchema = z.object({ status: z.literal('pong'), region: z.string() });
export const ignoredSchema = z.object({
  status: z.literal('ignored'),
  action: z.string(),
  reason: z.string(),
  region: z.string(),
});
export const deleteRecordedSchema = z.object({
  status: z.literal('recorded'),
  action: z.literal('delete'),
  region: z.string(),
  digest: z.string(),
  tags: z.array(statusBodySchema),
});
export const webhookAnswerSchema = z.union([statusBodySchema, deleteRecordedSchema, ignoredSchema]);

export const requiredRegionsSchema = z.object({
  registry: z.string(),
  regions: z.array(z.string()),
  source: z.enum(['registry', 'default']),
  updatedAt: instantTextSchema.nullable(),
});
export const regionsUpdatedSchema = requiredRegionsSchema.extend({
  reevaluated: z.number().int(),
  completed: z.number().int(),
});

const roundFields = {
  registry: z.string(),
  repository: z.string(),
  tag: z.string().nullable(),
  digest: z.string(),
};
const cloudEventFields = {
  specversion: z.literal('1.0'),
  id: z.string(),
  source: z.string(),
  subject: z.string(),
  time: instantTextSchema,
  datacontenttype: z.literal('application/json'),
};
export const replicatedEventSchema = z.object({
  ...cloudEventFields,
  type: z.literal(REPLICATED_EVENT_TYPE),
  data: z.object({
    ...roundFields,
    regions: z.array(z.object({ region: z.string(), arrivedAt: instantTextSchema })),
    pushedAt: instantTextSchema.nullable(),
    replicatedAt: instantTextSchema,
    durationMs: z.number().nullable(),
  }),
});
export const stalledEventSchema = z.object({
  ...cloudEventFields,
  type: z.literal(STALLED_EVENT_TYPE),
  data: z.object({
    ...roundFields,
    pushedAt: instantTextSchema,
    missingRegions: z.array(z.string()),
    arrivedRegions: z.array(z.string()),
    stalledAfterMs: z.number(),
    missingManifests: z.record(z.string(), z.array(z.string())).optional(),
    reason: z.string().optional(),
  }),
});
export const arrivedEventSchema = z.object({
  ...cloudEventFields,
  type: z.literal(ARRIVED_EVENT_TYPE),
  data: z.object({
    ...roundFields,
    region: z.string(),
    required: z.boolean(),
    arrivedAt: instantTextSchema,
    pushedAt: instantTextSchema.nullable(),
    lagMs: z.number().nullable().meta({ description: 'from the push to this arrival' }),
    missingRegions: z.array(z.string()),
  }),
});
export const emittedEventSchema = z.discriminatedUnion('type', [
  replicatedEventSchema,
  stalledEventSchema,
  arrivedEventSchema,
]);

export const eventFeedSchema = z.object({
  events: z.array(emittedEventSchema),
  cursor: z.string().nullable().meta({ description: 'pass back as `after`' }),
});

export const attemptSchema = z.object({
  at: instantTextSchema,
  durationMs: z.number(),
  status: z.number().int().optional().meta({ description: 'absent when no response came' }),
  error: z.string().optional().meta({ description: 'a short excerpt of the answer or the error' }),
  retryAfterMs: z.number().optional(),
});
export const deliverySchema = z.object({
  eventId: z.string(),
  subscriptionId: z.string(),
  state: z.enum(['pending', 'delivered', 'dead', 'gone', 'cancelled']),
  attempts: z.array(attemptSchema),
  attemptsInRound: z.number().int(),
  nextAttemptAt: instantTextSchema.nullable(),
  detail: z.string().optional(),
  updatedAt: instantTextSchema,
});
export const eventWithDeliveriesSchema = z.object({
  event: emittedEventSchema,
  recordedAt: instantTextSchema,
  deliveries: z.array(deliverySchema),
});
export const redeliveryStartedSchema = z.object({
  id: z.string(),
  deliveries: z.array(deliverySchema),
});

export const subscriptionViewSchema = z.object({
  id: z.string(),
  url: z.string(),
  format: z.enum(SUBSCRIPTION_FORMATS),
  filter: z.object({
    registry: z.string().optional(),
    repository: z.string().optional(),
    tag: z.string().optional(),
    regions: z.array(z.string()).optional(),
  }),
  headers: z
    .record(z.string(), z.string())
    .meta({ description: 'header names; each value reads "(set)": values are never shown again' }),
  types: z.array(z.string()),
  enabled: z.boolean(),
  disabledReason: z.string().optional(),
  createdAt: instantTextSchema,
  secretHint: z.string(),
});
export const subscriptionCreatedSchema = subscriptionViewSchema.extend({
  secret: z.string().meta({ description: 'shown this once' }),
});
export const subscriptionListSchema = z.object({ subscriptions: z.array(subscriptionViewSchema) });

export const healthSchema = z.union([
  z.object({
    status: z.literal('healthy'),
    store: z.object({ status: z.literal('reachable'), latencyMs: z.number() }),
  }),
  z.object({
    status: z.literal('unhealthy'),
    store: z.object({ status: z.literal('unreachable') }),
  }),
]);

/** Gatekeeper's `ProviderResponse` (externaldata/v1beta1): one item per distinct key. */
export const providerResponseSchema = z.object({
  apiVersion: z.literal('externaldata.gatekeeper.sh/v1beta1'),
  kind: z.literal('ProviderResponse'),
  response: z.object({
    idempotent: z.boolean(),
    items: z.array(
      z.object({
        key: z.string(),
        value: z
          .union([
            z.object({
              tracked: z.literal(true),
              registry: z.string(),
              repository: z.string(),
              tag: z.string().nullable(),
              digest: z.string().nullable(),
              region: z.string(),
              status: z.enum(['arrived', 'reported', 'pending', 'stale', 'deleted', 'unknown']),
              arrivedAt: instantTextSchema.optional(),
            }),
            z.object({ tracked: z.literal(false), registry: z.string(), message: z.string() }),
          ])
          .optional(),
        error: z.string().meta({ description: 'empty when the image may run in the region' }),
      }),
    ),
    systemError: z
      .string()
      .optional()
      .meta({ description: 'only when the gate cannot answer (the store is unreachable)' }),
  }),
});

const problemFields = {
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string().optional(),
  instance: z.string().optional(),
  errors: z.array(z.object({ field: z.string(), detail: z.string() })).optional(),
};

/** RFC 9457 problem details. */
export const problemSchema = z.looseObject(problemFields);

/** The 409 of a status request pinned to a digest the tag has moved past, with the tag's status. */
export const digestMovedSchema = z.looseObject({
  ...problemFields,
  current: statusBodySchema,
  digest: z.string().nullable(),
});

/** Fails to compile when what the server builds no longer fits the schema that documents it. */
type Fits<Schema extends z.ZodType, Built extends z.input<Schema>> = Built;
export type ServerBodiesFitTheirSchemas = [
  Fits<typeof statusBodySchema, ServerStatusBody>,
  Fits<typeof verifyReportSchema, VerifyReport>,
  Fits<typeof requiredRegionsSchema, RequiredRegions>,
  Fits<typeof deliverySchema, DeliveryRecord>,
  Fits<typeof subscriptionViewSchema, SubscriptionView>,
  Fits<typeof providerResponseSchema.shape.response.shape.items.element, ImageCheck>,
];
