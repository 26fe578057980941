// Test access to the embedded Cosmos DB through the real @azure/cosmos client.
import { randomUUID } from 'node:crypto';
import { CosmosClient } from '@azure/cosmos';
import { afterAll, beforeAll } from 'vitest';
import { startEmbeddedCosmos, type EmbeddedCosmos } from '../../dev/embedded-cosmos';
import type { RegionsDeps } from '../../src/app/required-regions';
import { makeTagCache } from '../../src/app/tag-cache';
import { systemClock } from '../../src/main';
import {
  createCosmosClient,
  makeCosmosStore,
  type CosmosSettings,
} from '../../src/store/cosmos-store';
import { lateBound } from './late-bound';

export const freshDatabase = (): string => `test-${randomUUID()}`;

export function cosmosSettings(endpoint: string, key: string, database: string): CosmosSettings {
  return { endpoint, key, database, container: 'replication' };
}

/** One "function instance": its own CosmosClient, as separate instances would have. */
export function anInstance(
  settings: CosmosSettings,
  defaultRegions: readonly string[] = ['westus', 'eastus', 'canadacentral', 'westeurope'],
): RegionsDeps {
  const client = createCosmosClient(settings);
  return {
    store: makeCosmosStore(client, settings),
    clock: systemClock,
    defaultRegions,
    maxAttempts: 40,
    // As src/main.ts composes it: each instance remembers the tags it wrote.
    tagCache: makeTagCache(),
  };
}

/** A client of the test's own, straight to the server: not one the code under test made. */
export const directClient = (cosmos: Pick<EmbeddedCosmos, 'endpoint' | 'key'>): CosmosClient =>
  new CosmosClient({
    endpoint: cosmos.endpoint,
    key: cosmos.key,
    connectionPolicy: { enableEndpointDiscovery: false },
  });

export interface TestCosmos extends EmbeddedCosmos {
  /** directClient for this server. */
  reader: CosmosClient;
}

/** The embedded Cosmos DB for the calling test file: started in a beforeAll, closed in an afterAll. */
export function useEmbeddedCosmos(): TestCosmos {
  let cosmos: TestCosmos | undefined;
  beforeAll(async () => {
    const server = await startEmbeddedCosmos();
    cosmos = { ...server, reader: directClient(server) };
  });
  afterAll(async () => {
    cosmos?.reader.dispose();
    await cosmos?.close();
  });
  return lateBound(() => cosmos, 'the embedded Cosmos DB');
}
