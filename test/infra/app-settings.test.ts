// infra/ against the app, from the files: no setting drifts between Bicep and src/config/settings.ts.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SETTINGS_SCHEMA } from '../../src/config/settings';
import { CONTAINER_DEFAULT_TTL, INDEXING_POLICY } from '../../src/store/cosmos-store';
import {
  declarations,
  keysOfVar,
  literal,
  propertyValue,
  tokenize,
  type Token,
} from '../support/bicep';

const infra = path.resolve(__dirname, '../../infra');
const read = (file: string) => readFileSync(path.join(infra, file), 'utf8');
const api = tokenize(read('app/api.bicep'));
const main = tokenize(read('main.bicep'));

/** Read by the Functions host itself, not by the app (identity-based AzureWebJobsStorage). */
const HOST_SETTINGS = [
  'AzureWebJobsStorage__credential',
  'AzureWebJobsStorage__clientId',
  'AzureWebJobsStorage__blobServiceUri',
];

/**
 * Set by infra/ ahead of the app, excused only while the app does not read it. Empty: READ_TOKENS
 * (issue 12) is now in the settings schema.
 */
const AWAITED_BY_APP = new Set<string>();

const appReads = Object.keys(SETTINGS_SCHEMA.shape);
/** A setting is required when the schema refuses it absent. */
const appRequires = Object.entries(SETTINGS_SCHEMA.shape)
  .filter(([, schema]) => !schema.safeParse(undefined).success)
  .map(([name]) => name);
const infraSets = keysOfVar(api, 'appSettings');
const text = (tokens: Token[]) => tokens.map((t) => t.text).join(' ');

