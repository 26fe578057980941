// What the platform sets around a function app on Azure, pointed at loopback for tests.

/**
 * FUNCTIONS_WORKER_RUNTIME and the managed identity endpoint (App Service's IDENTITY_*) as the
 * Functions host sets them, the endpoint on a closed loopback port; Application Insights'
 * statsbeat off. Nothing may leave this machine, not even a look-up of VM metadata.
 */
export const LOOPBACK_PLATFORM = {
  FUNCTIONS_WORKER_RUNTIME: 'node',
  IDENTITY_ENDPOINT: 'http://127.0.0.1:9/msi/token',
  IDENTITY_HEADER: 'loopback-only',
  APPLICATION_INSIGHTS_NO_STATSBEAT: 'true',
  APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true',
  APPLICATIONINSIGHTS_SDKSTATS_DISABLED: 'true',
} as const;

/** Enough settings for the app to build its handlers, its Cosmos DB on a closed loopback port. */
export const LOOPBACK_APP_SETTINGS = {
  ...LOOPBACK_PLATFORM,
  COSMOS_ENDPOINT: 'http://127.0.0.1:9/',
  COSMOS_KEY: 'unused-key',
  REPLICATION_REGIONS: 'westus,eastus',
  WEBHOOK_TOKENS: 'webhook-token-0123456789',
  ADMIN_TOKENS: 'admin-token-0123456789ab',
} as const;
