// The events a round produces: "replicated" once per (tag, digest), "arrived" once per (tag, digest, region), "stalled" once per late round.
import { createHash } from 'node:crypto';
import { CloudEvent } from 'cloudevents';
import type { Evaluation, TagState } from '../replication/tag-state';
import { replicationMillis } from '../replication/tag-state';
import type { Instant } from '../replication/timestamp';
import { millisBetween } from '../replication/timestamp';
import { ARRIVED_EVENT_TYPE, REPLICATED_EVENT_TYPE, STALLED_EVENT_TYPE } from './event-types';
import type { GateEvent } from './types';

export { ARRIVED_EVENT_TYPE, REPLICATED_EVENT_TYPE, STALLED_EVENT_TYPE };

export interface ReplicatedEventData {
  registry: string;
  repository: string;
  tag: string | null;
  digest: string;
  regions: { region: string; arrivedAt: Instant }[];
  pushedAt: Instant | null;
  replicatedAt: Instant;
  durationMs: number | null;
}

export interface StalledEventData {
  registry: string;
  repository: string;
  tag: string | null;
  digest: string;
  pushedAt: Instant;
  missingRegions: string[];
  arrivedRegions: string[];
  stalledAfterMs: number;
  /** Per region, the manifests of a multi-platform image it still lacks (or has not confirmed). */
  missingManifests?: Record<string, string[]>;
  /** Why the round cannot complete on webhooks alone (an unreadable index). */
  reason?: string;
}

export interface ArrivedEventData {
  registry: string;
  repository: string;
  tag: string | null;
  digest: string;
  region: string;
  /** Whether the region is one of the registry's required regions. */
  required: boolean;
  arrivedAt: Instant;
  pushedAt: Instant | null;
  /** From the push to this region's arrival. */
  lagMs: number | null;
  /** Required regions the digest has still not reached when this region reported. */
  missingRegions: string[];
}

/** What a tag's write puts in its outbox: the event, and what an `acr` relay needs. */
/** The repository an event is about: every event of a tag names its registry and repository. */
export function repositoryOf(
  event: GateEvent,
): { registry: string; repository: string } | undefined {
  const { registry, repository } = event.data as { registry?: unknown; repository?: unknown };
  return typeof registry === 'string' && typeof repository === 'string'
    ? { registry, repository }
    : undefined;
}

export interface OutboxEntry {
  event: GateEvent;
  acrPayload?: Record<string, unknown>;
}

/** Same inputs, same id: consumers de-duplicate on it. Formatted as a name-based UUID. */
export function stableEventId(type: string, ...parts: (string | null)[]): string {
  const hash = createHash('sha256')
    .update(JSON.stringify([type, ...parts]))
    .digest('hex');
  const variant = ((parseInt(hash.slice(16, 18), 16) & 0x3f) | 0x80).toString(16);
  return [
    hash.slice(0, 8),
    hash.slice(8, 12),
    `5${hash.slice(13, 16)}`,
    variant + hash.slice(18, 20),
    hash.slice(20, 32),
  ].join('-');
}

export const replicatedEventId = (
  registry: string,
  repository: string,
  tag: string | null,
  digest: string,
  /** The start of the round: a digest pushed to a tag again (a rollback) is a new round. */
  pushedAt?: string | null,
): string =>
  pushedAt === undefined || pushedAt === null
    ? stableEventId(REPLICATED_EVENT_TYPE, registry, repository, tag, digest)
    : stableEventId(REPLICATED_EVENT_TYPE, registry, repository, tag, digest, pushedAt);

const subjectOf = (state: TagState, digest: string): string =>
  state.tag === null ? `${state.repository}@${digest}` : `${state.repository}:${state.tag}`;

/**
 * Validated by the CloudEvents SDK; `time` keeps ACR's nine fractional digits (the SDK would cut
 * them to milliseconds, and RFC 3339 allows any precision).
 */
