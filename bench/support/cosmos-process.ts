// Child process: the embedded Cosmos DB server with the counting proxy in front, apart from the app's CPU.
import { startEmbeddedCosmos } from '../../dev/embedded-cosmos';
import { serveRpc } from './child-rpc';
import { startCountingProxy } from './counting-proxy';
import { useLinearScans } from './linear-scan';

async function main(): Promise<void> {
  // A query must not cost O(n²) in the container's size, or the growth run measures the engine.
  useLinearScans();
  const cosmos = await startEmbeddedCosmos();
  const proxy = await startCountingProxy(new URL(cosmos.endpoint));
  serveRpc(
    {
      snapshot: () => proxy.snapshot(),
      memory: () => process.memoryUsage(),
    },
    { endpoint: proxy.endpoint, directEndpoint: cosmos.endpoint, key: cosmos.key },
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
