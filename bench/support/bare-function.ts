// The bare server's one upsert (support/baseline-server.ts) written as an Azure Function, for the
// local host to serve: what the host path and @azure/functions cost by themselves.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../../..');

/** The bare server's handler (support/baseline-server.ts) as a function: same upsert, same answer. */
const BARE_FUNCTION = `const { app } = require('@azure/functions');
const { CosmosClient } = require('@azure/cosmos');
const env = process.env;
const client = new CosmosClient({
  endpoint: env.COSMOS_ENDPOINT ?? '',
  key: env.COSMOS_KEY ?? '',
  connectionPolicy: { enableEndpointDiscovery: false, requestTimeout: 10000 },
});
const container = client.database(env.COSMOS_DATABASE ?? '').container('replication');
app.http('acrWebhook', {
  route: 'webhooks/acr/{region}',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: async (request) => {
    const region = request.params.region;
    const body = JSON.parse(await request.text());
    await container.items.upsert({
      id: 'arrival:' + region + ':' + body.id,
      pk: body.request.host + '/' + body.target.repository,
      type: 'arrival', region, tag: body.target.tag ?? null, digest: body.target.digest, payload: body,
    });
    return { status: 202, jsonBody: { status: 'recorded', region } };
  },
});
`;

/** A throw-away Functions app root holding BARE_FUNCTION, resolving packages from this checkout. */
export function bareFunctionRoot(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bare-function-'));
  fs.mkdirSync(path.join(dir, 'functions'));
  fs.writeFileSync(path.join(dir, 'functions/upsert.js'), BARE_FUNCTION);
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'bare-function', private: true, main: 'functions/*.js' }),
  );
  fs.copyFileSync(path.join(root, 'host.json'), path.join(dir, 'host.json'));
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}
