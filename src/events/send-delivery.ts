// Sends one delivery attempt over HTTP and records what happened; a failed delivery is a result, never a throw.
import { performance } from 'node:perf_hooks';
import { instantFromDate } from '../replication/timestamp';
import { parseRetryAfter } from './delivery-request';
import { redact, secretForms } from './redact';
import type { AttemptResult, DeliveryRequest } from './types';

/** Enough of a response body to explain a failure; more only costs memory. */
const MAX_BODY_BYTES = 64 * 1024;
/** Operators read this in the delivery log: one short line. */
const MAX_EXCERPT_CHARS = 300;

/** One line, at most 300 characters. */
export function toExcerpt(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= MAX_EXCERPT_CHARS ? line : `${line.slice(0, MAX_EXCERPT_CHARS - 1)}…`;
}

/** Reads at most MAX_BODY_BYTES and drops the rest, so a huge or endless body cannot hold us. */
async function readCapped(response: Response): Promise<string> {
  if (response.body === null) return '';
  // undici types the stream's chunks as any; they are bytes.
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_BODY_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    // Cancelling an already finished stream is harmless; on the early exit it frees the socket.
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString('utf8');
}

function describeError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError' || error.name === 'AbortError') {
      return `timed out after ${timeoutMs} ms`;
    }
    // fetch reports "fetch failed" and hides the reason (ECONNREFUSED, ENOTFOUND…) in `cause`.
    const cause: unknown = error.cause;
    if (cause instanceof Error) {
      // An AggregateError (one error per address tried) has an empty message but a code.
      const code = (cause as NodeJS.ErrnoException).code;
      const reason = cause.message || code || cause.name;
      const prefix = code !== undefined && !reason.includes(code) ? `${code} ` : '';
      return `${error.message}: ${prefix}${reason}`;
    }
    return error.message;
  }
  return String(error);
}

function describeStatus(response: Response, body: string): string {
  const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  if (response.status >= 300 && response.status < 400) {
    const location = response.headers.get('location');
    return `${status}: redirects are not followed${location ? ` (Location: ${location})` : ''}`;
  }
  return body.trim() === '' ? status : `${status}: ${body}`;
}

export async function sendDelivery(
  request: DeliveryRequest,
  options: {
    timeoutMs: number;
    now?: () => Date;
    /** The outbound guard's fetch (src/net/outbound-guard.ts); plain fetch by default. */
    fetch?: (url: string, init: RequestInit) => Promise<Response>;
  },
): Promise<AttemptResult> {
  const now = options.now ?? (() => new Date());
  const start = now();
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  const at = instantFromDate(start);
  // A receiver that echoes our request headers, or fetch refusing a header value, quotes a secret:
  // redact before cutting the excerpt, so a secret split at the cut or by spacing is still caught.
  const forms = secretForms(request.secrets ?? []);
  const excerpt = (text: string): string => toExcerpt(redact(text, forms));
  // One signal for the whole exchange: a receiver that sends headers and then stalls still times out.
  const signal = AbortSignal.timeout(options.timeoutMs);

  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      // A redirect is not a delivery: the subscription's URL is wrong and should be fixed.
      redirect: 'manual',
      signal,
    });
  } catch (error) {
    return { at, durationMs: elapsed(), error: excerpt(describeError(error, options.timeoutMs)) };
  }

  let body = '';
  let bodyError: string | undefined;
  try {
    body = await readCapped(response);
  } catch (error) {
    bodyError = `reading the response: ${describeError(error, options.timeoutMs)}`;
  }

  const result: AttemptResult = { at, durationMs: elapsed(), status: response.status };
  const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), now());
  if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
  // A 2xx is an acknowledgement even if its body was cut short.
  if (!response.ok) {
    result.error = excerpt(
      bodyError === undefined
        ? describeStatus(response, body)
        : `${describeStatus(response, body)} (${bodyError})`,
    );
  }
  return result;
}
