// The ports the use cases need; the Cosmos adapter implements them, tests may fake them.
import type { OutboxEntry } from '../events/replicated-event';
import type { AttemptResult, StoredEvent, Subscription } from '../events/types';
import type { Reference } from '../replication/names';
import type { ImageChild } from '../replication/image-index';
import type { Evaluation, TagKey, TagState } from '../replication/tag-state';
import type { Instant } from '../replication/timestamp';

/** A tag as stored: its observations plus what was derived from them when it was written. */
export interface TagRecord {
  state: TagState;
  evaluation: Evaluation;
  /** Events decided with this write and not yet copied to the event store. */
  outbox: OutboxEntry[];
  /**
   * Digest → regions whose arrival event was decided: written with the state, so each
   * (tag, digest, region) is announced once. Absent in records written before arrival events.
   */
  arrivals?: Record<string, string[]>;
  updatedAt: Instant;
}

export interface StoredTag {
  record: TagRecord;
  etag: string;
}

export type SaveResult = { ok: true; etag: string } | { ok: false; reason: 'conflict' };

/**
 * What a tag write decided, stored with it in one request to the tag's partition: the events, and
 * a delivery per subscription that wants each. All or nothing, so no outbox is needed.
 */
export interface Decided {
  events: { entry: OutboxEntry; recordedAt: Instant }[];
  deliveries: DeliveryRecord[];
}

/**
 * The deletes of one digest as a write saw them. A write that completes a round carries them, and
 * lands only if they are still so when it lands: a delete recorded meanwhile refuses the write
 * (`deletes-changed`), so no round completes past a delete, and no read is needed to know it.
 */
export interface SeenDeletes {
  digest: string;
  /** Region → latest delete timestamp; empty when none is recorded. */
  regions: Record<string, Instant>;
  /** The store's version of what was seen; null when the store holds nothing for the digest. */
  version: string | null;
  /** When a delete was last recorded (what the sweep goes by); null when none is. */
  updatedAt: Instant | null;
}

/** What is known of a digest for which the store holds no deletes. */
export const noDeletesSeen = (digest: string): SeenDeletes => ({
  digest,
  regions: {},
  version: null,
  updatedAt: null,
});

/** A saved tag, and the deliveries stored with it (with their ETags, for their first attempt). */
export type TagSaveResult =
  | {
      ok: true;
      etag: string;
      deliveries: StoredDelivery[];
      /** With `deletes`: their version after the write, which checked (and so touched) them. */
      deletesVersion?: string;
    }
  | { ok: false; reason: 'conflict' | 'deletes-changed' };

/** Most items one tag write stores with it (the store's limit per request, the tag included). */
export const MAX_ITEMS_PER_WRITE = 100;

export interface TagListQuery {
  registry: string;
  repository?: string;
  status?: Evaluation['status'];
  pageSize: number;
  continuationToken?: string;
}

export interface TagRepository {
  get(key: TagKey): Promise<StoredTag | undefined>;
  /**
   * Create (`expected` 'absent') or replace only if the ETag still matches; with `decided`, its
   * events and deliveries in the same request (at most MAX_ITEMS_PER_WRITE items in all); with
   * `deletes`, only if the digest's deletes are still as seen, checked in the same request (and
   * counted among its items).
   */
  save(
    record: TagRecord,
    expected: { etag: string } | 'absent',
    decided?: Decided,
    deletes?: SeenDeletes,
  ): Promise<TagSaveResult>;
  findByDigest(registry: string, repository: string, digest: string): Promise<StoredTag[]>;
  /** Many tags of one repository in one query (those that exist), for batched reads. */
  getMany(registry: string, repository: string, tags: string[]): Promise<StoredTag[]>;
  /** Whether the registry has any tag recorded: a cheap TOP 1 read. */
  anyInRegistry(registry: string): Promise<boolean>;
  /** The tags of one repository that have seen any of these digests, in one query. */
  findByDigests(registry: string, repository: string, digests: string[]): Promise<StoredTag[]>;
  list(query: TagListQuery): Promise<{ items: TagRecord[]; continuationToken: string | null }>;
  /** Tags of a registry whose round is still open (not replicated, not deleted). */
  listOpen(registry: string): AsyncIterable<TagKey>;
  /** Tags whose outbox still holds events (a publish that failed half-way). */
  listWithOutbox(limit: number): Promise<TagKey[]>;
  /** Open rounds pushed before `pushedBefore` that were not reported stalled yet. */
  listStallCandidates(pushedBefore: Instant, limit: number): Promise<TagKey[]>;
}

