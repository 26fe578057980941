// The route table: every function the host loads, and nothing else. Logic lives in src/.
import { app } from '@azure/functions';
import { buildHandlers } from '../src/main';

const { http: h, timers: t } = buildHandlers();

// ACR sends the bearer token configured on the webhook; the app checks it (WEBHOOK_TOKENS).
app.http('acrWebhook', {
  route: 'webhooks/acr/{region}',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: h.acrWebhook,
});
// The same arrivals through Event Grid (which retries); webhook token as a bearer header or ?token=.
app.http('eventGridWebhook', {
  route: 'webhooks/eventgrid',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: h.eventGridWebhook,
});
// CloudEvents abuse protection: Event Grid's OPTIONS handshake before the first delivery.
app.http('eventGridHandshake', {
  route: 'webhooks/eventgrid',
  methods: ['OPTIONS'],
  authLevel: 'anonymous',
  handler: h.eventGridHandshake,
});

// Read routes take a read or an admin token (READ_ROLES); webhook tokens get 403.
app.http('replicationStatus', {
  route: 'replications/{registry}/{*reference}',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: h.replicationStatus,
});
app.http('replicationList', {
  route: 'replications/{registry}',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: h.replicationList,
});
// Checks every required region at its own endpoint now (`acr-gate verify`).
app.http('verifyImage', {
  route: 'verify/{registry}/{*reference}',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: h.verifyImage,
});
app.http('eventFeed', {
  route: 'events',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: h.eventFeed,
});
app.http('getEvent', {
  route: 'events/{id}',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: h.getEvent,
});
// An Azure Pipelines check in Callback mode: a read token (and the function key on Azure).
app.http('azurePipelinesCheck', {
  route: 'azure-pipelines/checks',
  methods: ['POST'],
  authLevel: 'function',
  handler: h.azurePipelinesCheck,
});
// The GitHub App's deployment_protection_rule webhook: verified by its X-Hub-Signature-256.
app.http('githubDeploymentProtectionRule', {
  route: 'github/deployment-protection-rule',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: h.githubDeploymentProtectionRule,
});
app.http('health', {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: h.health,
});
// The read-only HTML dashboard: a read token in the header or, from a browser, in ?token=.
app.http('dashboard', {
  route: 'dashboard/{registry?}',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: h.dashboard,
});
// The Gatekeeper external data provider (and Kyverno apiCall): Gatekeeper sends no headers, so
// the read token comes as ?token= (and the function key as ?code= if authLevel is raised on Azure).
app.http('gatekeeperProvider', {
  route: 'gatekeeper/{region}',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: h.gatekeeperProvider,
});
// The API description, generated from the zod schemas: no token.
app.http('openApi', {
  route: 'openapi.json',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: h.openApi,
});

// Admin routes: the function key on Azure, and an ADMIN_TOKENS bearer token everywhere.
app.http('getRegistry', {
  route: 'registries/{registry}',
  methods: ['GET'],
  authLevel: 'function',
  handler: h.getRegistry,
});
app.http('putRegistry', {
  route: 'registries/{registry}',
  methods: ['PUT'],
  authLevel: 'function',
  handler: h.putRegistry,
});
app.http('redeliverEvent', {
  route: 'events/{id}/redeliver',
  methods: ['POST'],
  authLevel: 'function',
  handler: h.redeliverEvent,
});
app.http('createSubscription', {
  route: 'subscriptions',
  methods: ['POST'],
  authLevel: 'function',
  handler: h.createSubscription,
});
app.http('listSubscriptions', {
  route: 'subscriptions',
  methods: ['GET'],
  authLevel: 'function',
  handler: h.listSubscriptions,
});
app.http('getSubscription', {
  route: 'subscriptions/{id}',
  methods: ['GET'],
  authLevel: 'function',
  handler: h.getSubscription,
});
app.http('deleteSubscription', {
  route: 'subscriptions/{id}',
  methods: ['DELETE'],
  authLevel: 'function',
  handler: h.deleteSubscription,
});
app.http('putGithubEnvironment', {
  route: 'github/environments/{owner}/{repo}/{environment}',
  methods: ['PUT'],
  authLevel: 'function',
  handler: h.putGithubEnvironment,
});

// Due deliveries every 10 seconds; outboxes left behind and stalled rounds every minute.
app.timer('deliverEvents', { schedule: '*/10 * * * * *', handler: t.deliverEvents });
app.timer('sweepRounds', { schedule: '0 * * * * *', handler: t.sweepRounds });
// Waiting approvals (deadlines, writes another instance missed) and answers to retry, every 10 seconds.
app.timer('resumeApprovals', { schedule: '*/10 * * * * *', handler: t.resumeApprovals });
// Lost webhook deliveries replayed from ARM every 5 minutes, when RECONCILE_* are set.
if (t.reconcileWebhooks) {
  app.timer('reconcileWebhooks', { schedule: '0 */5 * * * *', handler: t.reconcileWebhooks });
}
