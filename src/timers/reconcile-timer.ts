// The reconcileWebhooks timer: every few minutes, replays the regional webhooks' recent events that we lost.
import { reconcileWebhooks, type ReconcileDeps } from '../app/reconcile-webhooks';
import type { TimerHandler } from './timer-handlers';

export function makeReconcileWebhooksTimer(deps: Omit<ReconcileDeps, 'log'>): TimerHandler {
  return async (_timer, context) => {
    const report = await reconcileWebhooks({ ...deps, log: (line) => context.log(line) });
    const summary =
      `reconcile: ${report.webhooks} webhook(s), ${report.events} event(s): ${report.replayed} replayed, ` +
      `${report.alreadyKnown} already known, ${report.skipped} skipped, ${report.failed} failed`;
    // A failed run shows as a failed invocation, so monitoring sees it; the next run retries.
    if (report.failed > 0) throw new Error(summary);
    context.log(summary);
  };
}
