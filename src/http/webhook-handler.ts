// POST /api/webhooks/acr/{region}: one ACR regional webhook in, stored before it is acknowledged.
import type { HttpHandler } from '@azure/functions';
import { z } from 'zod';
import { recordArrival } from '../app/record-arrival';
import type { RegionsDeps } from '../app/required-regions';
import { toStatusBody } from '../app/read-status';
import { acrEventSchema, ignoredAction, toIntent } from '../replication/acr-event';
import { regionNameSchema } from '../replication/names';
import type { Guard } from './guard';
import { json, parseOr400, readJsonBody } from './handle';

export interface WebhookDeps extends RegionsDeps {
  guard: Guard;
  maxBodyBytes: number;
  countQuarantineAsArrival: boolean;
}

export const acrWebhookParamsSchema = z.object({ region: regionNameSchema });

export function makeAcrWebhookHandler(deps: WebhookDeps): HttpHandler {
  return deps.guard('acrWebhook', async (request, context) => {
    const { region } = parseOr400(acrWebhookParamsSchema, request.params, 'path', 'path');
    const body = await readJsonBody(request, deps.maxBodyBytes);
    const ignored = ignoredAction(body, { countQuarantine: deps.countQuarantineAsArrival });
    if (ignored) {
      const { action, intent } = ignored;
      return json(202, { status: 'ignored', action, reason: intent.reason, region });
    }
    const event = parseOr400(acrEventSchema, body, 'ACR webhook payload');
    const intent = toIntent(event, { countQuarantine: deps.countQuarantineAsArrival });

    if (intent.kind === 'ping') return json(200, { status: 'pong', region });
    if (intent.kind === 'ignore') {
      return json(202, { status: 'ignored', action: event.action, reason: intent.reason, region });
    }

    const outcome = await recordArrival(deps, intent, region, body as Record<string, unknown>);
    if (outcome.kind === 'push') {
      const { record, written, completed } = outcome.result;
      const { registry, repository, tag } = record.state;
      context.log(
        `push ${registry}/${repository}${tag === null ? '' : `:${tag}`}@${intent.digest} in ${region}: ` +
          `${written ? 'recorded' : 'duplicate'}, ${record.evaluation.status}` +
          (completed ? `, event ${completed.event.id}` : ''),
      );
      return json(202, toStatusBody(record.state, record.evaluation));
    }
    const tags = outcome.results.map((r) => toStatusBody(r.record.state, r.record.evaluation));
    context.log(
      `delete ${intent.registry}/${intent.repository}@${intent.digest} in ${region}: ${tags.length} tag(s)`,
    );
    return json(202, { status: 'recorded', action: 'delete', region, digest: intent.digest, tags });
  });
}
