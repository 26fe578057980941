// Settings: validated once at cold start from the flat environment into a read-only object.
import { z } from 'zod';
import { runsInAzure } from '../net/outbound-guard';
import { regionNameSchema, registrySchema } from '../replication/names';
import { parseDuration } from '../util/duration';

const csv = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0);

const tokenListSchema = z
  .array(z.string().min(16, 'each token must be at least 16 characters'))
  .min(1, 'at least one token is required');

const positiveInt = (fallback: number, max: number) =>
  z.coerce.number().int().min(1).max(max).default(fallback);

/** `90s`, `15m`, `1h30m` or plain milliseconds. */
const durationMs = z.string().transform((text, ctx) => {
  const ms = parseDuration(text, { bareUnitMs: 1, fractions: false });
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'must be a duration such as 90s, 15m or 1h30m' });
    return z.NEVER;
  }
  return ms;
});

const flag = (fallback: 'true' | 'false') =>
  z
    .enum(['true', 'false'])
    .default(fallback)
    .transform((v) => v === 'true');

/** `key=https://url` pairs, comma-separated; HTTPS only, as ACR is. */
const endpointMap = (key: z.ZodType<string>, what: string) =>
  z
    .string()
    .transform(csv)
    .transform((pairs, ctx) => {
      const out: Record<string, string> = {};
      for (const pair of pairs) {
        const eq = pair.indexOf('=');
        const name = key.safeParse(pair.slice(0, Math.max(eq, 0)));
        let url: URL | undefined;
        try {
          url = new URL(pair.slice(eq + 1));
        } catch {
          url = undefined;
        }
        if (eq <= 0 || !name.success || url?.protocol !== 'https:') {
          ctx.addIssue({
            code: 'custom',
            message: `must be ${what}=https://… pairs separated by commas (got "${pair.slice(0, 80)}")`,
          });
          return z.NEVER;
        }
        out[name.data] = url.toString().replace(/\/$/, '');
      }
      return out;
    });

/** Another instance's write is heard within 250 ms (p99), at one point read per poll: docs/benchmarks.md. */
export const DEFAULT_WAIT_POLL_MS = 200;