export interface RegistryRepository {
  /** `fresh` skips any cache in front of the store (an instance's few seconds of memory). */
  getRegions(
    registry: string,
    options?: { fresh?: boolean },
  ): Promise<{ regions: string[]; updatedAt: Instant } | undefined>;
  putRegions(registry: string, regions: string[], at: Instant): Promise<void>;
  /** Registries whose regions were PUT at or after `since`. */
  listChangedSince(since: Instant): Promise<string[]>;
}

declare const eventCursorBrand: unique symbol;
/**
 * Where a reader of the feed stopped: issued by the store with each listed event and refused by
 * it (InvalidEventCursorError) when it did not issue it. Opaque: outside the store, a cursor is
 * kept and handed back, never read or built.
 */
export type EventCursor = string & { readonly [eventCursorBrand]: true };

/** A cursor as a client sent it back: unchecked here; the store checks it when it is used. */
export const eventCursor = (text: string): EventCursor => text as EventCursor;

export interface EventPage {
  items: (StoredEvent & { cursor: EventCursor })[];
}

/** Which events `latest` returns: all of them, or one registry's (CloudEvents `source`). */
export interface EventFilter {
  registry?: string;
}

export interface EventRepository {
  /** Idempotent: storing an event id that is already stored changes nothing. */
  add(entry: OutboxEntry, recordedAt: Instant): Promise<void>;
  get(id: string): Promise<StoredEvent | undefined>;
  /**
   * In the order they were recorded (then by id), after `after`, from every partition; with
   * `recordedBefore`, only the events recorded before it (the feed's settle window). Throws
   * InvalidEventCursorError for a cursor this store did not issue.
   */
  list(after: EventCursor | undefined, limit: number, recordedBefore?: Instant): Promise<EventPage>;
  /** The newest `limit` events (of one registry with `filter`), newest first; no settle window. */
  latest(limit: number, filter?: EventFilter): Promise<StoredEvent[]>;
  /** Records the event again at `recordedAt` (later in the feed): its first write landed late. */
  restamp(id: string, recordedAt: Instant): Promise<void>;
}

export interface SubscriptionRepository {
  create(subscription: Subscription): Promise<void>;
  get(id: string): Promise<Subscription | undefined>;
  list(): Promise<Subscription[]>;
  /** False when there was nothing to delete. */
  delete(id: string): Promise<boolean>;
  disable(id: string, reason: string): Promise<void>;
}

export type DeliveryState = 'pending' | 'delivered' | 'dead' | 'gone' | 'cancelled';

/** One event's delivery to one subscription, with every attempt. */
export interface DeliveryRecord {
  eventId: string;
  subscriptionId: string;
  state: DeliveryState;
  attempts: AttemptResult[];
  /** Attempts since the delivery was (re)started; drives the retry schedule. */
  attemptsInRound: number;
  /** When it is next due; also the lease while an instance is sending it. */
  nextAttemptAt: Instant | null;
  detail?: string;
  updatedAt: Instant;
  /**
   * The repository of the event's tag: the delivery lives beside it. Absent in deliveries opened
   * before they did (they stay where they were).
   */
  registry?: string;
  repository?: string;
}

export interface StoredDelivery {
  record: DeliveryRecord;
  etag: string;
}

export interface DeliveryRepository {
  /** Idempotent: an existing delivery for the same event and subscription is kept as is. */
  create(record: DeliveryRecord): Promise<void>;
  listForEvent(eventId: string): Promise<StoredDelivery[]>;
  listDue(now: Instant, limit: number): Promise<StoredDelivery[]>;
  save(record: DeliveryRecord, etag: string): Promise<SaveResult>;
}

export interface RecordedDeletion {
  registry: string;
  repository: string;
  digest: string;
  regions: Record<string, Instant>;
}

/**
 * Deletes remembered per (repository, digest), whatever tags point at it: a delete delivered
 * before any push of its digest to a tag still applies when that round would complete (the write
 * that completes it checks them: see SeenDeletes).
 */
export interface DeletionRepository {
  /** The digest's deletes and their version (regions empty, version null: none recorded). */
  get(registry: string, repository: string, digest: string): Promise<SeenDeletes>;
  /** Keeps the latest timestamp per region; idempotent. `now` stamps the change for the sweep. */
  record(
    registry: string,
    repository: string,
    digest: string,
    region: string,
    at: Instant,
    now: Instant,
  ): Promise<void>;
  /** Deletes recorded at or after `since`, for the sweep to apply to tags that raced them. */
  listChangedSince(since: Instant): Promise<RecordedDeletion[]>;
}

/** Who waits on an approval: each kind has its own answerer (see src/approvals/). */
export type ApprovalKind = 'azure-pipelines' | 'github';

