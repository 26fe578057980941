// What the reconcile timer (and `acr-gate reconcile`) reads from ARM: our regional webhooks and their recent events.
import type { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { randomUUID } from 'node:crypto';
import { isRecord } from '../util/values';
import {
  canonicalLocation,
  type ArmClient,
  type ArmTarget,
  type PipelinePolicy,
} from './arm-client';
import { DEFAULT_PREFIX } from './plan-webhooks';

/** A webhook of ours to reconcile: its name and the replica region it belongs to. */
export interface RegionalWebhookRef {
  name: string;
  location: string;
}

/**
 * Our regional webhooks: those named `${prefix}${location}` as applyWebhooks creates them, or the
 * webhooks named in `names` (any naming). A name in `names` the registry does not have is an error.
 */
export async function listRegionalWebhooks(
  client: Pick<ArmClient, 'webhooks'>,
  target: ArmTarget,
  options: { names?: readonly string[]; prefix?: string } = {},
): Promise<RegionalWebhookRef[]> {
  const prefix = (options.prefix ?? DEFAULT_PREFIX).toLowerCase();
  const all: RegionalWebhookRef[] = [];
  for await (const hook of client.webhooks.list(target.resourceGroup, target.registryName)) {
    if (hook.name !== undefined) {
      all.push({ name: hook.name, location: canonicalLocation(hook.location) });
    }
  }
  if (options.names !== undefined) {
    return options.names.map((wanted) => {
      const hook = all.find((h) => h.name.toLowerCase() === wanted.toLowerCase());
      if (hook === undefined) {
        throw new Error(`registry ${target.registryName} has no webhook named ${wanted}`);
      }
      return hook;
    });
  }
  return all
    .filter((h) => h.name.toLowerCase() === `${prefix}${h.location}`)
    .sort((a, b) => a.location.localeCompare(b.location));
}

/** One recent delivery of a webhook (ARM `webhooks.listEvents`). */
export interface WebhookEvent {
  id: string;
  /** The JSON body ACR sent (`eventRequestMessage.content`), exactly as ARM returned it. */
  content: unknown;
  /** Our answer (`eventResponseMessage.statusCode`); null when ACR got none. */
  responseStatus: number | null;
}

/** The spec says an object; should a body come back as JSON text, it is read the same. */
function bodyOf(content: unknown): unknown {
  if (typeof content !== 'string') return content;
  try {
    return JSON.parse(content) as unknown;
  } catch {
    return content;
  }
}

/**
 * The webhook's recent events, every page. The SDK's typed `EventContent` turns `timestamp` into a
 * Date (milliseconds) and drops unknown fields, so replaying it would not be the same arrival as the
 * original; the request bodies are taken from the raw pages instead, which a pipeline policy catches
 * for the duration of the call (keyed by event id, so concurrent calls do not mix them up).
 */
export async function listWebhookEvents(
  client: Pick<ContainerRegistryManagementClient, 'webhooks' | 'pipeline'>,
  target: ArmTarget,
  webhookName: string,
): Promise<WebhookEvent[]> {
  const raw = new Map<string, unknown>();
  const capture: PipelinePolicy = {
    name: `captureWebhookEvents:${randomUUID()}`,
    sendRequest: async (request, next) => {
      const response = await next(request);
      const text = response.bodyAsText;
      if (response.status === 200 && text?.includes('"eventRequestMessage"')) {
        try {
          const page: unknown = JSON.parse(text);
          const items =
            isRecord(page) && Array.isArray(page.value) ? (page.value as unknown[]) : [];
          for (const item of items) {
            if (isRecord(item) && typeof item.id === 'string') {
              const message = item.eventRequestMessage;
              raw.set(item.id, isRecord(message) ? bodyOf(message.content) : undefined);
            }
          }
        } catch {
          // Not JSON: the SDK reports it when it deserializes the page.
        }
      }
      return response;
    },
  };
  client.pipeline.addPolicy(capture);
  try {
    const events: WebhookEvent[] = [];
    const pages = client.webhooks.listEvents(
      target.resourceGroup,
      target.registryName,
      webhookName,
    );
    for await (const event of pages) {
      if (event.id === undefined) continue;
      const status = Number.parseInt(event.eventResponseMessage?.statusCode ?? '', 10);
      events.push({
        id: event.id,
        content: raw.get(event.id),
        responseStatus: Number.isInteger(status) ? status : null,
      });
    }
    return events;
  } finally {
    client.pipeline.removePolicy({ name: capture.name });
  }
}
