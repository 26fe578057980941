// The composition root: parses settings once, creates each client once, and builds every handler.
import type { HttpHandler } from '@azure/functions';
import { makeApprovals, resumeOnTagWrite } from './app/answer-approvals';
import { withShortLivedCache } from './app/cached-store';
import { makeChangeNotifier } from './app/change-notifier';
import { makeDeliverer } from './app/deliver-events';
import { makeTagCache } from './app/tag-cache';
import type { NewDelivery } from './app/update-tag';
import { DEFAULT_READ_BOUND_MS, type ImageDeps } from './app/follow-image';
import { makeStoreReplay, type ReconcileDeps } from './app/reconcile-webhooks';
import { makeSharedWaits } from './app/wait-for-replication';
import type { RegionsDeps } from './app/required-regions';
import type { Clock, DeliveryRecord } from './app/ports';
import { makeAzurePipelinesAnswerer } from './approvals/azure-pipelines';
import { makeGithubAnswerer } from './approvals/github';
import { loadSettings, type Settings } from './config/settings';
import { DEFAULT_RETRY_SCHEDULE_MS } from './events/delivery-request';
import { makeEventGridSink } from './events/event-grid-sink';
import { sendDelivery } from './events/send-delivery';
import type { Subscription } from './events/types';
import { makeAuthorizer } from './http/auth';
import { makeAzurePipelinesCheckHandler } from './http/azure-pipelines-handler';
import { makeDashboardHandler } from './http/dashboard-handler';
import { makeEventGridHandler, makeEventGridOptionsHandler } from './http/eventgrid-handler';
import {
  makeEventFeedHandler,
  makeGetEventHandler,
  makeRedeliverHandler,
} from './http/event-handlers';
import { makeGatekeeperHandler } from './http/gatekeeper-handler';
import { makeGuard } from './http/guard';
import {
  makeGithubProtectionRuleHandler,
  makePutGithubEnvironmentHandler,
} from './http/github-handlers';
import { makeHealthHandler } from './http/health-handler';
import { makeOpenApiHandler } from './http/openapi';
import { makeGetRegistryHandler, makePutRegistryHandler } from './http/registry-handlers';
import { makeListHandler, makeStatusHandler } from './http/replication-handlers';
import { ROUTES, type RouteName } from './http/routes';
import {
  makeCreateSubscriptionHandler,
  makeDeleteSubscriptionHandler,
  makeGetSubscriptionHandler,
  makeListSubscriptionsHandler,
} from './http/subscription-handlers';
import { makeAcrWebhookHandler } from './http/webhook-handler';
import { makeVerifyHandler } from './http/verify-handler';
import { makeOutboundGuard } from './net/outbound-guard';
// Only the reconcile timer talks to ARM: its SDK (and @azure/identity) load on its first run.
import type * as ArmClient from './registration/arm-client';
import type * as WebhookEvents from './registration/list-webhook-events';
import { instantFromDate } from './replication/timestamp';
import { createCosmosClient, makeCosmosStore } from './store/cosmos-store';
import { metrics, trace } from '@opentelemetry/api';
import type { Telemetry } from './app/telemetry';
import { startAzureMonitor } from './telemetry/azure-monitor';
import { makeOtelTelemetry } from './telemetry/otel-telemetry';
import {
  makeDeliverEventsTimer,
  makeResumeApprovalsTimer,
  makeSweepRoundsTimer,
  type TimerHandler,
} from './timers/timer-handlers';
import { makeReconcileWebhooksTimer } from './timers/reconcile-timer';
import { makeManifestReader } from './registry/manifest-reader';

export const systemClock: Clock = { now: () => instantFromDate(new Date()) };

/** The Event Grid topic is a built-in subscription: same matching, same delivery records. */
export const EVENT_GRID_SUBSCRIPTION_ID = 'eventgrid-topic';

/**
 * Metrics and traces through the OpenTelemetry API: Azure Monitor's SDK when
 * APPLICATIONINSIGHTS_CONNECTION_STRING is set, else whatever SDK the process registered (none: no-op).
 */
function makeTelemetry(settings: Settings): Telemetry {
  if (settings.azureMonitor) startAzureMonitor(settings.azureMonitor);
  return makeOtelTelemetry(
    metrics.getMeter('acr-replication-gate'),
    trace.getTracer('acr-replication-gate'),
  );
}

/** A webhook receiver inside a trace span, marked failed when it answers 5xx. */
const traced =
  (telemetry: Telemetry, name: string, handler: HttpHandler): HttpHandler =>
  (request, context) =>
    telemetry.span(name, { 'acrgate.region': request.params.region ?? '' }, async (annotate) => {
      const response = await handler(request, context);
      const status = response.status ?? 200;
      annotate({ 'http.response.status_code': status }, status >= 500);
      return response;
    });

