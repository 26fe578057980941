// Child process: the bare baseline, an HTTP server that does one Cosmos DB upsert per request and nothing else.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

const bootMs = performance.now();

async function main(): Promise<void> {
  const { CosmosClient } = await import('@azure/cosmos');
  const { serveRpc } = await import('./child-rpc');
  const env = process.env;
  const client = new CosmosClient({
    endpoint: env.COSMOS_ENDPOINT ?? '',
    key: env.COSMOS_KEY ?? '',
    // The same connection policy as the app (src/store/cosmos-store.ts) against the embedded server.
    connectionPolicy: { enableEndpointDiscovery: false, requestTimeout: 10_000 },
  });
  const container = client.database(env.COSMOS_DATABASE ?? '').container('replication');
  const loadedMs = performance.now();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const region = (req.url ?? '').split('/').pop() ?? 'unknown';
      void (async () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
            id: string;
            target: { repository: string; tag?: string; digest: string };
            request: { host: string };
          };
          await container.items.upsert({
            id: `arrival:${region}:${body.id}`,
            pk: `${body.request.host}/${body.target.repository}`,
            type: 'arrival',
            region,
            tag: body.target.tag ?? null,
            digest: body.target.digest,
            payload: body,
          });
          res.writeHead(202, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ status: 'recorded', region }));
        } catch (error) {
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: String(error) }));
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const listeningMs = performance.now();
  const { port } = server.address() as AddressInfo;
  serveRpc(
    { memory: () => process.memoryUsage() },
    { url: `http://127.0.0.1:${port}`, bootMs, loadedMs, listeningMs },
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
