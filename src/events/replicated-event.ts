// The "fully replicated" CloudEvent: built from a completed round, with an id stable per (tag, digest).
import { createHash } from 'node:crypto';
import type { Evaluation, TagState } from '../replication/tag-state';
import { replicationMillis } from '../replication/tag-state';
import type { Instant } from '../replication/timestamp';

export const REPLICATED_EVENT_TYPE = 'acrgate.tag.replicated';

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

export interface ReplicatedEvent {
  specversion: '1.0';
  id: string;
  type: typeof REPLICATED_EVENT_TYPE;
  source: string;
  subject: string;
  time: Instant;
  datacontenttype: 'application/json';
  data: ReplicatedEventData;
}

/** Same (registry, repository, tag, digest), same id: consumers de-duplicate on it. */
export function replicatedEventId(
  registry: string,
  repository: string,
  tag: string | null,
  digest: string,
): string {
  const hash = createHash('sha256')
    .update(JSON.stringify([REPLICATED_EVENT_TYPE, registry, repository, tag, digest]))
    .digest('hex');
  // Formatted as a UUID so tools that expect one are happy; 122 bits of the hash.
  return [
    hash.slice(0, 8),
    hash.slice(8, 12),
    `5${hash.slice(13, 16)}`,
    ((parseInt(hash.slice(16, 18), 16) & 0x3f) | 0x80).toString(16) + hash.slice(18, 20),
    hash.slice(20, 32),
  ].join('-');
}

export function toReplicatedEvent(state: TagState, evaluation: Evaluation): ReplicatedEvent {
  const { digest, replicatedAt } = evaluation;
  if (digest === null || replicatedAt === null) {
    throw new Error('toReplicatedEvent needs a replicated evaluation');
  }
  const reference =
    state.tag === null ? `${state.repository}@${digest}` : `${state.repository}:${state.tag}`;
  return {
    specversion: '1.0',
    id: replicatedEventId(state.registry, state.repository, state.tag, digest),
    type: REPLICATED_EVENT_TYPE,
    source: `/registries/${state.registry}`,
    subject: reference,
    time: replicatedAt,
    datacontenttype: 'application/json',
    data: {
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
    },
  };
}