function toGateEvent<T extends object>(
  fields: { id: string; type: string; source: string; subject: string; time: Instant },
  data: T,
): GateEvent {
  const validated = new CloudEvent<T>(
    { ...fields, datacontenttype: 'application/json', data },
    true,
  ).toJSON();
  return {
    specversion: '1.0',
    id: String(validated.id),
    type: String(validated.type),
    source: String(validated.source),
    subject: fields.subject,
    time: fields.time,
    datacontenttype: 'application/json',
    data: { ...data } as Record<string, unknown>,
  };
}

export function toReplicatedEvent(state: TagState, evaluation: Evaluation): OutboxEntry {
  const { digest, replicatedAt } = evaluation;
  if (digest === null || replicatedAt === null) {
    throw new Error('toReplicatedEvent needs a replicated evaluation');
  }
  const data: ReplicatedEventData = {
    registry: state.registry,
    repository: state.repository,
    tag: state.tag,
    digest,
    regions: evaluation.regions
      .filter((r) => r.required && r.arrivedAt !== undefined)
      .map((r) => ({ region: r.region, arrivedAt: r.arrivedAt as Instant })),
    pushedAt: evaluation.pushedAt,
    replicatedAt,
    durationMs: replicationMillis(evaluation),
  };
  const event = toGateEvent(
    {
      id: replicatedEventId(
        state.registry,
        state.repository,
        state.tag,
        digest,
        evaluation.pushedAt,
      ),
      type: REPLICATED_EVENT_TYPE,
      source: `/registries/${state.registry}`,
      subject: subjectOf(state, digest),
      time: replicatedAt,
    },
    data,
  );
  const push = state.pushes[digest];
  return push ? { event, acrPayload: push.payload } : { event };
}

export function toStalledEvent(state: TagState, evaluation: Evaluation, now: Instant): OutboxEntry {
  const { digest, pushedAt } = evaluation;
  if (digest === null || pushedAt === null) throw new Error('toStalledEvent needs an open round');
  const data: StalledEventData = {
    registry: state.registry,
    repository: state.repository,
    tag: state.tag,
    digest,
    pushedAt,
    missingRegions: evaluation.missingRegions,
    arrivedRegions: evaluation.regions
      .filter((r) => r.required && r.status === 'arrived')
      .map((r) => r.region),
    stalledAfterMs: millisBetween(pushedAt, now),
  };
  const missing = evaluation.regions.filter((r) => r.required && r.missing !== undefined);
  if (missing.length > 0) {
    data.missingManifests = Object.fromEntries(missing.map((r) => [r.region, r.missing ?? []]));
  }
  if (evaluation.reason !== undefined) data.reason = evaluation.reason;
  return {
    event: toGateEvent(
      {
        id: stableEventId(
          STALLED_EVENT_TYPE,
          state.registry,
          state.repository,
          state.tag,
          digest,
          pushedAt,
        ),
        type: STALLED_EVENT_TYPE,
        source: `/registries/${state.registry}`,
        subject: subjectOf(state, digest),
        time: now,
      },
      data,
    ),
  };
}

export const arrivedEventId = (
  registry: string,
  repository: string,
  tag: string | null,
  digest: string,
  region: string,
): string => stableEventId(ARRIVED_EVENT_TYPE, registry, repository, tag, digest, region);

/** The digest reached one region; `region` must be an arrived view of the evaluation's digest. */
export function toArrivedEvent(
  state: TagState,
  evaluation: Evaluation,
  region: { region: string; required: boolean; arrivedAt: Instant },
): OutboxEntry {
  const { digest, pushedAt } = evaluation;
  if (digest === null) throw new Error('toArrivedEvent needs a digest');
  const data: ArrivedEventData = {
    registry: state.registry,
    repository: state.repository,
    tag: state.tag,
    digest,
    region: region.region,
    required: region.required,
    arrivedAt: region.arrivedAt,
    pushedAt,
    lagMs: pushedAt === null ? null : millisBetween(pushedAt, region.arrivedAt),
    missingRegions: evaluation.missingRegions,
  };
  return {
    event: toGateEvent(
      {
        id: arrivedEventId(state.registry, state.repository, state.tag, digest, region.region),
        type: ARRIVED_EVENT_TYPE,
        source: `/registries/${state.registry}`,
        subject: subjectOf(state, digest),
        time: region.arrivedAt,
      },
      data,
    ),
  };
}
