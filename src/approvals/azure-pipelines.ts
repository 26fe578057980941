// Azure Pipelines' Invoke Azure Function check in Callback mode: the TaskCompleted event that closes it.
import { AnswerRefusedError, type Answerer } from '../app/answer-approvals';
import type { ApprovalRecord } from '../app/ports';
import { USER_AGENT } from '../events/delivery-request';
import type { AttemptResult, DeliveryRequest } from '../events/types';
import { checkOutboundUrl } from './outbound-url';

/** What the check sends as headers, as stored in an approval's target (authToken until answered). */
export interface CheckTarget {
  planUrl: string;
  projectId: string;
  hubName: string;
  planId: string;
  jobId: string;
  timelineId: string;
  taskInstanceId: string;
  authToken: string;
}

export const AZURE_PIPELINES_SECRET_FIELDS = ['authToken'] as const;

/** `{PlanUrl}{ProjectId}/_apis/distributedtask/hubs/{HubName}/plans/{PlanId}/events?api-version=2.0-preview.1` */
export function taskEventsUrl(
  target: Pick<CheckTarget, 'planUrl' | 'projectId' | 'hubName' | 'planId'>,
): string {
  const base = target.planUrl.endsWith('/') ? target.planUrl : `${target.planUrl}/`;
  const path = [
    encodeURIComponent(target.projectId),
    '_apis/distributedtask/hubs',
    encodeURIComponent(target.hubName),
    'plans',
    encodeURIComponent(target.planId),
    'events',
  ].join('/');
  return `${base}${path}?api-version=2.0-preview.1`;
}

export function toTaskCompletedRequest(target: CheckTarget, succeeded: boolean): DeliveryRequest {
  return {
    url: taskEventsUrl(target),
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${target.authToken}`,
      'user-agent': USER_AGENT,
    },
    body: JSON.stringify({
      name: 'TaskCompleted',
      taskId: target.taskInstanceId,
      jobId: target.jobId,
      result: succeeded ? 'succeeded' : 'failed',
    }),
  };
}

const toTarget = (record: ApprovalRecord): CheckTarget => {
  const t = record.target;
  return {
    planUrl: t.planUrl ?? '',
    projectId: t.projectId ?? '',
    hubName: t.hubName ?? '',
    planId: t.planId ?? '',
    jobId: t.jobId ?? '',
    timelineId: t.timelineId ?? '',
    taskInstanceId: t.taskInstanceId ?? '',
    authToken: t.authToken ?? '',
  };
};

export function makeAzurePipelinesAnswerer(deps: {
  allowedHosts: readonly string[];
  timeoutMs: number;
  send: (request: DeliveryRequest, options: { timeoutMs: number }) => Promise<AttemptResult>;
}): Answerer {
  return {
    secretFields: AZURE_PIPELINES_SECRET_FIELDS,
    answer: async (record, decision) => {
      const target = toTarget(record);
      // Checked again when sending: the allowlist may have shrunk since the check arrived.
      const allowed = checkOutboundUrl(target.planUrl, deps.allowedHosts);
      if (!allowed.ok) throw new AnswerRefusedError(`PlanUrl ${allowed.reason}`);
      if (target.authToken === '') throw new AnswerRefusedError('the AuthToken is gone');
      return deps.send(toTaskCompletedRequest(target, decision.approved), {
        timeoutMs: deps.timeoutMs,
      });
    },
  };
}
