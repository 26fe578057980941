// The app started with exactly the app settings infra/app/api.bicep gives it, as App Service would
// resolve them (Key Vault references included), against the embedded Cosmos DB.
//
// One departure, unavoidable here: COSMOS_KEY. On Azure the app reaches Cosmos DB with its managed
// identity (AZURE_CLIENT_ID, set by infra/), but @azure/cosmos sends Entra ID tokens over https
// only, and the embedded server speaks http. Everything else is as deployed.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { CosmosClient } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings, SETTINGS_SCHEMA } from '../../src/config/settings';
import { startEmbeddedCosmos, type EmbeddedCosmos } from '../../dev/embedded-cosmos';
import { loadFunctionApp, type LocalHost } from '../../dev/local-host';
import { appRoot, REGIONS } from '../support/app-host';
import { LOOPBACK_PLATFORM } from '../support/azure-platform';
import {
  declarations,
  keysOfVar,
  literal,
  propertyValue,
  tokenize,
  type Token,
} from '../support/bicep';
import { directClient, freshDatabase } from '../support/cosmos';
import { aDigest, aPushEvent } from '../support/fixtures';

const infra = path.resolve(__dirname, '../../infra');
const settingsInBicep = keysOfVar(
  tokenize(readFileSync(path.join(infra, 'app/api.bicep'), 'utf8')),
  'appSettings',
);
const db = declarations(tokenize(readFileSync(path.join(infra, 'app/db.bicep'), 'utf8'))).find(
  (d) => d.name === 'container',
)!.body;

const CLIENT_ID = '5c1f2a8e-9d4b-4c6a-8e2f-0a1b2c3d4e5f';
const SUBSCRIPTION = '0b9e8d7c-6a5b-4c3d-9e2f-1a0b9c8d7e6f';
const alnum = (prefix: string) => `${prefix}${aDigest().slice(7, 33)}`;
/** The vault as platform.bicep fills it: one token per list, alphanumeric. */
const VAULT: Record<string, string> = {
  'webhook-tokens': alnum('wh'),
  'admin-tokens': alnum('ad'),
  'read-tokens': alnum('rd'),
};

/** Shows tokens as Bicep source, strings quoted: the key of an ARM-computed value. */
const source = (tokens: Token[]) =>
  tokens.map((t) => (t.kind === 'string' ? `'${t.text}'` : t.text)).join('');

/**
 * The settings App Service would hold: literals as written, module parameters as main.bicep
 * passes them, values ARM computes at deployment (named by their expression) as ARM would give
 * them, Key Vault references resolved. A setting this cannot value fails the test, so a new one
 * in Bicep is never skipped silently.
 */
function deployedSettings(
  params: Record<string, string>,
  arm: Record<string, string>,
  options: { withRegistry: boolean },
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { key, value, conditional } of settingsInBicep) {
    if (conditional && !options.withRegistry) continue;
    const [only] = value;
    let resolved: string | undefined;
    if (value.length === 1 && only?.kind === 'string') {
      resolved = only.text.replace(/\$\{(\w+)\}/g, (_, name: string) => {
        if (!(name in params)) throw new Error(`${key}: no value for parameter ${name}`);
        return params[name]!;
      });
    } else if (value.length === 1 && only?.kind === 'ident') {
      resolved = params[only.text];
    } else {
      resolved = arm[source(value)];
    }
    if (resolved === undefined) throw new Error(`${key}: no value for ${source(value)}`);
    const reference = /^@Microsoft\.KeyVault\(VaultName=([^;]+);SecretName=([^)]+)\)$/.exec(
      resolved,
    );
    if (reference) {
      expect(reference[1]).toBe(params.keyVaultName);
      resolved = VAULT[reference[2]!];
      if (resolved === undefined) throw new Error(`${key}: no secret ${reference[2]}`);
    }
    env[key] = resolved;
  }
  return env;
}

let cosmos: EmbeddedCosmos;
let host: LocalHost;
let url: string;
let reader: CosmosClient;
const logs: string[] = [];
const database = freshDatabase();
let deployed: Record<string, string>;
let params: Record<string, string>;
let arm: Record<string, string>;
/** The app as first deployed, before infra/ has created the database: asked once, in beforeAll. */
let beforeInfra: { health: number; databases: string[] };

