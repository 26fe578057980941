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
export const EVENTS_PARTITION = 'events';
export const SUBSCRIPTIONS_PARTITION = 'subscriptions';
/** An event's deliveries share a partition, so an event's page reads them in one query. */
export const deliveryPartition = (eventId: string): string => `deliveries:${eventId}`;
export const deliveryId = (subscriptionId: string): string =>
  `delivery:${encodeId(subscriptionId)}`;

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
