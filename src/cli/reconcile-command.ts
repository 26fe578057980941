// `acr-gate reconcile`: replays the regional webhooks' recent events (ARM listEvents) through the gate's Event Grid receiver.
import { z } from 'zod';
import { reconcileWebhooks, type Replay, type ReplayOutcome } from '../app/reconcile-webhooks';
import { createArmClient, type ArmTarget } from '../registration/arm-client';
import { listRegionalWebhooks, listWebhookEvents } from '../registration/list-webhook-events';
import { toImageCloudEvent } from '../replication/event-grid-event';
import { CliError, EXIT, type ExitCode } from './exit-codes';
import { bearerHeader, redactUrl, scrub } from './redact';

export interface ReconcileOptions {
  registry: string;
  apiUrl: string;
  subscription?: string;
  resourceGroup?: string;
  armEndpoint?: string;
  armToken?: string;
  /** Webhook names; default: the `acrgate<region>` webhooks `webhooks apply` creates. */
  webhooks?: string[];
  webhookToken?: string;
  json: boolean;
  out: (text: string) => void;
  err: (text: string) => void;
}

const resultsSchema = z.looseObject({
  results: z.array(z.looseObject({ outcome: z.enum(['recorded', 'unchanged', 'ignored']) })),
});

const problemSchema = z.looseObject({
  detail: z.string().optional(),
  title: z.string().optional(),
});

/**
 * Replays one arrival as the CloudEvent Event Grid would have delivered: that receiver answers
 * whether it changed anything, which the regional webhook receiver's status body does not say.
 */
function makeHttpReplay(apiUrl: string, token: string, source: string) {
  const url = `${apiUrl.replace(/\/+$/, '')}/webhooks/eventgrid`;
  const authorization = bearerHeader(token, '--webhook-token (or ACR_GATE_WEBHOOK_TOKEN)');
  const shownUrl = redactUrl(url);
  return async ({ payload, region }: Replay): Promise<ReplayOutcome> => {
    const event = toImageCloudEvent(payload, region, source);
    if (event === undefined) throw new Error(`not an image event: ${String(payload.action)}`);
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: {
          authorization,
          'content-type': 'application/cloudevents+json',
          'user-agent': 'acr-gate reconcile',
        },
        body: JSON.stringify(event),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      const reason = scrub((error as Error).message, [apiUrl, url, token]);
      throw new CliError(`cannot reach ${shownUrl}: ${reason}`, EXIT.unavailable);
    }
    const body: unknown = await response.json().catch(() => undefined);
    if (response.status === 401 || response.status === 403) {
      const problem = problemSchema.safeParse(body);
      const detail = problem.success ? (problem.data.detail ?? problem.data.title) : undefined;
      throw new CliError(
        `the webhook token was refused (${response.status}): ${detail ?? ''}`,
        EXIT.auth,
      );
    }
    if (response.status === 404) {
      throw new CliError(
        `${shownUrl} answered 404: does the gate have an Event Grid receiver?`,
        EXIT.error,
      );
    }
    const parsed = resultsSchema.safeParse(body);
    if (!response.ok || !parsed.success) {
      const problem = problemSchema.safeParse(body);
      throw new Error(
        `${response.status} from the gate${problem.success && problem.data.detail ? `: ${problem.data.detail}` : ''}`,
      );
    }
    return parsed.data.results.some((r) => r.outcome === 'recorded') ? 'recorded' : 'unchanged';
  };
}

export async function reconcileCommand(o: ReconcileOptions): Promise<ExitCode> {
  if (!o.webhookToken) {
    throw new CliError(
      "set ACR_GATE_WEBHOOK_TOKEN (or --webhook-token) to one of the gate's WEBHOOK_TOKENS",
      EXIT.usage,
    );
  }
  if (!o.subscription || !o.resourceGroup) {
    throw new CliError(
      '--subscription and --resource-group are needed to reach Azure Resource Manager',
      EXIT.usage,
    );
  }
  const target: ArmTarget = {
    subscriptionId: o.subscription,
    resourceGroup: o.resourceGroup,
    registryName: o.registry.split('.')[0] ?? o.registry,
  };
  const client = createArmClient({
    subscriptionId: target.subscriptionId,
    ...(o.armEndpoint ? { endpoint: o.armEndpoint } : {}),
    ...(o.armToken ? { accessToken: o.armToken } : {}),
  });
  const source =
    `/subscriptions/${target.subscriptionId}/resourceGroups/${target.resourceGroup}` +
    `/providers/Microsoft.ContainerRegistry/registries/${target.registryName}`;
  const report = await reconcileWebhooks({
    source: {
      listWebhooks: () =>
        listRegionalWebhooks(client, target, o.webhooks ? { names: o.webhooks } : {}),
      listEvents: (name) => listWebhookEvents(client, target, name),
    },
    replay: makeHttpReplay(o.apiUrl, o.webhookToken, source),
    countQuarantine: false,
    log: (line) => o.err(`${line}\n`),
    isFatal: (error) => error instanceof CliError,
  });
  if (report.webhooks === 0) {
    o.err(
      `no acrgate<region> webhooks in ${target.registryName}: run webhooks apply, or name them with --webhooks\n`,
    );
  }
  o.out(
    o.json
      ? `${JSON.stringify(report, null, 2)}\n`
      : `${report.webhooks} webhook(s), ${report.events} event(s): ${report.replayed} replayed, ` +
          `${report.alreadyKnown} already known, ${report.skipped} skipped, ${report.failed} failed\n`,
  );
  return report.failed > 0 ? EXIT.unavailable : EXIT.ok;
}