const envSchema = z.object({
  COSMOS_ENDPOINT: z.url({
    message: 'must be the account URL, e.g. https://acct.documents.azure.com:443/',
  }),
  COSMOS_KEY: z.string().min(1).optional(),
  COSMOS_DATABASE: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$/)
    .default('acr-replication-gate'),
  COSMOS_CONTAINER: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$/)
    .default('replication'),
  // Unset: create the database and container when missing only with COSMOS_KEY (Entra ID data-plane
  // roles cannot create them). infra/ sets false: Bicep creates both, the app only checks they exist.
  COSMOS_CREATE_IF_MISSING: z.enum(['true', 'false']).optional(),
  // Read by DefaultAzureCredential to pick the user-assigned managed identity (Cosmos DB, ARM).
  AZURE_CLIENT_ID: z
    .uuid({ message: 'must be the managed identity client id (a GUID)' })
    .optional(),
  // Set: metrics and traces go to Application Insights through OpenTelemetry (docs/deploy-azure.md).
  APPLICATIONINSIGHTS_CONNECTION_STRING: z
    .string()
    .regex(
      /InstrumentationKey=|ConnectionString=|IngestionEndpoint=/i,
      'must be a connection string',
    )
    .optional(),
  // `Authorization=AAD` (with `ClientId=<identity>`) sends telemetry with Entra ID, not the key.
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: z
    .string()
    .regex(/^(\s*[A-Za-z]+=[^;]*;?)+$/, 'must be Authorization=AAD;ClientId=<client id>')
    .optional(),
  REPLICATION_REGIONS: z
    .string({ message: 'is required: the comma-separated replica regions, e.g. westus,eastus' })
    .transform(csv)
    .pipe(z.array(regionNameSchema).min(1, 'must name at least one region')),
  WEBHOOK_TOKENS: z.string({ message: 'is required' }).transform(csv).pipe(tokenListSchema),
  ADMIN_TOKENS: z.string({ message: 'is required' }).transform(csv).pipe(tokenListSchema),
  // Optional: unset, only admin tokens read (webhook tokens never do). See docs/pipelines.md.
  READ_TOKENS: z
    .string()
    .transform(csv)
    .pipe(z.array(z.string().min(16, 'each token must be at least 16 characters')))
    .default([]),
  MAX_BODY_BYTES: positiveInt(64 * 1024, 4 * 1024 * 1024),
  STORE_MAX_ATTEMPTS: positiveInt(12, 100),
  CACHE_TTL_MS: z.coerce.number().int().min(0).max(300_000).default(5_000),
  WAIT_POLL_MS: z.coerce.number().int().min(50).max(10_000).default(DEFAULT_WAIT_POLL_MS),
  MAX_WAITERS: positiveInt(1000, 100_000),
  OUTBOUND_GUARD: z.enum(['on', 'off']).optional(),
  STALL_AFTER: durationMs.default(30 * 60_000),
  FEED_SETTLE_MS: z.coerce.number().int().min(0).max(600_000).default(5_000),
  DELIVERY_TIMEOUT_MS: positiveInt(10_000, 120_000),
  DELIVERY_RETRY_SCHEDULE: z
    .string()
    .transform(csv)
    .pipe(z.array(durationMs).min(1).max(50))
    .optional(),
  EVENTGRID_TOPIC_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  EVENTGRID_TOPIC_KEY: z.string().min(1).optional(),
  COUNT_QUARANTINE_AS_ARRIVAL: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  RECONCILE_SUBSCRIPTION_ID: z
    .string()
    .regex(
      /^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$/,
      'must be a subscription id (a GUID)',
    )
    .optional(),
  RECONCILE_RESOURCE_GROUP: z
    .string()
    .regex(/^[-\p{L}\p{N}._()]{0,89}[-\p{L}\p{N}_()]$/u, 'must be a resource group name')
    .optional(),
  // The registry's resource name (`contoso`); a login server (`contoso.azurecr.io`) is cut to it.
  RECONCILE_REGISTRY: z
    .string()
    .regex(/^[A-Za-z0-9]{5,50}(\.[A-Za-z0-9.-]+)?$/, 'must be a registry name such as contoso')
    .transform((v) => v.split('.')[0] ?? v)
    .optional(),
  RECONCILE_WEBHOOKS: z
    .string()
    .transform(csv)
    .pipe(z.array(z.string().regex(/^[A-Za-z0-9]{5,50}$/, 'must be webhook names')).min(1))
    .optional(),
  RECONCILE_ARM_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  RECONCILE_ARM_TOKEN: z.string().min(1).optional(),
  // Hosts an Azure Pipelines check's PlanUrl may name: exact names or `*.suffix`.
  AZURE_PIPELINES_HOSTS: z
    .string()
    .default('dev.azure.com,*.visualstudio.com')
    .transform(csv)
    .pipe(
      z
        .array(
          z
            .string()
            .regex(
              /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$|^\[::1\]$/,
              'must be host names such as dev.azure.com or *.visualstudio.com',
            ),
        )
        .min(1),
    ),
  APPROVAL_TIMEOUT: durationMs.default(60 * 60_000),
  GITHUB_APP_ID: z.string().regex(/^\d+$/, 'must be the numeric App ID').optional(),
  GITHUB_APP_PRIVATE_KEY: z
    .string()
    .transform((v) => v.replace(/\\n/g, '\n'))
    .pipe(z.string().includes('PRIVATE KEY', { message: 'must be the App private key (PEM)' }))
    .optional(),
  GITHUB_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  GITHUB_API_URL: z.url({ protocol: /^https?$/ }).default('https://api.github.com'),
  REGISTRY_ENDPOINTS: endpointMap(registrySchema, 'host').default({}),
  REGIONAL_ENDPOINTS: endpointMap(regionNameSchema, 'region').default({}),
  REGISTRY_AUTH: z.enum(['entra', 'anonymous']).default('entra'),
  VERIFY_REGIONS: flag('false'),
  REQUIRE_ATTESTATIONS: flag('false'),
  ON_UNREADABLE_INDEX: z.enum(['wait', 'trust-index']).default('wait'),
});

