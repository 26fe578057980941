// Optional sink: publishes gate events to an Azure Event Grid topic in the CloudEvents schema.
import type { EventGridPublisherClient } from '@azure/eventgrid';
import { performance } from 'node:perf_hooks';
import { instantFromDate, instantToDate, toInstant } from '../replication/timestamp';
import { parseRetryAfter } from './delivery-request';
import { toExcerpt } from './send-delivery';
import type { AttemptResult, GateEvent } from './types';

export interface EventGridSink {
  send(event: GateEvent): Promise<AttemptResult>;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The shape of the SDK's RestError, checked structurally so we need not import core-rest-pipeline. */
interface RestErrorLike {
  statusCode?: number;
  response?: { headers: { get(name: string): string | undefined } };
}

function asRestError(error: unknown): RestErrorLike | undefined {
  return error instanceof Error && error.name === 'RestError'
    ? (error as Error & RestErrorLike)
    : undefined;
}

/** Event Grid takes a Date: sub-millisecond digits of our instants are lost on this path. */
function toDate(time: string): Date {
  const instant = toInstant(time);
  return instant === undefined ? new Date(time) : instantToDate(instant);
}

/**
 * `endpoint` is the topic endpoint, e.g. `https://topic.westeurope-1.eventgrid.azure.net/api/events`.
 * Plain http is allowed for loopback only (tests, emulators): the key must not travel in clear.
 */
export function makeEventGridSink(options: {
  endpoint: string;
  key: string;
  timeoutMs: number;
}): EventGridSink {
  const url = new URL(options.endpoint);
  // The SDK loads on the first event sent, not at start: most instances never publish one.
  let client: Promise<EventGridPublisherClient<'CloudEvent'>> | undefined;
  const getClient = () =>
    (client ??= import('@azure/eventgrid').then(
      ({ AzureKeyCredential, EventGridPublisherClient }) =>
        new EventGridPublisherClient(
          options.endpoint,
          'CloudEvent',
          new AzureKeyCredential(options.key),
          {
            allowInsecureConnection: url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname),
            // The delivery loop owns retries and back-off; the pipeline's own would hide attempts from it.
            retryOptions: { maxRetries: 0 },
            userAgentOptions: { userAgentPrefix: 'acr-replication-gate' },
          },
        ),
    ));

  return {
    async send(event: GateEvent): Promise<AttemptResult> {
      const publisher = await getClient();
      const start = new Date();
      const started = performance.now();
      const at = instantFromDate(start);
      const elapsed = (): number => Math.round(performance.now() - started);
      let status = 200;
      try {
        await publisher.send(
          [
            {
              id: event.id,
              type: event.type,
              source: event.source,
              subject: event.subject,
              time: toDate(event.time),
              datacontenttype: event.datacontenttype,
              data: event.data,
            },
          ],
          {
            abortSignal: AbortSignal.timeout(options.timeoutMs),
            onResponse: (response) => {
              status = response.status;
            },
          },
        );
        return { at, durationMs: elapsed(), status };
      } catch (error) {
        const durationMs = elapsed();
        const restError = asRestError(error);
        const message =
          error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')
            ? `timed out after ${options.timeoutMs} ms`
            : error instanceof Error
              ? error.message
              : String(error);
        const result: AttemptResult = { at, durationMs, error: toExcerpt(message) };
        if (restError?.statusCode !== undefined) {
          result.status = restError.statusCode;
          result.error = toExcerpt(`HTTP ${restError.statusCode}: ${message}`);
          const retryAfterMs = parseRetryAfter(
            restError.response?.headers.get('retry-after') ?? null,
            new Date(),
          );
          if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
        }
        return result;
      }
    },
  };
}
