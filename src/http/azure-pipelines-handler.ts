// POST /api/azure-pipelines/checks: the Invoke Azure Function check in Callback mode, answered later with TaskCompleted.
import { createHash } from 'node:crypto';
import type { HttpHandler, HttpRequest } from '@azure/functions';
import { z } from 'zod';
import { describeImage, type Approvals } from '../app/answer-approvals';
import type { ApprovalRecord, Clock } from '../app/ports';
import { resolveReference, type ReadDeps as StatusReadDeps } from '../app/read-status';
import { checkScope } from '../app/required-regions';
import { imageSchema, timeoutSchema } from '../approvals/image';
import { checkOutboundUrl } from '../approvals/outbound-url';
import type { OutboundGuard } from '../net/outbound-guard';
import { regionNameSchema } from '../replication/names';
import { plusMillis } from '../replication/timestamp';
import type { Guard } from './guard';
import { json, parseOr400, readJsonBody } from './handle';
import { HttpProblem } from './problem';

export interface AzurePipelinesDeps extends StatusReadDeps {
  guard: Guard;
  clock: Clock;
  maxBodyBytes: number;
  approvals: Approvals;
  /** Starts deciding a stored approval without holding up the answer. */
  advanceSoon: (registry: string, repository: string, id: string) => void;
  allowedHosts: readonly string[];
  defaultTimeoutMs: number;
  /** Private and loopback destinations, after DNS (OUTBOUND_GUARD); the allowlist comes first. */
  outboundGuard?: Pick<OutboundGuard, 'refusal'>;
}

const guid = z
  .string()
  .regex(/^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$/, 'must be a GUID');

/** The system values Azure Pipelines sends as headers, by their documented names. */
export const checkHeadersSchema = z.object({
  PlanUrl: z.string().min(1).max(2048),
  ProjectId: guid,
  HubName: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be a hub name such as build or release'),
  PlanId: guid,
  JobId: guid,
  TimelineId: guid,
  TaskInstanceId: guid,
  AuthToken: z.string().min(1).max(16_384),
});

export const checkBodySchema = z.strictObject({
  image: imageSchema.describe('registry/repository:tag or registry/repository@sha256:…'),
  regions: z.array(regionNameSchema).min(1).max(100).optional(),
  timeout: timeoutSchema
    .optional()
    .describe('how long to wait, e.g. 30m (default APPROVAL_TIMEOUT)'),
});

export const checkAnswerSchema = z.object({
  id: z.string(),
  image: z.string(),
  state: z.enum(['waiting', 'answering', 'answered', 'failed']),
  deadline: z.string(),
});

const HEADER_NAMES = Object.keys(
  checkHeadersSchema.shape,
) as (keyof typeof checkHeadersSchema.shape)[];

function readHeaders(request: HttpRequest): z.output<typeof checkHeadersSchema> {
  const values = Object.fromEntries(
    HEADER_NAMES.flatMap((name) => {
      const value = request.headers.get(name);
      return value === null ? [] : [[name, value.trim()]];
    }),
  );
  return parseOr400(checkHeadersSchema, values, 'headers', 'headers');
}

export function makeAzurePipelinesCheckHandler(deps: AzurePipelinesDeps): HttpHandler {
  return deps.guard('azurePipelinesCheck', async (request, context) => {
    const headers = readHeaders(request);
    const planUrl = checkOutboundUrl(headers.PlanUrl, deps.allowedHosts);
    const refused = planUrl.ok
      ? await deps.outboundGuard?.refusal(headers.PlanUrl)
      : `${planUrl.reason}; set AZURE_PIPELINES_HOSTS to allow another`;
    if (refused !== undefined) {
      const detail = refused;
      throw new HttpProblem({
        status: 400,
        title: 'Invalid headers',
        detail: `headers.PlanUrl: ${detail}`,
        errors: [{ field: 'headers.PlanUrl', detail }],
      });
    }
    const body = parseOr400(
      checkBodySchema,
      await readJsonBody(request, deps.maxBodyBytes),
      'body',
    );
    const { registry, reference } = body.image;
    const image = describeImage(registry, reference);
    if (body.regions) {
      // A region the registry does not have would never report: the check would fail at its timeout.
      const checked = await checkScope(deps, registry, body.regions);
      if (!checked.ok) {
        const detail = `${checked.unknown.join(', ')} ${checked.unknown.length === 1 ? 'is' : 'are'} not among the regions of ${registry} (${checked.configured.join(', ') || 'none'})`;
        throw new HttpProblem({
          status: 400,
          title: 'Invalid body',
          detail: `regions: ${detail}`,
          errors: [{ field: 'regions', detail }],
          extensions: { unknownRegions: checked.unknown },
        });
      }
    }
    if (!(await resolveReference(deps, registry, reference))) {
      const detail = `no arrival of ${image} has been recorded; run the check after the push`;
      throw new HttpProblem({
        status: 400,
        title: 'Unknown image',
        detail: `image: ${detail}`,
        errors: [{ field: 'image', detail }],
      });
    }
    const now = deps.clock.now();
    // The same check instance sent again is the same approval.
    const id = `azp-${createHash('sha256')
      .update(`${headers.PlanId}|${headers.JobId}|${headers.TaskInstanceId}`)
      .digest('hex')
      .slice(0, 32)}`;
    const deadline = plusMillis(now, body.timeout ?? deps.defaultTimeoutMs);
    const record: ApprovalRecord = {
      id,
      kind: 'azure-pipelines',
      registry,
      repository: reference.repository,
      reference,
      regions: body.regions ? [...new Set(body.regions)].sort() : null,
      state: 'waiting',
      decision: null,
      deadline,
      nextAttemptAt: null,
      attempts: [],
      reports: 0,
      lastReport: null,
      target: {
        planUrl: headers.PlanUrl,
        projectId: headers.ProjectId,
        hubName: headers.HubName,
        planId: headers.PlanId,
        jobId: headers.JobId,
        timelineId: headers.TimelineId,
        taskInstanceId: headers.TaskInstanceId,
        authToken: headers.AuthToken,
      },
      createdAt: now,
      updatedAt: now,
    };
    const created = await deps.approvals.open(record);
    context.log(
      `azure pipelines check ${id} for ${image}${created ? '' : ' (sent again)'}: plan ${headers.PlanId}, job ${headers.JobId}`,
    );
    // Acknowledged once stored; decided right after (at once if it is already replicated).
    deps.advanceSoon(registry, reference.repository, id);
    return json(200, { id, image, state: 'waiting', deadline });
  });
}
