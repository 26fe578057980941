// Starts the function app the way `npm start` does: embedded Cosmos DB plus the local host, on loopback.
import path from 'node:path';
import type { SqlQuerySpec } from '@azure/cosmos';
import { afterAll, beforeAll } from 'vitest';
import { startEmbeddedCosmos, type EmbeddedCosmos } from '../../dev/embedded-cosmos';
import { loadFunctionApp, type LocalHost } from '../../dev/local-host';
import { directClient, freshDatabase } from './cosmos';
import { startFaultProxy, type FaultProxy } from './fault-proxy';
import { lateBound } from './late-bound';

export const WEBHOOK_TOKEN = 'e2e-webhook-token-0123456789';
export const ADMIN_TOKEN = 'e2e-admin-token-0123456789abc';
/** What pipelines, the CLI, the Action and the dashboard hold: reads only. */
export const READ_TOKEN = 'e2e-read-token-0123456789abcd';
export const REGIONS = ['westus', 'eastus', 'canadacentral', 'westeurope'];
export const appRoot = path.resolve(__dirname, '../..');

export interface RunningApp {
  cosmos: EmbeddedCosmos;
  host: LocalHost;
  url: string;
  database: string;
  logs: string[];
  /** fetch against the app with a bearer token: by default the webhook token on `/api/webhooks/…`, the read token elsewhere. */
  call(pathAndQuery: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
  post(pathAndQuery: string, body: unknown, token?: string): Promise<Response>;
  /** fetch with the admin token and a JSON content type (the subscription and redelivery routes). */
  admin(pathAndQuery: string, init?: RequestInit): Promise<Response>;
  /** Queries the app's container with a client of its own, straight from the embedded server. */
  query<T = unknown>(query: SqlQuerySpec | string): Promise<T[]>;
  /**
   * The stored events whose CloudEvent subject is `subject` (e.g. `team/app:1.2`), of one type:
   * `acrgate.tag.replicated` unless told (null: every type, the per-region ones too).
   */
  storedEventsFor(subject: string, type?: string | null): Promise<unknown[]>;
  stop(): Promise<void>;
}

export interface StartAppOptions {
  /** Puts something (a fault proxy) between the app and Cosmos DB: gets the real endpoint, returns the app's. */
  cosmosVia?: (endpoint: string) => Promise<string>;
  /** Another app root than the checkout's (the bundled deployment package, say). */
  appRoot?: string;
}

/** The registrations come from the build output (`main` in package.json), as on Azure. */
export async function startApp(
  env: Record<string, string> = {},
  options: StartAppOptions = {},
): Promise<RunningApp> {
  const cosmos = await startEmbeddedCosmos();
  const database = freshDatabase();
  Object.assign(process.env, {
    COSMOS_ENDPOINT: options.cosmosVia ? await options.cosmosVia(cosmos.endpoint) : cosmos.endpoint,
    COSMOS_KEY: cosmos.key,
    COSMOS_DATABASE: database,
    REPLICATION_REGIONS: REGIONS.join(','),
    WEBHOOK_TOKENS: `old-rotated-webhook-token-xyz,${WEBHOOK_TOKEN}`,
    ADMIN_TOKENS: ADMIN_TOKEN,
    // These tests read the feed right after a round completes; the settle window has its own
    // test (test/integration/wrong-answers.test.ts and the feed property of the model suite).
    FEED_SETTLE_MS: '0',
    READ_TOKENS: READ_TOKEN,
    ...env,
  });
  const logs: string[] = [];
  const host = await loadFunctionApp({
    appRoot: options.appRoot ?? appRoot,
    log: (line) => logs.push(line),
  });
  const { url } = await host.listen(0);
  const call = (pathAndQuery: string, init: RequestInit & { token?: string | null } = {}) => {
    const {
      token = pathAndQuery.startsWith('/api/webhooks/') ? WEBHOOK_TOKEN : READ_TOKEN,
      ...rest
    } = init;
    const headers = new Headers(rest.headers);
    if (token !== null) headers.set('authorization', `Bearer ${token}`);
    return fetch(`${url}${pathAndQuery}`, { ...rest, headers });
  };
  const reader = directClient(cosmos);
  const query = async <T>(spec: SqlQuerySpec | string): Promise<T[]> =>
    (await reader.database(database).container('replication').items.query<T>(spec).fetchAll())
      .resources;
  return {
    cosmos,
    host,
    url,
    database,
    logs,
    query,
    storedEventsFor: (subject, type = 'acrgate.tag.replicated') =>
      query({
        query: `SELECT * FROM c WHERE c.type = 'event' AND c.event.subject = @subject${type === null ? '' : ' AND c.event.type = @type'}`,
        parameters: [
          { name: '@subject', value: subject },
          ...(type === null ? [] : [{ name: '@type', value: type }]),
        ],
      }),
    call,
    post: (pathAndQuery, body, token = WEBHOOK_TOKEN) =>
      call(pathAndQuery, {
        method: 'POST',
        token,
        headers: { 'content-type': 'application/json', 'user-agent': 'AzureContainerRegistry/1.0' },
        body: JSON.stringify(body),
      }),
    admin: (pathAndQuery, init = {}) =>
      call(pathAndQuery, {
        ...init,
        token: ADMIN_TOKEN,
        headers: {
          'content-type': 'application/json',
          ...(init.headers as Record<string, string> | undefined),
        },
      }),
    async stop() {
      await host.close();
      await cosmos.close();
    },
  };
}

/** Deletes every subscription: a test that subscribes then gets only its own deliveries. */
export async function removeSubscriptions(app: RunningApp): Promise<void> {
  const list = await app.admin('/api/subscriptions');
  const { subscriptions } = (await list.json()) as { subscriptions: { id: string }[] };
  for (const s of subscriptions) {
    await app.admin(`/api/subscriptions/${s.id}`, { method: 'DELETE' });
  }
}

type Env = Record<string, string>;

/**
 * The app for the calling test file: started in a beforeAll, stopped in an afterAll. Call it at
 * the top level of the file, after the hooks that start what `env` reads (a function, so it is
 * read only then).
 */
export function useApp(env: Env | (() => Env) = {}, options: StartAppOptions = {}): RunningApp {
  let app: RunningApp | undefined;
  beforeAll(async () => {
    app = await startApp(typeof env === 'function' ? env() : env, options);
  });
  afterAll(async () => {
    await app?.stop();
  });
  return lateBound(() => app, 'the app');
}

/** useApp with a fault proxy between the app and Cosmos DB; faults are off until `proxy.setFaults`. */
export function useAppBehindFaults(
  seed: number,
  env: Env = {},
): { app: RunningApp; proxy: FaultProxy } {
  let proxy: FaultProxy | undefined;
  // Registered before useApp's hooks: after-hooks run as a stack, so the app stops first, then the proxy.
  afterAll(async () => {
    await proxy?.close();
  });
  const app = useApp(env, {
    cosmosVia: async (target) => {
      proxy = await startFaultProxy({ target, seed });
      return proxy.endpoint;
    },
  });
  return { app, proxy: lateBound(() => proxy, 'the fault proxy') };
}
