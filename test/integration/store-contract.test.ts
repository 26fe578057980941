// The store contract against the Cosmos DB adapter (embedded server, real @azure/cosmos) and
// against the in-memory store the handler tests use.
import { createCosmosClient, makeCosmosStore } from '../../src/store/cosmos-store';
import { storeContract } from '../contract/store-contract';
import { cosmosSettings, freshDatabase, useEmbeddedCosmos } from '../support/cosmos';
import { makeMemoryStore } from '../support/memory-store';

const cosmos = useEmbeddedCosmos();

storeContract('Cosmos DB store', () => {
  const settings = cosmosSettings(cosmos.endpoint, cosmos.key, freshDatabase());
  const instance = () => makeCosmosStore(createCosmosClient(settings), settings);
  return { store: instance(), instance };
});

storeContract('in-memory store', () => {
  const store = makeMemoryStore();
  return { store, instance: () => store };
});