export function buildHandlers(settings: Settings = loadSettings()) {
  const telemetry = makeTelemetry(settings);
  const store = withShortLivedCache(
    makeCosmosStore(createCosmosClient(settings.cosmos), settings.cosmos),
    settings.cacheTtlMs,
  );
  // Every route admitted as src/http/routes.ts declares its access (src/http/guard.ts).
  const guard = makeGuard(
    ROUTES,
    makeAuthorizer({
      webhook: settings.webhookTokens,
      read: settings.readTokens,
      admin: settings.adminTokens,
    }),
  );
  if (settings.readTokens.length === 0) {
    console.warn(
      'READ_TOKENS is not set: read routes take admin tokens only, webhook tokens get 403 (docs/pipelines.md)',
    );
  }

  const builtinSinks = new Map<
    string,
    { subscription: Subscription; send: ReturnType<typeof makeEventGridSink>['send'] }
  >();
  if (settings.eventGrid) {
    const sink = makeEventGridSink({
      ...settings.eventGrid,
      timeoutMs: settings.delivery.timeoutMs,
    });
    builtinSinks.set(EVENT_GRID_SUBSCRIPTION_ID, {
      subscription: {
        id: EVENT_GRID_SUBSCRIPTION_ID,
        url: settings.eventGrid.endpoint,
        format: 'cloudevents',
        secret: '',
        filter: {},
        headers: {},
        types: [],
        enabled: true,
        createdAt: instantFromDate(new Date(0)),
      },
      send: (event) => sink.send(event),
    });
  }

  // Every call to a caller-supplied URL goes through it (subscriptions today).
  const outboundGuard = makeOutboundGuard({ enabled: settings.outboundGuard });
  const deliverer = makeDeliverer({
    store,
    clock: systemClock,
    retryScheduleMs: settings.delivery.retryScheduleMs ?? DEFAULT_RETRY_SCHEDULE_MS,
    timeoutMs: settings.delivery.timeoutMs,
    send: (request, options) => sendDelivery(request, { ...options, fetch: outboundGuard.fetch }),
    builtinSinks,
    log: (line) => console.log(line),
    telemetry,
  });
  // First attempts of deliveries stored claimed with their event: sent at once, nothing read first.
  const deliverClaimed = (deliveries: NewDelivery[]) => {
    void deliverer.deliverClaimed(deliveries).catch((error: unknown) => {
      console.warn(`immediate delivery failed, the timer will retry: ${(error as Error).message}`);
    });
  };
  // First attempts go out at once; the timer retries whatever this misses.
  const deliverNow = (deliveries: DeliveryRecord[]) => {
    void deliverer.deliverNew(deliveries).catch((error: unknown) => {
      console.warn(`immediate delivery failed, the timer will retry: ${(error as Error).message}`);
    });
  };

  const notifier = makeChangeNotifier();
  // Pipeline checks and deployments waiting on an image: answered once, resumed by writes and the timer.
  const github = settings.approvals.github;
  const approvals = makeApprovals({
    store,
    clock: systemClock,
    defaultRegions: settings.defaultRegions,
    answerers: {
      // PlanUrl is the caller's: the allowlist, then the outbound guard on every connection.
      'azure-pipelines': makeAzurePipelinesAnswerer({
        allowedHosts: settings.approvals.azurePipelinesHosts,
        timeoutMs: settings.delivery.timeoutMs,
        send: (request, options) =>
          sendDelivery(request, { ...options, fetch: outboundGuard.fetch }),
      }),
      ...(github
        ? {
            github: makeGithubAnswerer({
              app: github,
              timeoutMs: settings.delivery.timeoutMs,
              send: sendDelivery,
            }),
          }
        : {}),
    },
    retryScheduleMs: settings.delivery.retryScheduleMs ?? DEFAULT_RETRY_SCHEDULE_MS,
    leaseMs: settings.delivery.timeoutMs + 30_000,
    log: (line) => console.log(line),
  });
  const approvalFailed = (error: unknown) => {
    console.warn(`approvals not advanced, the timer will retry: ${(error as Error).message}`);
  };
  const advanceSoon = (registry: string, repository: string, id: string) => {
    void approvals.advanceOne(registry, repository, id).catch(approvalFailed);
  };
  // A tag write looks up approvals only in a repository where this instance knows one waits.
  const onTagWritten = resumeOnTagWrite(approvals, approvalFailed);

  // Index reads and region checks: Entra ID (AcrPull) or anonymous; trust from the system and NODE_EXTRA_CA_CERTS.
  const images: ImageDeps = {
    ...settings.images,
    reader: makeManifestReader({ auth: settings.images.auth }),
    boundMs: DEFAULT_READ_BOUND_MS,
  };
  const core = {
    store,
    images,
    clock: systemClock,
    notifier,
    telemetry,
    waits: makeSharedWaits({
      store,
      notifier,
      pollMs: settings.waitPollMs,
      maxWaiters: settings.maxWaiters,
      defaultRegions: settings.defaultRegions,
    }),
    defaultRegions: settings.defaultRegions,
    maxAttempts: settings.storeMaxAttempts,
    guard,
    maxBodyBytes: settings.maxBodyBytes,
    builtinSubscriptions: [...builtinSinks.values()].map((s) => s.subscription),
    onDeliveries: deliverNow,
    onNewDeliveries: deliverClaimed,
    // As long as the deliverer's own claim: one send plus margin.
    firstAttemptLeaseMs: settings.delivery.timeoutMs + 30_000,
    tagCache: makeTagCache(),
    stallAfterMs: settings.stallAfterMs,
    outboundGuard,
    feedSettleMs: settings.feedSettleMs,
    onTagWritten,
  };
  const approvalRoutes = {
    ...core,
    approvals,
    advanceSoon,
    defaultTimeoutMs: settings.approvals.defaultTimeoutMs,
  };
  const http = {
    acrWebhook: traced(
      telemetry,
      'acrgate.webhook.acr',
      makeAcrWebhookHandler({
        ...core,
        countQuarantineAsArrival: settings.countQuarantineAsArrival,
      }),
    ),
    replicationStatus: makeStatusHandler(core),
    replicationList: makeListHandler(core),
    verifyImage: makeVerifyHandler(core),
    getRegistry: makeGetRegistryHandler(core),
    putRegistry: makePutRegistryHandler(core),
    eventFeed: makeEventFeedHandler(core),
    getEvent: makeGetEventHandler(core),
    redeliverEvent: makeRedeliverHandler({ ...core, deliverNow }),
    createSubscription: makeCreateSubscriptionHandler(core),
    listSubscriptions: makeListSubscriptionsHandler(core),
    getSubscription: makeGetSubscriptionHandler(core),
    deleteSubscription: makeDeleteSubscriptionHandler(core),
    health: makeHealthHandler(core),
    dashboard: makeDashboardHandler(core),
    openApi: makeOpenApiHandler(core),
    eventGridWebhook: traced(telemetry, 'acrgate.webhook.eventgrid', makeEventGridHandler(core)),
    eventGridHandshake: makeEventGridOptionsHandler(core),
    gatekeeperProvider: makeGatekeeperHandler(core),
    azurePipelinesCheck: makeAzurePipelinesCheckHandler({
      ...approvalRoutes,
      allowedHosts: settings.approvals.azurePipelinesHosts,
    }),
    githubDeploymentProtectionRule: makeGithubProtectionRuleHandler({
      ...approvalRoutes,
      app: github,
    }),
    putGithubEnvironment: makePutGithubEnvironmentHandler({ ...approvalRoutes, app: github }),
  } satisfies Record<RouteName, HttpHandler>; // one handler per route of src/http/routes.ts, no more
  const timers = {
    deliverEvents: makeDeliverEventsTimer(deliverer),
    sweepRounds: makeSweepRoundsTimer(core),
    resumeApprovals: makeResumeApprovalsTimer(approvals),
    // Registered only when RECONCILE_* name a registry.
    reconcileWebhooks: settings.reconcile
      ? makeReconcileWebhooksTimer(
          reconcileDeps(settings.reconcile, core, settings.countQuarantineAsArrival),
        )
      : undefined,
  } satisfies Record<string, TimerHandler | undefined>;
  return { http, timers };
}

