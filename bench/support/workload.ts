// What the bench sends and who receives it: ACR payloads, app instances, and the two baselines (floor and naive).
import { createHash, randomUUID } from 'node:crypto';
import { CosmosClient, type Container } from '@azure/cosmos';
import { withShortLivedCache } from '../../src/app/cached-store';
import type { RegionsDeps } from '../../src/app/required-regions';
import { makeTagCache } from '../../src/app/tag-cache';
import type { Subscription } from '../../src/events/types';
import { acrEventSchema, toIntent, type Intent } from '../../src/replication/acr-event';
import { instantFromDate } from '../../src/replication/timestamp';
import {
  createCosmosClient,
  makeCosmosStore,
  type CosmosSettings,
} from '../../src/store/cosmos-store';
import { encodeId, tagPartition } from '../../src/store/ids';
import { aPushEvent } from '../../test/support/fixtures';

export const WEBHOOK_TOKEN = 'bench-webhook-token-0123456789';
export const ADMIN_TOKEN = 'bench-admin-token-0123456789abc';
/** Reads (status, long-poll, list): webhook tokens only deliver arrivals. */
export const READ_TOKEN = 'bench-read-token-0123456789abcd';
/** Sorted, as the app sorts REPLICATION_REGIONS. */
export const FOUR_REGIONS = ['canadacentral', 'eastus', 'westeurope', 'westus'];
export const TEN_REGIONS = [
  'australiaeast',
  'brazilsouth',
  'canadacentral',
  'eastasia',
  'eastus',
  'japaneast',
  'northeurope',
  'uksouth',
  'westeurope',
  'westus',
];

export type PushIntent = Extract<Intent, { kind: 'push' }>;

export interface Arrival {
  region: string;
  body: Record<string, unknown>;
  intent: PushIntent;
}

/** A stable, realistic-looking digest per name, so a round's regions agree without coordination. */
export const digestOf = (name: string): string =>
  `sha256:${createHash('sha256').update(name).digest('hex')}`;

/** ACR's nine-digit timestamps, from milliseconds. */
export const acrTime = (ms: number): string => instantFromDate(new Date(ms));

/** The headers ACR sends with a webhook, carrying the token the bench app is set up with. */
export const WEBHOOK_HEADERS = {
  authorization: `Bearer ${WEBHOOK_TOKEN}`,
  'content-type': 'application/json',
  'user-agent': 'AzureContainerRegistry/1.0',
};

