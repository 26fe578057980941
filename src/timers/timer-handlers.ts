// The timer-triggered functions: due deliveries every few seconds, the sweep of open rounds every minute.
import type { InvocationContext, Timer } from '@azure/functions';
import type { Approvals } from '../app/answer-approvals';
import type { Deliverer } from '../app/deliver-events';
import { sweepRounds, type SweepDeps } from '../app/sweep-rounds';

export type TimerHandler = (timer: Timer, context: InvocationContext) => Promise<void>;

export function makeDeliverEventsTimer(deliverer: Deliverer): TimerHandler {
  return async (_timer, context) => {
    const report = await deliverer.deliverDue();
    if (report.attempted + report.cancelled > 0) {
      context.log(
        `deliveries: ${report.attempted} attempted, ${report.delivered} delivered, ${report.retrying} to retry, ` +
          `${report.dead} dead-lettered, ${report.gone} gone, ${report.cancelled} cancelled`,
      );
    }
  };
}

export function makeSweepRoundsTimer(deps: SweepDeps): TimerHandler {
  return async (_timer, context) => {
    const report = await sweepRounds(deps);
    if (report.malformed.length > 0) {
      context.error(`ALERT sweep skipped unreadable item(s): ${report.malformed.join(', ')}`);
    }
    if (report.published + report.stalled + report.reevaluated > 0) {
      context.log(
        `sweep: ${report.published} outbox(es) published, ${report.stalled} round(s) stalled, ` +
          `${report.reevaluated} round(s) re-evaluated after a region change (${report.completed} completed)`,
      );
    }
  };
}

export function makeResumeApprovalsTimer(approvals: Approvals): TimerHandler {
  return async (_timer, context) => {
    const report = await approvals.resumeDue();
    if (report.answered + report.retrying + report.failed > 0) {
      context.log(
        `approvals: ${report.examined} examined, ${report.answered} answered, ${report.retrying} to retry, ${report.failed} failed`,
      );
    }
  };
}
