// The ports the use cases need; the Cosmos adapter implements them, tests may fake them.
import type { ReplicatedEvent } from '../events/replicated-event';
import type { Evaluation, TagKey, TagState } from '../replication/tag-state';
import type { Instant } from '../replication/timestamp';

/** A tag as stored: its observations plus what was derived from them when it was written. */
export interface TagRecord {
  state: TagState;
  evaluation: Evaluation;
  /** Events decided with this write and not yet copied to the event store. */
  outbox: ReplicatedEvent[];
  updatedAt: Instant;
}

export interface StoredTag {
  record: TagRecord;
  etag: string;
}

export type SaveResult = { ok: true; etag: string } | { ok: false; reason: 'conflict' };

export interface TagListQuery {
  registry: string;
  repository?: string;
  status?: Evaluation['status'];
  pageSize: number;
  continuationToken?: string;
}

export interface TagRepository {
  get(key: TagKey): Promise<StoredTag | undefined>;
  /** Create (`expected` 'absent') or replace only if the ETag still matches. */
  save(record: TagRecord, expected: { etag: string } | 'absent'): Promise<SaveResult>;
  findByDigest(registry: string, repository: string, digest: string): Promise<StoredTag[]>;
  list(query: TagListQuery): Promise<{ items: TagRecord[]; continuationToken: string | null }>;
  /** Tags of a registry whose round is still open (not replicated, not deleted). */
  listOpen(registry: string): AsyncIterable<TagKey>;
}

export interface RegistryRepository {
  getRegions(registry: string): Promise<{ regions: string[]; updatedAt: Instant } | undefined>;
  putRegions(registry: string, regions: string[], at: Instant): Promise<void>;
}

export interface EventRepository {
  /** Idempotent: storing an event id that is already stored changes nothing. */
  add(event: ReplicatedEvent): Promise<void>;
  get(id: string): Promise<ReplicatedEvent | undefined>;
}

export interface Store {
  tags: TagRepository;
  registries: RegistryRepository;
  events: EventRepository;
  /** Round trip to the database, for health checks. */
  ping(): Promise<void>;
}

export interface Clock {
  now(): Instant;
}

/** Raised by the store when the database cannot be reached or keeps throttling. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
}
