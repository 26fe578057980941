// Event Grid deliveries of ACR events, in both schemas, as Azure sends them (the webhook payload plus `location`).
import { randomUUID } from 'node:crypto';

export const TOPIC =
  '/subscriptions/6b1f3c2e-0d4a-4c8e-9f7a-2b5d8e1c0a93/resourceGroups/rg-release' +
  '/providers/Microsoft.ContainerRegistry/registries/contoso';
export const PUSHED = 'Microsoft.ContainerRegistry.ImagePushed';
export const DELETED = 'Microsoft.ContainerRegistry.ImageDeleted';

/** An event of the Event Grid schema as ACR publishes it: the webhook payload plus `location`. */
export function anEventGridEvent(payload: Record<string, unknown>, region: string, type = PUSHED) {
  const target = payload.target as { repository: string; tag?: string };
  return {
    id: randomUUID(),
    topic: TOPIC,
    subject: `${target.repository}${target.tag ? `:${target.tag}` : ''}`,
    eventType: type,
    eventTime: payload.timestamp,
    data: { ...payload, location: region, actor: {}, source: {} } as Record<string, unknown>,
    dataVersion: '1.0',
    metadataVersion: '1',
  };
}

/** The same event in the CloudEvents 1.0 schema. */
export function aCloudEvent(payload: Record<string, unknown>, region: string, type = PUSHED) {
  const eg = anEventGridEvent(payload, region, type);
  return {
    specversion: '1.0',
    id: eg.id,
    source: TOPIC,
    type,
    subject: eg.subject,
    time: eg.eventTime,
    data: eg.data,
  };
}

/** The subscription validation event Event Grid sends (Event Grid schema) before the first delivery. */
export const aValidationEvent = (code: string) => ({
  id: randomUUID(),
  topic: TOPIC,
  subject: '',
  eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
  eventTime: '2026-03-14T10:00:00.0000000Z',
  data: {
    validationCode: code,
    validationUrl: 'https://rp-westus.eventgrid.azure.net/eventsubscriptions/gate/validate?id=x',
  },
  dataVersion: '2',
  metadataVersion: '1',
});