describe('infra/app/api.bicep app settings', () => {
  it('are read from the file (and the reader sees conditions)', () => {
    expect(infraSets.length).toBeGreaterThan(10);
    expect(new Set(infraSets.map((s) => s.key)).size).toBe(infraSets.length);
    expect(infraSets.find((s) => s.key === 'RECONCILE_REGISTRY')?.conditional).toBe(true);
    expect(infraSets.find((s) => s.key === 'COSMOS_ENDPOINT')?.conditional).toBe(false);
  });

  it('set every setting the app requires, unconditionally', () => {
    expect(appRequires.length).toBeGreaterThan(0);
    const always = infraSets.filter((s) => !s.conditional).map((s) => s.key);
    expect(appRequires.filter((name) => !always.includes(name))).toEqual([]);
  });

  it('set only settings the app (or the Functions host) reads', () => {
    const unknown = infraSets
      .map((s) => s.key)
      .filter((name) => !appReads.includes(name) && !HOST_SETTINGS.includes(name))
      .filter((name) => !AWAITED_BY_APP.has(name));
    expect(unknown).toEqual([]);
  });

  it('are keyless: identity-based storage, Entra ID telemetry, no Cosmos DB key, nothing created', () => {
    const value = (key: string) => text(infraSets.find((s) => s.key === key)?.value ?? []);
    expect(value('AzureWebJobsStorage__credential')).toBe('managedidentity');
    expect(value('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toMatch(/Authorization=AAD/);
    expect(value('COSMOS_CREATE_IF_MISSING')).toBe('false');
    const keys = infraSets.map((s) => s.key);
    for (const forbidden of ['AzureWebJobsStorage', 'COSMOS_KEY', 'EVENTGRID_TOPIC_KEY']) {
      expect(keys).not.toContain(forbidden);
    }
  });

  it('take every token list from Key Vault, never as a value', () => {
    const tokenSettings = appReads.filter((name) => name.endsWith('_TOKENS'));
    expect(tokenSettings).toEqual(expect.arrayContaining(['WEBHOOK_TOKENS', 'ADMIN_TOKENS']));
    for (const name of tokenSettings) {
      const value = infraSets.find((s) => s.key === name)?.value;
      expect(value, name).toHaveLength(1);
      expect(value?.[0]?.text, name).toMatch(
        /^@Microsoft\.KeyVault\(VaultName=\$\{keyVaultName\};SecretName=[a-z-]+\)$/,
      );
    }
  });

  it('turn reconciliation on with the whole target or not at all', () => {
    const conditional = infraSets.filter((s) => s.conditional).map((s) => s.key);
    expect(conditional.sort()).toEqual([
      'RECONCILE_REGISTRY',
      'RECONCILE_RESOURCE_GROUP',
      'RECONCILE_SUBSCRIPTION_ID',
      'RECONCILE_WEBHOOKS',
    ]);
  });
});

describe('infra/ and the app agree on', () => {
  it("the container: partition key /pk and the app's indexing policy", () => {
    const db = tokenize(read('app/db.bicep'));
    const container = declarations(db).find((d) => d.name === 'container');
    expect(container).toBeDefined();
    const body = container?.body ?? [];
    expect(literal(propertyValue(body, 'partitionKey'))).toMatchObject({ paths: ['/pk'] });
    expect(literal(propertyValue(body, 'indexingPolicy'))).toEqual(INDEXING_POLICY);
    expect(literal(propertyValue(body, 'defaultTtl'))).toBe(CONTAINER_DEFAULT_TTL);
    const account = declarations(db).find((d) => d.name === 'account')?.body ?? [];
    expect(text(propertyValue(account, 'disableLocalAuth'))).toBe('true');
  });

  it("the database and container names' defaults", () => {
    const defaults = new Map(
      declarations(main)
        .filter((d) => d.keyword === 'param')
        .map((d) => {
          const eq = d.body.findIndex((t) => t.text === '=');
          return [d.name, eq < 0 ? undefined : d.body[eq + 1]?.text] as const;
        }),
    );
    expect(defaults.get('cosmosDatabaseName')).toBe(
      SETTINGS_SCHEMA.shape.COSMOS_DATABASE.parse(undefined),
    );
    expect(defaults.get('cosmosContainerName')).toBe(
      SETTINGS_SCHEMA.shape.COSMOS_CONTAINER.parse(undefined),
    );
  });

  it('the webhook names reconciliation reads by default (acrgate<region>)', () => {
    const names = declarations(main).find((d) => d.name === 'webhookNames');
    const strings = (names?.body ?? []).filter((t) => t.kind === 'string').map((t) => t.text);
    expect(strings).toEqual(['acrgate${r}']);
    const source = readFileSync(
      path.resolve(__dirname, '../../src/registration/plan-webhooks.ts'),
      'utf8',
    );
    expect(source).toContain("export const DEFAULT_PREFIX = 'acrgate';");
  });
});

describe('azd', () => {
  it('gets a value for every parameter of main.bicep without a default', () => {
    const parameters = JSON.parse(read('main.parameters.json')) as {
      parameters: Record<string, unknown>;
    };
    const params = declarations(main).filter((d) => d.keyword === 'param');
    const unset = params
      .filter((d) => !d.body.some((t) => t.text === '='))
      .map((d) => d.name)
      .filter((name) => !(name in parameters.parameters));
    // The token seed is generated by azd (metadata type 'generate'), never in a file.
    expect(unset).toEqual(['tokenSeed']);
    expect(read('main.bicep')).toMatch(/type: 'generate'[\s\S]*param tokenSeed string/);
    for (const name of Object.keys(parameters.parameters)) {
      expect(params.map((d) => d.name)).toContain(name);
    }
  });

  it('runs an executable postdeploy hook that exists', () => {
    const yaml = readFileSync(path.resolve(infra, '../azure.yaml'), 'utf8');
    const hook = /postdeploy:[\s\S]*?run: (\S+)/.exec(yaml)?.[1];
    expect(hook).toBe('./infra/scripts/postdeploy.sh');
    const mode = statSync(path.resolve(infra, '..', hook ?? '')).mode;
    expect(mode & 0o111).not.toBe(0);
  });
});
