// Preloaded (`node --require`) into an app instance by `profile-ingest --target=app-memory`: the
// app's Cosmos DB store becomes the handler tests' in-memory one, so the run shows what the app
// costs with no database, no SDK and no network. A measurement aid only: never on a served path.
import { createRequire } from 'node:module';
import { makeMemoryStore } from '../../test/support/memory-store';

// The compiled app calls `cosmos_store_1.makeCosmosStore(…)` through this module's exports.
const cosmosStore = createRequire(__filename)('../../src/store/cosmos-store') as {
  makeCosmosStore: unknown;
};
cosmosStore.makeCosmosStore = () => makeMemoryStore();
