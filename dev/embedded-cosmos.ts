// In-memory Cosmos DB (@vercel/cosmosdb-server) so the app and tests run without the emulator.
import type { AddressInfo } from 'node:net';
import { createHttpServer } from '@vercel/cosmosdb-server';

/** The Cosmos DB emulator's published well-known key; the embedded server accepts any key. */
export const EMULATOR_KEY =
  'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nqVh3DWvkOtIk+C34y7T0qJ2pf0v8HJTbHSq6Gqw==';

export interface EmbeddedCosmos {
  /** e.g. `http://127.0.0.1:8081/`; clients need `connectionPolicy.enableEndpointDiscovery: false`. */
  endpoint: string;
  key: string;
  close(): Promise<void>;
}

export interface EmbeddedCosmosOptions {
  /** Default 0: an ephemeral port. */
  port?: number;
  /** Default 127.0.0.1, so the unauthenticated server is never exposed. */
  hostname?: string;
}

export async function startEmbeddedCosmos(
  options: EmbeddedCosmosOptions = {},
): Promise<EmbeddedCosmos> {
  const hostname = options.hostname ?? '127.0.0.1';
  // Keep-alive: otherwise every SDK request opens a new connection, which dominates local runs.
  const server = createHttpServer({ keepAlive: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, hostname, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = hostname.includes(':') ? `[${hostname}]` : hostname;

  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://${host}:${port}/`,
    key: EMULATOR_KEY,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets would otherwise hold the process (and test runs) open.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
