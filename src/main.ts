// The composition root: parses settings once, creates the Cosmos client once, and builds every handler.
import type { HttpHandler } from '@azure/functions';
import { makeChangeNotifier } from './app/change-notifier';
import type { Clock } from './app/ports';
import { loadSettings, type Settings } from './config/settings';
import { makeAuthenticator } from './http/auth';
import { makeHealthHandler } from './http/health-handler';
import { makeGetRegistryHandler, makePutRegistryHandler } from './http/registry-handlers';
import { makeListHandler, makeStatusHandler } from './http/replication-handlers';
import { makeAcrWebhookHandler } from './http/webhook-handler';
import { instantFromDate } from './replication/timestamp';
import { createCosmosClient, makeCosmosStore } from './store/cosmos-store';

export interface Handlers {
  acrWebhook: HttpHandler;
  replicationStatus: HttpHandler;
  replicationList: HttpHandler;
  getRegistry: HttpHandler;
  putRegistry: HttpHandler;
  health: HttpHandler;
}

export const systemClock: Clock = { now: () => instantFromDate(new Date()) };

export function buildHandlers(settings: Settings = loadSettings()): Handlers {
  const store = makeCosmosStore(createCosmosClient(settings.cosmos), settings.cosmos);
  const authenticate = makeAuthenticator({
    webhook: settings.webhookTokens,
    admin: settings.adminTokens,
  });
  const core = {
    store,
    notifier: makeChangeNotifier(),
    pollMs: settings.waitPollMs,
    clock: systemClock,
    defaultRegions: settings.defaultRegions,
    maxAttempts: settings.storeMaxAttempts,
    authenticate,
    maxBodyBytes: settings.maxBodyBytes,
  };
  return {
    acrWebhook: makeAcrWebhookHandler({
      ...core,
      countQuarantineAsArrival: settings.countQuarantineAsArrival,
    }),
    replicationStatus: makeStatusHandler(core),
    replicationList: makeListHandler(core),
    getRegistry: makeGetRegistryHandler(core),
    putRegistry: makePutRegistryHandler(core),
    health: makeHealthHandler(core),
  };
}
