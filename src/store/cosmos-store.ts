// The Cosmos DB adapter: the only module that imports @azure/cosmos. Conflicts come back as values.
import { CosmosClient, type Container } from '@azure/cosmos';
import type { Store } from '../app/ports';
import { makeApprovalRepository, makeGithubEnvironmentRepository } from './approval-repository';
import { guard, statusOf } from './cosmos-errors';
import { makeDeletionRepository } from './deletion-repository';
import { makeDeliveryRepository } from './delivery-repository';
import { makeEventRepository } from './event-repository';
import { makeImageRepository } from './image-repository';
import { makeRegistryRepository } from './registry-repository';
import { makeSubscriptionRepository } from './subscription-repository';
import { makeTagRepository } from './tag-repository';
import { lazyCredential } from '../util/lazy-credential';

export interface CosmosSettings {
  endpoint: string;
  key: string | undefined;
  database: string;
  container: string;
  /** false: never create, only check that both exist (infra/ creates them). Default true. */
  createIfMissing?: boolean;
}

/** Only what is filtered or sorted on is indexed; observations, payloads and attempts never are. */
/**
 * -1: items never expire unless they carry a `ttl` of their own, as a completing write's
 * no-deletion check does (src/store/deletion-repository.ts). Without it, `ttl` is ignored.
 */
export const CONTAINER_DEFAULT_TTL = -1;

export const INDEXING_POLICY = {
  indexingMode: 'consistent' as const,
  automatic: true,
  includedPaths: [
    { path: '/type/?' },
    { path: '/registry/?' },
    { path: '/repository/?' },
    { path: '/status/?' },
    { path: '/digests/[]/?' },
    { path: '/childDigests/[]/?' },
    { path: '/untaggedDigest/?' },
    { path: '/image/retryAt/?' },
    { path: '/stalls/[]/?' },
    { path: '/digest/?' },
    { path: '/round/?' },
    { path: '/pushedAt/?' },
    { path: '/updatedAt/?' },
    { path: '/outboxSize/?' },
    { path: '/sortKey/?' },
    { path: '/event/source/?' },
    { path: '/state/?' },
    { path: '/nextAttemptAt/?' },
    { path: '/createdAt/?' },
  ],
  excludedPaths: [{ path: '/*' }, { path: '/"_etag"/?' }],
};

export function createCosmosClient(settings: CosmosSettings): CosmosClient {
  // The embedded server speaks plain HTTP on loopback and has no regional endpoints to discover.
  const local = new URL(settings.endpoint).protocol === 'http:';
  return new CosmosClient({
    endpoint: settings.endpoint,
    ...(settings.key
      ? { key: settings.key }
      : { aadCredentials: lazyCredential((identity) => new identity.DefaultAzureCredential()) }),
    connectionPolicy: { enableEndpointDiscovery: !local, requestTimeout: 10_000 },
    userAgentSuffix: 'acr-replication-gate',
  });
}

/** Creates the database and container when missing; partitioned by `/pk`. */
export async function ensureContainer(
  client: CosmosClient,
  settings: CosmosSettings,
): Promise<Container> {
  if (settings.createIfMissing === false) {
    const container = client.database(settings.database).container(settings.container);
    try {
      await container.read();
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
      throw new Error(
        `Cosmos DB container ${settings.database}/${settings.container} does not exist, and COSMOS_CREATE_IF_MISSING is false: create it (infra/ does) or set COSMOS_CREATE_IF_MISSING=true`,
      );
    }
    return container;
  }
  // Nearly always there: one read of the container proves it, where createIfNotExists reads the
  // database, then the container (two round trips in a row on every instance's first request).
  const existing = client.database(settings.database).container(settings.container);
  try {
    await existing.read();
    return existing;
  } catch (error) {
    if (statusOf(error) !== 404) throw error;
  }
  // createIfNotExists is read-then-create: instances starting together race, and the loser sees 409.
  for (let attempt = 1; ; attempt++) {
    try {
      const { database } = await client.databases.createIfNotExists({ id: settings.database });
      const { container } = await database.containers.createIfNotExists({
        id: settings.container,
        partitionKey: { paths: ['/pk'] },
        indexingPolicy: INDEXING_POLICY,
        defaultTtl: CONTAINER_DEFAULT_TTL,
      });
      return container;
    } catch (error) {
      // Entra ID data-plane roles may not create databases or containers (403): then they must
      // exist already (see docs/deploy-azure.md), and reading the container proves it.
      if (statusOf(error) === 403) {
        const container = client.database(settings.database).container(settings.container);
        await container.read();
        return container;
      }
      if (statusOf(error) !== 409 || attempt >= 5) throw error;
    }
  }
}

/**
 * The store over one container. The container is created on first use, and a failed attempt is
 * forgotten so the next request tries again instead of failing forever.
 */
export function makeCosmosStore(client: CosmosClient, settings: CosmosSettings): Store {
  let ready: Promise<Container> | undefined;
  const container = (): Promise<Container> => {
    ready ??= ensureContainer(client, settings).catch((error: unknown) => {
      ready = undefined;
      throw error;
    });
    return ready;
  };
  return {
    tags: makeTagRepository(container),
    images: makeImageRepository(container),
    deletions: makeDeletionRepository(container),
    registries: makeRegistryRepository(container),
    events: makeEventRepository(container),
    subscriptions: makeSubscriptionRepository(container),
    deliveries: makeDeliveryRepository(container),
    approvals: makeApprovalRepository(container),
    githubEnvironments: makeGithubEnvironmentRepository(container),
    ping: () =>
      guard('health check', async () => {
        const c = await container();
        await c.read();
      }),
  };
}
