// ACR events as Azure Event Grid delivers them: both envelopes (Event Grid schema, CloudEvents 1.0) and the type names.
import { z } from 'zod';

/** The ACR event types that are image arrivals, by the webhook `action` they carry. */
export const IMAGE_EVENT_TYPES = {
  push: 'Microsoft.ContainerRegistry.ImagePushed',
  delete: 'Microsoft.ContainerRegistry.ImageDeleted',
} as const;

export type ImageAction = keyof typeof IMAGE_EVENT_TYPES;

export const SUBSCRIPTION_VALIDATION_EVENT = 'Microsoft.EventGrid.SubscriptionValidationEvent';

/** The webhook action an Event Grid type stands for; undefined for every other type. */
export function imageActionOf(type: string): ImageAction | undefined {
  if (type === IMAGE_EVENT_TYPES.push) return 'push';
  if (type === IMAGE_EVENT_TYPES.delete) return 'delete';
  return undefined;
}

const idSchema = z.string().min(1).max(500);
const typeSchema = z.string().min(1).max(500);

/** One event of an Event Grid schema delivery (always a JSON array). */
export const eventGridEventSchema = z.looseObject({
  id: idSchema,
  topic: z.string().max(2000).optional(),
  subject: z.string().max(2000),
  eventType: typeSchema,
  eventTime: z.string().max(100),
  dataVersion: z.string().max(100),
  data: z.unknown(),
});

/** One CloudEvents 1.0 event in JSON structured mode. */
export const cloudEventSchema = z.looseObject({
  specversion: z.literal('1.0', { error: 'must be 1.0' }),
  id: idSchema,
  source: z.string().min(1).max(2000),
  type: typeSchema,
  time: z.string().max(100).optional(),
  subject: z.string().max(2000).optional(),
  data: z.unknown(),
});

export const validationDataSchema = z.looseObject({
  validationCode: z.string().min(1).max(500),
});

/** One delivered event, whichever envelope carried it. */
export interface DeliveredEvent {
  id: string;
  type: string;
  data: unknown;
}

export const fromEventGridEvent = (e: z.infer<typeof eventGridEventSchema>): DeliveredEvent => ({
  id: e.id,
  type: e.eventType,
  data: e.data,
});

export const fromCloudEvent = (e: z.infer<typeof cloudEventSchema>): DeliveredEvent => ({
  id: e.id,
  type: e.type,
  data: e.data,
});

/**
 * An ACR webhook payload as the CloudEvent Event Grid would deliver for it: `data` is the payload
 * plus `location`. Undefined for actions that have no image event type (ping, chart, quarantine).
 */
export function toImageCloudEvent(
  payload: Record<string, unknown>,
  region: string,
  source: string,
): Record<string, unknown> | undefined {
  const action = payload.action;
  if (action !== 'push' && action !== 'delete') return undefined;
  const target = (payload.target ?? {}) as Record<string, unknown>;
  const repository = typeof target.repository === 'string' ? target.repository : '';
  const tag = typeof target.tag === 'string' ? `:${target.tag}` : '';
  return {
    specversion: '1.0',
    id: typeof payload.id === 'string' ? payload.id : '',
    source,
    type: IMAGE_EVENT_TYPES[action],
    subject: `${repository}${tag}`,
    ...(typeof payload.timestamp === 'string' ? { time: payload.timestamp } : {}),
    datacontenttype: 'application/json',
    data: { ...payload, location: region },
  };
}
