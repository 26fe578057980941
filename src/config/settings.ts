// Settings: validated once at cold start from the flat environment into a read-only object.
import { z } from 'zod';
import { regionNameSchema } from '../replication/names';

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
  REPLICATION_REGIONS: z
    .string({ message: 'is required: the comma-separated replica regions, e.g. westus,eastus' })
    .transform(csv)
    .pipe(z.array(regionNameSchema).min(1, 'must name at least one region')),
  WEBHOOK_TOKENS: z.string({ message: 'is required' }).transform(csv).pipe(tokenListSchema),
  ADMIN_TOKENS: z.string({ message: 'is required' }).transform(csv).pipe(tokenListSchema),
  MAX_BODY_BYTES: positiveInt(64 * 1024, 4 * 1024 * 1024),
  STORE_MAX_ATTEMPTS: positiveInt(12, 100),
  WAIT_POLL_MS: z.coerce.number().int().min(50).max(10_000).default(500),
  COUNT_QUARANTINE_AS_ARRIVAL: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
});

export type Settings = Readonly<{
  cosmos: Readonly<{
    endpoint: string;
    key: string | undefined;
    database: string;
    container: string;
  }>;
  defaultRegions: readonly string[];
  webhookTokens: readonly string[];
  adminTokens: readonly string[];
  maxBodyBytes: number;
  storeMaxAttempts: number;
  waitPollMs: number;
  countQuarantineAsArrival: boolean;
}>;

/** Thrown at start-up; its message names the offending setting and nothing secret. */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const setting = issue?.path[0];
    throw new SettingsError(
      `invalid setting ${String(setting ?? '?')}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const v = parsed.data;
  if (v.WEBHOOK_TOKENS.some((token) => v.ADMIN_TOKENS.includes(token))) {
    throw new SettingsError('invalid setting ADMIN_TOKENS: must not reuse a WEBHOOK_TOKENS token');
  }
  return Object.freeze({
    cosmos: Object.freeze({
      endpoint: v.COSMOS_ENDPOINT,
      key: v.COSMOS_KEY,
      database: v.COSMOS_DATABASE,
      container: v.COSMOS_CONTAINER,
    }),
    defaultRegions: Object.freeze([...new Set(v.REPLICATION_REGIONS)].sort()),
    webhookTokens: Object.freeze(v.WEBHOOK_TOKENS),
    adminTokens: Object.freeze(v.ADMIN_TOKENS),
    maxBodyBytes: v.MAX_BODY_BYTES,
    storeMaxAttempts: v.STORE_MAX_ATTEMPTS,
    waitPollMs: v.WAIT_POLL_MS,
    countQuarantineAsArrival: v.COUNT_QUARANTINE_AS_ARRIVAL,
  });
}