/** Every setting the app reads, with its rules: the infra/ drift test checks Bicep against it. */
export const SETTINGS_SCHEMA = envSchema;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export type Settings = Readonly<{
  cosmos: Readonly<{
    endpoint: string;
    key: string | undefined;
    database: string;
    container: string;
    createIfMissing: boolean;
  }>;
  /** Application Insights through OpenTelemetry; undefined turns it off. */
  azureMonitor:
    | Readonly<{ connectionString: string; entraId: boolean; clientId: string | undefined }>
    | undefined;
  defaultRegions: readonly string[];
  webhookTokens: readonly string[];
  /** Read-only tokens (pipelines, the dashboard); may be empty. */
  readTokens: readonly string[];
  adminTokens: readonly string[];
  maxBodyBytes: number;
  storeMaxAttempts: number;
  waitPollMs: number;
  /** Long-polls (`?wait=`) one instance holds at once; beyond, 503 + Retry-After. */
  maxWaiters: number;
  /** Refuse loopback, private, link-local and metadata destinations (on by default in Azure). */
  outboundGuard: boolean;
  cacheTtlMs: number;
  countQuarantineAsArrival: boolean;
  stallAfterMs: number;
  /** The event feed hands out only events recorded at least this long ago (see docs/event-feed.md). */
  feedSettleMs: number;
  delivery: Readonly<{ timeoutMs: number; retryScheduleMs: readonly number[] | undefined }>;
  eventGrid: Readonly<{ endpoint: string; key: string }> | undefined;
  approvals: Readonly<{
    azurePipelinesHosts: readonly string[];
    defaultTimeoutMs: number;
    /** The GitHub App behind the deployment protection rule; undefined turns the route off. */
    github:
      | Readonly<{ appId: string; privateKey: string; webhookSecret: string; apiUrl: string }>
      | undefined;
  }>;
  /** Reading indexes and confirming regions at the registry's data plane (docs/multi-platform.md). */
  images: Readonly<{
    /** Login server → data-plane URL overrides; otherwise https://<login server>. */
    endpoints: Readonly<Record<string, string>>;
    /** Region → regional endpoint overrides; otherwise https://<name>.<region>.geo.azurecr.io. */
    regionalEndpoints: Readonly<Record<string, string>>;
    auth: 'entra' | 'anonymous';
    verifyRegions: boolean;
    requireAttestations: boolean;
    onUnreadableIndex: 'wait' | 'trust-index';
  }>;
  /** The reconcileWebhooks timer's target; undefined turns the timer off. */
  reconcile:
    | Readonly<{
        subscriptionId: string;
        resourceGroup: string;
        registryName: string;
        webhooks: readonly string[] | undefined;
        armEndpoint: string | undefined;
        /** Only with a loopback armEndpoint (tests); Azure uses DefaultAzureCredential. */
        armToken: string | undefined;
      }>
    | undefined;
}>;

