// The one error boundary of every HTTP function: expected problems answer as themselves, the rest is logged.
import type {
  HttpHandler,
  HttpRequest,
  HttpResponseInit,
  InvocationContext,
} from '@azure/functions';
import type { z } from 'zod';
import {
  ImplausibleTimestampError,
  StoreUnavailableError,
  StoredItemMalformedError,
} from '../app/ports';
import { HttpProblem, invalid, toProblemResponse } from './problem';

export function handle(
  run: (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>,
): HttpHandler {
  return async (request, context) => {
    try {
      return await run(request, context);
    } catch (error) {
      // Parsed only for a problem answer: a URL per request is measurable under load.
      const instance = new URL(request.url).pathname;
      if (error instanceof HttpProblem) return toProblemResponse(error.problem, instance);
      if (error instanceof ImplausibleTimestampError) {
        return toProblemResponse(
          {
            status: 400,
            title: 'Invalid ACR webhook payload',
            detail: `timestamp: ${error.message}`,
            errors: [{ field: 'timestamp', detail: error.message }],
          },
          instance,
        );
      }
      if (error instanceof StoreUnavailableError) {
        context.error(`store unavailable: ${error.message}`);
        return toProblemResponse(
          {
            status: 503,
            title: 'Store unavailable',
            // A lost answer (timeout, dropped connection) can hide a write that landed.
            detail: 'the replication store could not be reached; nothing is acknowledged',
            headers: { 'retry-after': '5' },
          },
          instance,
        );
      }
      if (error instanceof StoredItemMalformedError) {
        // Not an outage: retrying will not help, and other items still answer. Someone must look.
        context.error(`ALERT ${error.message}`);
        return toProblemResponse(
          {
            status: 500,
            title: 'Stored item unreadable',
            detail: 'a stored item this request needs does not read back; an alert was raised',
          },
          instance,
        );
      }
      context.error('unhandled error', error);
      return toProblemResponse({ status: 500, title: 'Internal Server Error' }, instance);
    }
  };
}

const JSON_TYPES = [
  'application/json',
  'application/cloudevents+json',
  'application/cloudevents-batch+json',
];

/** Strict UTF-8; decode() without `stream` keeps no state between calls, so one is shared. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Reads a JSON body within the size limit; 415, 413 or 400 problems otherwise. */
export async function readJsonBody(
  request: HttpRequest,
  maxBytes: number,
  accept: readonly string[] = JSON_TYPES.slice(0, 1),
): Promise<unknown> {
  const contentType = (request.headers.get('content-type') ?? '')
    .split(';')[0]
    ?.trim()
    .toLowerCase();
  if (!contentType || !accept.includes(contentType)) {
    throw new HttpProblem({
      status: 415,
      title: 'Unsupported Media Type',
      detail: `content-type must be ${accept.join(' or ')}`,
      errors: [{ field: 'content-type', detail: `expected ${accept.join(' or ')}` }],
    });
  }
  const declared = Number(request.headers.get('content-length') ?? '0');
  const tooLarge = () =>
    new HttpProblem({
      status: 413,
      title: 'Payload Too Large',
      detail: `the body must be at most ${maxBytes} bytes`,
    });
  if (declared > maxBytes) throw tooLarge();
  const bytes = await readCapped(request, maxBytes);
  if (bytes === undefined) throw tooLarge();
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new HttpProblem({
      status: 400,
      title: 'Invalid body',
      detail: 'the body is not valid UTF-8',
    });
  }
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpProblem({
      status: 400,
      title: 'Invalid JSON',
      detail: `the body is not valid JSON: ${(error as Error).message.slice(0, 200)}`,
      errors: [{ field: '(body)', detail: 'malformed JSON' }],
    });
  }
  const deep = fieldNestedTooDeep(body);
  if (deep !== undefined) {
    // 400, not 413: the body is within the size limit; its shape is what we refuse.
    const detail = `nested deeper than ${MAX_JSON_DEPTH} levels`;
    throw new HttpProblem({
      status: 400,
      title: 'Invalid body',
      detail: `${deep}: ${detail}`,
      errors: [{ field: deep, detail }],
    });
  }
  return body;
}

/**
 * The body, or undefined as soon as it passes `maxBytes`: a chunked body without a length is not
 * read to its end first (where the host streams it, as the local host does).
 */
async function readCapped(request: HttpRequest, maxBytes: number): Promise<Buffer | undefined> {
  const stream = request.body as ReadableStream<Uint8Array> | null;
  if (stream === null) return Buffer.alloc(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return Buffer.concat(chunks);
      size += value.byteLength;
      if (size > maxBytes) return undefined;
      chunks.push(value);
    }
  } finally {
    // Stops reading what is left of a body too large to take; harmless once it has ended.
    await reader.cancel().catch(() => undefined);
  }
}

/** No payload we take nests this deep; thousands of levels overflow the stack when stored. */
export const MAX_JSON_DEPTH = 32;

/** The top-level member (or `(body)`) holding a too-deep value; iterative, so it cannot overflow. */
function fieldNestedTooDeep(body: unknown): string | undefined {
  const pending: { value: unknown; depth: number; field: string }[] = [
    { value: body, depth: 1, field: '(body)' },
  ];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value, depth, field } = next;
    if (typeof value !== 'object' || value === null) continue;
    if (depth > MAX_JSON_DEPTH) return field;
    // Scalars (most of a body) are not queued: only objects and arrays can nest.
    for (const key of Object.keys(value)) {
      const child = (value as Record<string, unknown>)[key];
      if (typeof child === 'object' && child !== null) {
        pending.push({ value: child, depth: depth + 1, field: depth === 1 ? key : field });
      }
    }
  }
  return undefined;
}

/** Parses with zod or throws a 400 naming the offending field (prefixed, e.g. `query.status`). */
export function parseOr400<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
  prefix?: string,
): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalid(what, parsed.error, prefix);
  return parsed.data;
}

export const json = (
  status: number,
  body: unknown,
  headers?: Record<string, string>,
): HttpResponseInit => ({
  status,
  jsonBody: body,
  headers: { 'cache-control': 'no-store', ...headers },
});