/** ARM as the source of recent webhook events, the store as the place they are replayed into. */
function reconcileDeps(
  target: NonNullable<Settings['reconcile']>,
  deps: RegionsDeps,
  countQuarantine: boolean,
): Omit<ReconcileDeps, 'log'> {
  type Client = ReturnType<typeof ArmClient.createArmClient>;
  let arm: Promise<{ module: typeof WebhookEvents; client: Client }> | undefined;
  const loadArm = () =>
    (arm ??= Promise.all([
      import('./registration/arm-client'),
      import('./registration/list-webhook-events'),
    ]).then(([{ createArmClient }, module]) => ({
      module,
      client: createArmClient({
        subscriptionId: target.subscriptionId,
        ...(target.armEndpoint !== undefined ? { endpoint: target.armEndpoint } : {}),
        ...(target.armToken !== undefined ? { accessToken: target.armToken } : {}),
      }),
    })));
  const armTarget: ArmClient.ArmTarget = { ...target };
  return {
    source: {
      listWebhooks: async () => {
        const { module, client } = await loadArm();
        const names = target.webhooks ? { names: target.webhooks } : {};
        return module.listRegionalWebhooks(client, armTarget, names);
      },
      listEvents: async (name) => {
        const { module, client } = await loadArm();
        return module.listWebhookEvents(client, armTarget, name);
      },
    },
    replay: makeStoreReplay(deps),
    countQuarantine,
  };
}