/** Thrown at start-up; its message names the offending setting and nothing secret. */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  // App Service leaves a Key Vault reference it could not resolve as the literal text, which
  // would otherwise pass as a (publicly known) token.
  const unresolved = Object.keys(envSchema.shape).find((name) =>
    env[name]?.trimStart().startsWith('@Microsoft.KeyVault('),
  );
  if (unresolved !== undefined) {
    throw new SettingsError(
      `invalid setting ${unresolved}: its Key Vault reference was not resolved (check the identity's Key Vault Secrets User role)`,
    );
  }
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const setting = issue?.path[0];
    throw new SettingsError(
      `invalid setting ${String(setting ?? '?')}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const v = parsed.data;
  if ((v.EVENTGRID_TOPIC_ENDPOINT === undefined) !== (v.EVENTGRID_TOPIC_KEY === undefined)) {
    throw new SettingsError(
      'invalid setting EVENTGRID_TOPIC_KEY: set it together with EVENTGRID_TOPIC_ENDPOINT, or neither',
    );
  }
  // One role per token: a token in two lists would get the wider role, silently.
  const roles = [
    ['WEBHOOK_TOKENS', v.WEBHOOK_TOKENS],
    ['READ_TOKENS', v.READ_TOKENS],
    ['ADMIN_TOKENS', v.ADMIN_TOKENS],
  ] as const;
  for (const [i, [name, tokens]] of roles.entries()) {
    const earlier = roles.slice(0, i).find(([, other]) => tokens.some((t) => other.includes(t)));
    if (earlier) {
      throw new SettingsError(
        `invalid setting ${name}: must not reuse a ${earlier[0]} token (each token has one role)`,
      );
    }
  }
  const reconcileTarget = [
    v.RECONCILE_SUBSCRIPTION_ID,
    v.RECONCILE_RESOURCE_GROUP,
    v.RECONCILE_REGISTRY,
  ] as const;
  const missing = (
    ['RECONCILE_SUBSCRIPTION_ID', 'RECONCILE_RESOURCE_GROUP', 'RECONCILE_REGISTRY'] as const
  ).filter((_, i) => reconcileTarget[i] === undefined);
  if (missing.length > 0 && missing.length < 3) {
    throw new SettingsError(
      `invalid setting ${missing[0]}: set RECONCILE_SUBSCRIPTION_ID, RECONCILE_RESOURCE_GROUP and RECONCILE_REGISTRY together, or none`,
    );
  }
  const armUrl =
    v.RECONCILE_ARM_ENDPOINT === undefined ? undefined : new URL(v.RECONCILE_ARM_ENDPOINT);
  const loopback = armUrl !== undefined && LOOPBACK.has(armUrl.hostname);
  if (v.RECONCILE_ARM_TOKEN !== undefined && !loopback) {
    throw new SettingsError(
      'invalid setting RECONCILE_ARM_TOKEN: only for a loopback RECONCILE_ARM_ENDPOINT (tests); Azure uses managed identity',
    );
  }
  if (armUrl?.protocol === 'http:' && !(loopback && v.RECONCILE_ARM_TOKEN !== undefined)) {
    throw new SettingsError(
      'invalid setting RECONCILE_ARM_ENDPOINT: http:// is only for a loopback fake with RECONCILE_ARM_TOKEN',
    );
  }
  const github = [v.GITHUB_APP_ID, v.GITHUB_APP_PRIVATE_KEY, v.GITHUB_WEBHOOK_SECRET] as const;
  const githubMissing = (
    ['GITHUB_APP_ID', 'GITHUB_APP_PRIVATE_KEY', 'GITHUB_WEBHOOK_SECRET'] as const
  ).filter((_, i) => github[i] === undefined);
  if (githubMissing.length > 0 && githubMissing.length < 3) {
    throw new SettingsError(
      `invalid setting ${githubMissing[0]}: set GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY and GITHUB_WEBHOOK_SECRET together, or none`,
    );
  }
  const githubApi = new URL(v.GITHUB_API_URL);
  if (githubApi.protocol === 'http:' && !LOOPBACK.has(githubApi.hostname)) {
    throw new SettingsError(
      'invalid setting GITHUB_API_URL: http:// is only for a loopback stand-in (tests)',
    );
  }
  return Object.freeze({
    approvals: Object.freeze({
      azurePipelinesHosts: Object.freeze(v.AZURE_PIPELINES_HOSTS),
      defaultTimeoutMs: v.APPROVAL_TIMEOUT,
      github:
        v.GITHUB_APP_ID !== undefined &&
        v.GITHUB_APP_PRIVATE_KEY !== undefined &&
        v.GITHUB_WEBHOOK_SECRET !== undefined
          ? Object.freeze({
              appId: v.GITHUB_APP_ID,
              privateKey: v.GITHUB_APP_PRIVATE_KEY,
              webhookSecret: v.GITHUB_WEBHOOK_SECRET,
              apiUrl: v.GITHUB_API_URL,
            })
          : undefined,
    }),
    cosmos: Object.freeze({
      endpoint: v.COSMOS_ENDPOINT,
      key: v.COSMOS_KEY,
      database: v.COSMOS_DATABASE,
      container: v.COSMOS_CONTAINER,
      createIfMissing:
        v.COSMOS_CREATE_IF_MISSING === undefined
          ? v.COSMOS_KEY !== undefined
          : v.COSMOS_CREATE_IF_MISSING === 'true',
    }),
    azureMonitor:
      v.APPLICATIONINSIGHTS_CONNECTION_STRING === undefined
        ? undefined
        : Object.freeze(
            monitorAuth(
              v.APPLICATIONINSIGHTS_CONNECTION_STRING,
              v.APPLICATIONINSIGHTS_AUTHENTICATION_STRING,
            ),
          ),
    defaultRegions: Object.freeze([...new Set(v.REPLICATION_REGIONS)].sort()),
    webhookTokens: Object.freeze(v.WEBHOOK_TOKENS),
    readTokens: Object.freeze(v.READ_TOKENS),
    adminTokens: Object.freeze(v.ADMIN_TOKENS),
    maxBodyBytes: v.MAX_BODY_BYTES,
    storeMaxAttempts: v.STORE_MAX_ATTEMPTS,
    waitPollMs: v.WAIT_POLL_MS,
    maxWaiters: v.MAX_WAITERS,
    outboundGuard: v.OUTBOUND_GUARD === undefined ? runsInAzure(env) : v.OUTBOUND_GUARD === 'on',
    cacheTtlMs: v.CACHE_TTL_MS,
    countQuarantineAsArrival: v.COUNT_QUARANTINE_AS_ARRIVAL,
    stallAfterMs: v.STALL_AFTER,
    feedSettleMs: v.FEED_SETTLE_MS,
    delivery: Object.freeze({
      timeoutMs: v.DELIVERY_TIMEOUT_MS,
      retryScheduleMs: v.DELIVERY_RETRY_SCHEDULE,
    }),
    eventGrid:
      v.EVENTGRID_TOPIC_ENDPOINT !== undefined && v.EVENTGRID_TOPIC_KEY !== undefined
        ? Object.freeze({ endpoint: v.EVENTGRID_TOPIC_ENDPOINT, key: v.EVENTGRID_TOPIC_KEY })
        : undefined,
    images: Object.freeze({
      endpoints: Object.freeze(v.REGISTRY_ENDPOINTS),
      regionalEndpoints: Object.freeze(v.REGIONAL_ENDPOINTS),
      auth: v.REGISTRY_AUTH,
      verifyRegions: v.VERIFY_REGIONS,
      requireAttestations: v.REQUIRE_ATTESTATIONS,
      onUnreadableIndex: v.ON_UNREADABLE_INDEX,
    }),
    reconcile:
      v.RECONCILE_SUBSCRIPTION_ID !== undefined &&
      v.RECONCILE_RESOURCE_GROUP !== undefined &&
      v.RECONCILE_REGISTRY !== undefined
        ? Object.freeze({
            subscriptionId: v.RECONCILE_SUBSCRIPTION_ID,
            resourceGroup: v.RECONCILE_RESOURCE_GROUP,
            registryName: v.RECONCILE_REGISTRY,
            webhooks: v.RECONCILE_WEBHOOKS,
            armEndpoint: v.RECONCILE_ARM_ENDPOINT,
            armToken: v.RECONCILE_ARM_TOKEN,
          })
        : undefined,
  });
}

/** `Authorization=AAD;ClientId=…` (the Functions host's own format) to what the exporter needs. */
function monitorAuth(connectionString: string, authentication: string | undefined) {
  const parts = new Map(
    (authentication ?? '')
      .split(';')
      .map((part) => part.split('=').map((t) => t.trim()))
      .filter((kv): kv is [string, string] => kv.length === 2)
      .map(([k, v]) => [k.toLowerCase(), v]),
  );
  return {
    connectionString,
    entraId: parts.get('authorization')?.toUpperCase() === 'AAD',
    clientId: parts.get('clientid') || undefined,
  };
}