beforeAll(async () => {
  cosmos = await startEmbeddedCosmos();
  reader = directClient(cosmos);
  params = {
    identityClientId: CLIENT_ID,
    keyVaultName: 'kv-test',
    cosmosEndpoint: cosmos.endpoint,
    cosmosDatabaseName: database,
    cosmosContainerName: 'replication',
    replicationRegions: REGIONS.join(','),
    registryName: 'contoso',
    registryResourceGroupName: 'rg-registry',
  };
  arm = {
    'storage.properties.primaryEndpoints.blob': 'https://stexample.blob.core.windows.net/',
    // Ingestion at a closed loopback port: nothing leaves the machine.
    'appInsights.properties.ConnectionString':
      'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/',
    'subscription().subscriptionId': SUBSCRIPTION,
    "join(webhookNames,',')": REGIONS.map((r) => `acrgate${r}`).join(','),
  };
  deployed = deployedSettings(params, arm, { withRegistry: true });
  for (const name of Object.keys(SETTINGS_SCHEMA.shape)) delete process.env[name];
  Object.assign(process.env, LOOPBACK_PLATFORM, deployed, { COSMOS_KEY: cosmos.key });
  host = await loadFunctionApp({ appRoot, log: (line) => logs.push(line) });
  ({ url } = await host.listen(0));
  // Seen here, before any test, because a test creates the database (as infra/ would) and the
  // app cannot be loaded twice in one process: whichever test runs first, this is what it met.
  const health = await fetch(`${url}/api/health`);
  await health.arrayBuffer();
  const { resources } = await reader.databases.readAll().fetchAll();
  beforeInfra = { health: health.status, databases: resources.map((d) => d.id) };
});

afterAll(async () => {
  await host?.close();
  await cosmos?.close();
});

const call = (route: string, token: string, init: RequestInit = {}) =>
  fetch(`${url}${route}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  });

describe('the app with the app settings infra/ gives it', () => {
  it('has them identity-based: no key, no connection string with a secret', () => {
    expect(deployed).toMatchObject({
      AzureWebJobsStorage__credential: 'managedidentity',
      AzureWebJobsStorage__clientId: CLIENT_ID,
      AZURE_CLIENT_ID: CLIENT_ID,
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: `ClientId=${CLIENT_ID};Authorization=AAD`,
      COSMOS_CREATE_IF_MISSING: 'false',
      WEBHOOK_TOKENS: VAULT['webhook-tokens'],
    });
    expect(Object.keys(deployed)).not.toContain('COSMOS_KEY');
  });

  it('does not create the database: until infra/ has, the store is unhealthy and says why', () => {
    expect(beforeInfra.health).toBe(503);
    expect(logs.join('\n')).toMatch(/COSMOS_CREATE_IF_MISSING is false/);
    expect(beforeInfra.databases).not.toContain(database);
  });

  it('works once the database and container exist as db.bicep makes them', async () => {
    const { database: created } = await reader.databases.create({ id: database });
    await created.containers.create({
      id: params.cosmosContainerName!,
      partitionKey: literal(propertyValue(db, 'partitionKey')) as { paths: string[] },
      indexingPolicy: literal(propertyValue(db, 'indexingPolicy')) as object,
    });
    expect((await fetch(`${url}/api/health`)).status).toBe(200);

    const digest = aDigest();
    for (const [i, region] of REGIONS.entries()) {
      const body = aPushEvent({ tag: 'deployed', digest, timestamp: `2026-03-14T09:00:0${i}Z` });
      const response = await call(`/api/webhooks/acr/${region}`, VAULT['webhook-tokens']!, {
        method: 'POST',
        body: JSON.stringify(body),
      });
      expect(response.status).toBe(202);
    }
    const status = await call(
      '/api/replications/contoso.azurecr.io/public/products/web:deployed',
      VAULT['admin-tokens']!,
    );
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({ status: 'replicated', digest });
  });

  it('reconciles from ARM (the RECONCILE_* target is complete) when a registry is given', () => {
    expect(host.functions.map((f) => f.name)).toContain('reconcileWebhooks');
    const without = loadSettings({
      ...deployedSettings(params, arm, { withRegistry: false }),
      COSMOS_KEY: cosmos.key,
    });
    expect(without.reconcile).toBeUndefined();
    expect(loadSettings({ ...deployed, COSMOS_KEY: cosmos.key }).reconcile).toMatchObject({
      subscriptionId: SUBSCRIPTION,
      registryName: 'contoso',
      webhooks: REGIONS.map((r) => `acrgate${r}`),
    });
  });

  it('refuses to start on a Key Vault reference App Service could not resolve', () => {
    const unresolved = {
      ...deployed,
      ADMIN_TOKENS: '@Microsoft.KeyVault(VaultName=kv-test;SecretName=admin-tokens)',
    };
    expect(() => loadSettings(unresolved)).toThrow(/invalid setting ADMIN_TOKENS: .*Key Vault/);
  });
});