/**
 * waiting: not decided yet. answering: decided, claimed for sending (nextAttemptAt is the lease
 * or the next retry). answered / failed: final; whatever secret it held is gone.
 */
export type ApprovalState = 'waiting' | 'answering' | 'answered' | 'failed';

/** A pending answer to an external system that waits on an image (a pipeline check, a deployment). */
export interface ApprovalRecord {
  id: string;
  kind: ApprovalKind;
  registry: string;
  repository: string;
  reference: Reference;
  /** Regions that must have the image; null means the registry's required regions. */
  regions: string[] | null;
  state: ApprovalState;
  decision: { approved: boolean; reason: string; at: Instant } | null;
  /** Past this, a waiting approval is answered negatively. */
  deadline: Instant;
  nextAttemptAt: Instant | null;
  attempts: AttemptResult[];
  /** Status reports sent while waiting (GitHub allows 10), and what the last one said. */
  reports: number;
  lastReport: string | null;
  /** What the answerer needs: URLs, ids and, until answered, a secret. Opaque to the store. */
  target: Record<string, string>;
  detail?: string;
  createdAt: Instant;
  updatedAt: Instant;
}

export interface StoredApproval {
  record: ApprovalRecord;
  etag: string;
}

export interface ApprovalRepository {
  /** False when an approval with this id exists already (a redelivered request): nothing is changed. */
  create(record: ApprovalRecord): Promise<boolean>;
  get(registry: string, repository: string, id: string): Promise<StoredApproval | undefined>;
  /** Waiting approvals on a repository (its tags' writes resume them). */
  listWaiting(registry: string, repository: string): Promise<StoredApproval[]>;
  /** Every waiting approval, and answers whose retry or lease is due: what the timer resumes. */
  listDue(now: Instant, limit: number): Promise<StoredApproval[]>;
  save(record: ApprovalRecord, etag: string): Promise<SaveResult>;
}

/** Which image a GitHub environment deploys: a template over the deployment's sha and ref. */
export interface GithubEnvironmentMapping {
  owner: string;
  repo: string;
  environment: string;
  image: string;
  regions: string[] | null;
  updatedAt: Instant;
}

export interface GithubEnvironmentRepository {
  get(
    owner: string,
    repo: string,
    environment: string,
  ): Promise<GithubEnvironmentMapping | undefined>;
  put(mapping: GithubEnvironmentMapping): Promise<void>;
}

/** An index's children as read once from the registry. */
export interface StoredIndex {
  mediaType: string;
  children: ImageChild[];
}

/** Indexes (immutable, read once) and the per-region arrivals of their child manifests. */
export interface ImageRepository {
  getIndex(registry: string, repository: string, digest: string): Promise<StoredIndex | undefined>;
  putIndex(
    registry: string,
    repository: string,
    digest: string,
    index: StoredIndex,
    at: Instant,
  ): Promise<void>;
  /** Digests of the stored indexes that name `child`. */
  findParents(registry: string, repository: string, child: string): Promise<string[]>;
  /** Per region, which of `digests` its push webhooks reported (and no later delete). */
  childArrivals(
    registry: string,
    repository: string,
    digests: readonly string[],
  ): Promise<Record<string, string[]>>;
  /** Open rounds whose index read or region confirmation is due again. */
  listRetries(now: Instant, limit: number): Promise<TagKey[]>;
}

export interface Store {
  tags: TagRepository;
  images: ImageRepository;
  deletions: DeletionRepository;
  registries: RegistryRepository;
  events: EventRepository;
  subscriptions: SubscriptionRepository;
  deliveries: DeliveryRepository;
  approvals: ApprovalRepository;
  githubEnvironments: GithubEnvironmentRepository;
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

/**
 * A stored item that does not read back (written by an older version, or by hand): a fault of that
 * item, not of the store. Its own read answers 500 and raises an alert; lists and the sweep skip it.
 */
export class StoredItemMalformedError extends Error {
  override readonly name = 'StoredItemMalformedError';
}

/**
 * An arrival timestamped further ahead of this instance's clock than MAX_FUTURE_SKEW_MS. Stored,
 * it would stay the tag's newest push for years and pin the tag: refused instead (a 400).
 */
export class ImplausibleTimestampError extends Error {
  override readonly name = 'ImplausibleTimestampError';
}

/** A continuation token the store did not issue: the caller's mistake, not an outage. */
export class InvalidContinuationTokenError extends Error {
  override readonly name = 'InvalidContinuationTokenError';
}

/** An event cursor the store did not issue (forged, truncated): the caller's mistake, not an outage. */
export class InvalidEventCursorError extends Error {
  override readonly name = 'InvalidEventCursorError';
}
