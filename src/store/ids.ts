// Cosmos DB item ids may not contain / \ ? #: percent-encoding is reversible, so nothing collides.
export function encodeId(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

export function decodeId(id: string): string {
  return decodeURIComponent(id);
}

/** One repository's tags share a partition: they are read together and deleted together. */
export const tagPartition = (registry: string, repository: string): string =>
  `${registry}/${repository}`;

export const tagId = (key: { tag: string | null; untaggedDigest?: string }): string =>
  key.tag !== null ? `tag:${encodeId(key.tag)}` : `digest:${encodeId(key.untaggedDigest ?? '')}`;

export const registryPartition = (registry: string): string => `registry:${registry}`;
/** Where events lived before they moved beside their tag; still read (the feed is partition-agnostic). */
export const EVENTS_PARTITION = 'events';
export const SUBSCRIPTIONS_PARTITION = 'subscriptions';
/**
 * Events and deliveries live beside their tag, in its partition, so the write that decides them
 * stores them too (one request). Deliveries opened before that live in their event's own partition.
 */
export const legacyDeliveryPartition = (eventId: string): string => `deliveries:${eventId}`;
export const legacyDeliveryId = (subscriptionId: string): string =>
  `delivery:${encodeId(subscriptionId)}`;
export const deliveryId = (eventId: string, subscriptionId: string): string =>
  `delivery:${encodeId(eventId)}:${encodeId(subscriptionId)}`;

/** Deletes live beside the repository's tags, in the same partition. */
export const deletionId = (digest: string): string => `deleted:${encodeId(digest)}`;

/** A repository's approvals share a partition: its tags' writes look them up in one query. */
export const approvalPartition = (registry: string, repository: string): string =>
  `approvals:${registry}/${repository}`;
export const approvalId = (id: string): string => `approval:${encodeId(id)}`;
export const GITHUB_ENVIRONMENTS_PARTITION = 'github-environments';
/** GitHub owner and repository names are case-insensitive; environment names are not. */
export const githubEnvironmentId = (owner: string, repo: string, environment: string): string =>
  `env:${encodeId(`${owner.toLowerCase()}/${repo.toLowerCase()}/${environment}`)}`;
