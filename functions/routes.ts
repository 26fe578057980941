// The route table: every function the host loads, and nothing else. Logic lives in src/.
import { app } from '@azure/functions';
import { ROUTES } from '../src/http/routes';
import { buildHandlers } from '../src/main';

const { http: h, timers: t } = buildHandlers();

// Every HTTP function as src/http/routes.ts declares it (which also feeds the OpenAPI document).
for (const { name, route, methods, authLevel } of ROUTES) {
  app.http(name, { route, methods: [...methods], authLevel, handler: h[name] });
}

// Due deliveries every 10 seconds; outboxes left behind and stalled rounds every minute.
app.timer('deliverEvents', { schedule: '*/10 * * * * *', handler: t.deliverEvents });
app.timer('sweepRounds', { schedule: '0 * * * * *', handler: t.sweepRounds });
// Waiting approvals (deadlines, writes another instance missed) and answers to retry, every 10 seconds.
app.timer('resumeApprovals', { schedule: '*/10 * * * * *', handler: t.resumeApprovals });
// Lost webhook deliveries replayed from ARM every 5 minutes, when RECONCILE_* are set.
if (t.reconcileWebhooks) {
  app.timer('reconcileWebhooks', { schedule: '0 */5 * * * *', handler: t.reconcileWebhooks });
}