/** POSTs ACR's push webhook for the tag from FOUR_REGIONS[region], `region` seconds into the round. */
export async function postPush(
  baseUrl: string,
  image: { registry: string; repository: string; tag: string },
  region: number,
): Promise<void> {
  const body = aPushEvent({
    ...image,
    digest: digestOf(image.tag),
    timestamp: acrTime(Date.UTC(2026, 2, 14, 9, 0, region)),
  });
  const response = await fetch(`${baseUrl}/api/webhooks/acr/${FOUR_REGIONS[region]}`, {
    method: 'POST',
    headers: WEBHOOK_HEADERS,
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  if (response.status !== 202) throw new Error(`webhook answered ${response.status}`);
}

export interface ArrivalSpec {
  registry: string;
  repository: string;
  tag: string;
  digest: string;
  region: string;
  atMs: number;
}

/** One regional webhook as ACR sends it, and what the webhook handler makes of it. */
export function anArrival(spec: ArrivalSpec): Arrival {
  const body = aPushEvent({
    registry: spec.registry,
    repository: spec.repository,
    tag: spec.tag,
    digest: spec.digest,
    timestamp: acrTime(spec.atMs),
  });
  const intent = toIntent(acrEventSchema.parse(body), { countQuarantine: false });
  if (intent.kind !== 'push') throw new Error('expected a push');
  return { region: spec.region, body, intent };
}

/** One function instance of the app as the webhook handler uses it: its own CosmosClient. */
export function anAppInstance(
  settings: CosmosSettings,
  regions: readonly string[],
  /** STORE_MAX_ATTEMPTS' default. */
  maxAttempts = 12,
): RegionsDeps {
  return {
    // As the app composes it (src/main.ts): regions and subscriptions cached for CACHE_TTL_MS.
    store: withShortLivedCache(makeCosmosStore(createCosmosClient(settings), settings), 5_000),
    clock: { now: () => instantFromDate(new Date()) },
    defaultRegions: regions,
    maxAttempts,
    tagCache: makeTagCache(),
  };
}

export const aSubscription = (): Subscription => ({
  id: `bench-${randomUUID()}`,
  // Never called: bench instances have no deliverer, so only the delivery item is written.
  url: 'http://127.0.0.1:9/hook',
  format: 'cloudevents',
  secret: `whsec_${Buffer.from(randomUUID()).toString('base64')}`,
  filter: {},
  headers: {},
  types: [],
  enabled: true,
  createdAt: instantFromDate(new Date()),
});

/** A bare SDK container, for the baselines and for checking results behind the app's back. */
export function aContainer(settings: CosmosSettings): Container {
  const client = new CosmosClient({
    endpoint: settings.endpoint,
    key: settings.key ?? '',
    connectionPolicy: { enableEndpointDiscovery: false, requestTimeout: 10_000 },
  });
  return client.database(settings.database).container(settings.container);
}

/** The floor: one point write per arrival, an item of its own, which never conflicts. */
export async function floorArrival(container: Container, arrival: Arrival): Promise<void> {
  const { intent, region } = arrival;
  await container.items.upsert({
    id: `arrival:${encodeId(intent.tag ?? '')}:${region}:${intent.digest.slice(7, 23)}`,
    pk: tagPartition(intent.registry, intent.repository),
    type: 'arrival',
    region,
    digest: intent.digest,
    at: intent.timestamp,
  });
}

interface NaiveDoc {
  id: string;
  pk: string;
  type: 'naive-tag';
  regions: Record<string, { digest: string; at: string }>;
  completed: string[];
}

const naiveId = (tag: string): string => `naive:${encodeId(tag)}`;

/**
 * The naive read-modify-write: read the tag item, modify, upsert without If-Match. It skips
 * the write when nothing changed and emits its event with a plain create, like a queue send.
 */
export async function naiveArrival(
  container: Container,
  arrival: Arrival,
  required: readonly string[],
): Promise<{ wrote: boolean; emitted: boolean }> {
  const { intent, region } = arrival;
  const id = naiveId(intent.tag ?? '');
  const pk = tagPartition(intent.registry, intent.repository);
  const { resource } = await container.item(id, pk).read<NaiveDoc>();
  const doc: NaiveDoc = resource
    ? { id, pk, type: 'naive-tag', regions: resource.regions, completed: resource.completed }
    : { id, pk, type: 'naive-tag', regions: {}, completed: [] };
  const current = doc.regions[region];
  if (current && current.at >= intent.timestamp) return { wrote: false, emitted: false };
  doc.regions[region] = { digest: intent.digest, at: intent.timestamp };
  const newest = Object.values(doc.regions).reduce((a, b) => (b.at > a.at ? b : a));
  const complete =
    required.every((r) => doc.regions[r]?.digest === newest.digest) &&
    !doc.completed.includes(newest.digest);
  if (complete) doc.completed.push(newest.digest);
  await container.items.upsert(doc);
  if (complete) {
    await container.items.create({
      id: randomUUID(),
      pk: 'naive-events',
      type: 'naive-event',
      tag: intent.tag,
      digest: newest.digest,
    });
  }
  return { wrote: true, emitted: complete };
}

export async function readNaiveRegions(
  container: Container,
  registry: string,
  repository: string,
  tag: string,
): Promise<Record<string, { digest: string; at: string }>> {
  const { resource } = await container
    .item(naiveId(tag), tagPartition(registry, repository))
    .read<NaiveDoc>();
  return resource?.regions ?? {};
}
