// The route table: every function the host loads, and nothing else. Logic lives in src/.
import { app } from '@azure/functions';
import { buildHandlers } from '../src/main';

const h = buildHandlers();

app.http('acrWebhook', {
  route: 'webhooks/acr/{region}',
  methods: ['POST'],
  authLevel: 'anonymous', // ACR sends the bearer token configured on the webhook
  handler: h.acrWebhook,
});

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

app.http('getRegistry', {
  route: 'registries/{registry}',
  methods: ['GET'],
  authLevel: 'function', // and an ADMIN_TOKENS bearer token
  handler: h.getRegistry,
});

app.http('putRegistry', {
  route: 'registries/{registry}',
  methods: ['PUT'],
  authLevel: 'function',
  handler: h.putRegistry,
});

app.http('health', {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: h.health,
});
