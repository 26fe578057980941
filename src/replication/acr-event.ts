// ACR webhook payloads: one zod schema per action, and what each means for replication state.
import { z } from 'zod';
import { digestSchema, registrySchema, repositorySchema, tagSchema } from './names';
import { instantSchema, type Instant } from './timestamp';

const requestSchema = z.looseObject({
  id: z.string().max(200).optional(),
  host: registrySchema,
  method: z.string().max(20).optional(),
  useragent: z.string().max(1000).optional(),
});

const base = {
  id: z.string().min(1).max(200),
  timestamp: instantSchema,
};

const pushSchema = z.looseObject({
  ...base,
  action: z.literal('push'),
  target: z.looseObject({
    mediaType: z.string().max(200).optional(),
    size: z.number().int().nonnegative().optional(),
    length: z.number().int().nonnegative().optional(),
    digest: digestSchema,
    repository: repositorySchema,
    tag: tagSchema.optional(),
  }),
  request: requestSchema,
});

const deleteSchema = z.looseObject({
  ...base,
  action: z.literal('delete'),
  target: z.looseObject({
    mediaType: z.string().max(200).optional(),
    digest: digestSchema,
    repository: repositorySchema,
  }),
  request: requestSchema,
});

// Quarantine events may lack mediaType and carry a short digest; we only count them when asked.
const quarantineSchema = z.looseObject({
  ...base,
  action: z.literal('quarantine'),
  target: z.looseObject({
    digest: z.string().min(1).max(256),
    repository: repositorySchema,
    tag: tagSchema.optional(),
  }),
  request: requestSchema.partial({ useragent: true }),
});

const chartSchema = z.looseObject({
  ...base,
  action: z.enum(['chart_push', 'chart_delete']),
  target: z.looseObject({
    repository: z.string().max(256).optional(),
    name: z.string().max(256).optional(),
    version: z.string().max(256).optional(),
  }),
});

// The ping body is not documented: only its action is relied on.
const pingSchema = z.looseObject({ action: z.literal('ping') });

export const acrEventSchema = z.discriminatedUnion(
  'action',
  [pushSchema, deleteSchema, quarantineSchema, chartSchema, pingSchema],
  { error: 'must be one of push, delete, quarantine, chart_push, chart_delete, ping' },
);

export type AcrEvent = z.infer<typeof acrEventSchema>;
export type AcrPushEvent = z.infer<typeof pushSchema>;

/** What an event asks of the store. */
export type Intent =
  | { kind: 'ping' }
  | { kind: 'ignore'; reason: string }
  | {
      kind: 'push';
      registry: string;
      repository: string;
      tag: string | null;
      digest: string;
      timestamp: Instant;
      eventId: string;
    }
  | {
      kind: 'delete';
      registry: string;
      repository: string;
      digest: string;
      timestamp: Instant;
      eventId: string;
    };

const actionOnlySchema = z.looseObject({ action: z.string() });

/**
 * Events we acknowledge without counting (charts; quarantine unless counted) are told apart by
 * their action alone: nothing else of theirs is used, so nothing else is validated (the
 * documented quarantine sample, for one, would fail the push schema's checks).
 */
export function ignoredAction(
  body: unknown,
  options: { countQuarantine: boolean },
): { action: string; intent: Extract<Intent, { kind: 'ignore' }> } | undefined {
  const parsed = actionOnlySchema.safeParse(body);
  if (!parsed.success) return undefined;
  const { action } = parsed.data;
  if (action === 'chart_push' || action === 'chart_delete') {
    return {
      action,
      intent: { kind: 'ignore', reason: 'Helm chart events are not image arrivals' },
    };
  }
  if (action === 'quarantine' && !options.countQuarantine) {
    return {
      action,
      intent: { kind: 'ignore', reason: 'quarantine events are not counted as arrivals' },
    };
  }
  return undefined;
}

export function toIntent(event: AcrEvent, options: { countQuarantine: boolean }): Intent {
  switch (event.action) {
    case 'ping':
      return { kind: 'ping' };
    case 'chart_push':
    case 'chart_delete':
      return { kind: 'ignore', reason: 'Helm chart events are not image arrivals' };
    case 'quarantine': {
      const digest = digestSchema.safeParse(event.target.digest);
      if (!options.countQuarantine || !digest.success) {
        return { kind: 'ignore', reason: 'quarantine events are not counted as arrivals' };
      }
      return {
        kind: 'push',
        registry: event.request.host,
        repository: event.target.repository,
        tag: event.target.tag ?? null,
        digest: digest.data,
        timestamp: event.timestamp,
        eventId: event.id,
      };
    }
    case 'push':
      return {
        kind: 'push',
        registry: event.request.host,
        repository: event.target.repository,
        tag: event.target.tag ?? null,
        digest: event.target.digest,
        timestamp: event.timestamp,
        eventId: event.id,
      };
    case 'delete':
      return {
        kind: 'delete',
        registry: event.request.host,
        repository: event.target.repository,
        digest: event.target.digest,
        timestamp: event.timestamp,
        eventId: event.id,
      };
  }
}
