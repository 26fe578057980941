// Test access to the embedded Cosmos DB through the real @azure/cosmos client.
import { randomUUID } from 'node:crypto';
import type { RegionsDeps } from '../../src/app/required-regions';
import { makeTagCache } from '../../src/app/tag-cache';
import { systemClock } from '../../src/main';
import {
  createCosmosClient,
  makeCosmosStore,
  type CosmosSettings,
} from '../../src/store/cosmos-store';

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
