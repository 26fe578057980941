// Test data builders: realistic ACR payloads with fresh values, overridable per test.
import { randomBytes, randomUUID } from 'node:crypto';
import type { ApprovalRecord } from '../../src/app/ports';
import type { Subscription } from '../../src/events/types';
import { acrEventSchema, toIntent, type Intent } from '../../src/replication/acr-event';
import type { Instant } from '../../src/replication/timestamp';

export const aDigest = (): string => `sha256:${randomBytes(32).toString('hex')}`;

export interface PushOptions {
  registry?: string;
  repository?: string;
  tag?: string | undefined;
  digest?: string;
  timestamp?: string;
  action?: 'push' | 'delete' | 'quarantine';
}

/** A push event exactly as ACR sends it (see shared/reference/acr-webhooks.md). */
export function aPushEvent(options: PushOptions = {}): Record<string, unknown> {
  const target: Record<string, unknown> = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    size: 1042,
    length: 1042,
    digest: options.digest ?? aDigest(),
    repository: options.repository ?? 'public/products/web',
  };
  if (!('tag' in options) || options.tag !== undefined) target.tag = options.tag ?? '1.2';
  return {
    id: randomUUID(),
    timestamp: options.timestamp ?? '2026-03-14T09:26:53.589793238Z',
    action: options.action ?? 'push',
    target,
    request: {
      id: randomUUID(),
      host: options.registry ?? 'contoso.azurecr.io',
      method: 'PUT',
      useragent: 'docker/27.0.3 go/go1.21.11 os/linux arch/amd64',
    },
  };
}

/** A delete event: by digest, with no tag, as ACR sends it when a manifest is deleted. */
export function aDeleteEvent(
  options: Omit<PushOptions, 'tag' | 'action'> = {},
): Record<string, unknown> {
  const event = aPushEvent({ ...options, action: 'delete' });
  const target = event.target as Record<string, unknown>;
  delete target.tag;
  delete target.size;
  delete target.length;
  event.request = { ...(event.request as object), method: 'DELETE' };
  return event;
}

/** All orderings of a list (used with 4 regions: 24 orders). */
export function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [items.slice()];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

/** ACR's quarantine sample: its host (`…:443/`) and short digest would fail validation as a push. */
export const aQuarantineSample = () => ({
  id: '0d799b14-404b-4859-b2f6-50c5ee2a2c3a',
  timestamp: '2018-02-01T00:52:01.8925612Z',
  action: 'quarantine',
  target: {
    size: 524,
    digest: 'sha256:xxxxx',
    length: 524,
    repository: 'hello-world',
    tag: '1',
  },
  request: {
    id: 'c2b8ff99-5b5d-49a9-9d58-bcb4e9f4cd76',
    host: 'myregistry.azurecr.io:443/',
    method: 'GET',
  },
});

export type Arrival = Extract<Intent, { kind: 'push' | 'delete' }>;

/** A push or delete payload as the use cases receive it (parsed, quarantine not counted). */
export function intentOf(event: unknown): Arrival {
  const intent = toIntent(acrEventSchema.parse(event), { countQuarantine: false });
  if (intent.kind !== 'push' && intent.kind !== 'delete') throw new Error('not an arrival');
  return intent;
}

/** A stored subscription to every event, CloudEvents format. */
export const aSubscription = (overrides: Partial<Subscription> = {}): Subscription => ({
  id: 'sub-1',
  url: 'https://hooks.example.net/acr-gate',
  format: 'cloudevents',
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  filter: {},
  headers: {},
  types: [],
  enabled: true,
  createdAt: '2026-03-14T09:30:00.000000000Z' as Instant,
  ...overrides,
});

/** The headers an Azure Pipelines check in Callback mode sends, with fresh ids. */
export const aCheckHeaders = (planUrl: string, authToken = 'a-system-access-token') => ({
  PlanUrl: planUrl,
  ProjectId: randomUUID(),
  HubName: 'build',
  PlanId: randomUUID(),
  JobId: randomUUID(),
  TimelineId: randomUUID(),
  TaskInstanceId: randomUUID(),
  AuthToken: authToken,
});

/** An Azure Pipelines check waiting on `registry/repository:tag`, with a secret it must drop. */
export const aWaitingApproval = (options: {
  id: string;
  registry: string;
  repository: string;
  tag: string;
  at: Instant;
  authToken?: string;
}): ApprovalRecord => ({
  id: options.id,
  kind: 'azure-pipelines',
  registry: options.registry,
  repository: options.repository,
  reference: { kind: 'tag', repository: options.repository, tag: options.tag },
  regions: null,
  state: 'waiting',
  decision: null,
  deadline: '2099-01-01T00:00:00.000000000Z' as Instant,
  nextAttemptAt: null,
  attempts: [],
  reports: 0,
  lastReport: null,
  target: { authToken: options.authToken ?? `secret-${options.id}` },
  createdAt: options.at,
  updatedAt: options.at,
});
