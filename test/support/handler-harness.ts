// Calls handler factories the way @azure/functions' own tests do: a real HttpRequest and
// InvocationContext, no host, and the in-memory store (held to the Cosmos DB store's contract).
import { expect } from 'vitest';
import {
  HttpRequest,
  InvocationContext,
  type HttpHandler,
  type HttpResponseInit,
} from '@azure/functions';
import { makeChangeNotifier } from '../../src/app/change-notifier';
import type { Clock } from '../../src/app/ports';
import { makeSharedWaits } from '../../src/app/wait-for-replication';
import { makeAuthorizer } from '../../src/http/auth';
import { makeGuard } from '../../src/http/guard';
import { ROUTES } from '../../src/http/routes';
import { instantFromDate } from '../../src/replication/timestamp';
import { makeAcrWebhookHandler } from '../../src/http/webhook-handler';
import { aDigest, aPushEvent, type PushOptions } from './fixtures';
import { makeMemoryStore } from './memory-store';

export const TOKENS = {
  webhook: 'webhook-token-0123456789',
  read: 'read-token-0123456789',
  admin: 'admin-token-0123456789',
} as const;

export const REGISTRY = 'contoso.azurecr.io';
export const REGIONS = ['westus', 'eastus'];

/** What src/main.ts gives the handlers, over a fresh in-memory store. */
export function handlerDeps(options: { defaultRegions?: readonly string[] } = {}) {
  const store = makeMemoryStore();
  const notifier = makeChangeNotifier();
  const defaultRegions = options.defaultRegions ?? REGIONS;
  const clock: Clock = { now: () => instantFromDate(new Date()) };
  return {
    store,
    clock,
    notifier,
    defaultRegions,
    maxAttempts: 40,
    maxBodyBytes: 64 * 1024,
    countQuarantineAsArrival: false,
    // Each route admitted as src/http/routes.ts declares it, as src/main.ts does.
    guard: makeGuard(
      ROUTES,
      makeAuthorizer({ webhook: [TOKENS.webhook], read: [TOKENS.read], admin: [TOKENS.admin] }),
    ),
    waits: makeSharedWaits({ store, notifier, pollMs: 50, maxWaiters: 10, defaultRegions }),
  };
}

export interface Call {
  method?: string;
  /** Path and query, as the host would pass them. */
  url: string;
  params?: Record<string, string>;
  /** A role's token by name (`read`), or any other string as the token itself. */
  token?: string;
  headers?: Record<string, string>;
  /** JSON-encoded with content-type application/json unless `rawBody` is given. */
  json?: unknown;
  rawBody?: string;
}

export interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  /** A body sent as text (the dashboard's HTML). */
  text?: string;
  logs: string[];
}

export async function call(handler: HttpHandler, c: Call): Promise<Answer> {
  const token =
    c.token === undefined ? undefined : (TOKENS[c.token as keyof typeof TOKENS] ?? c.token);
  const body = c.rawBody ?? (c.json === undefined ? undefined : JSON.stringify(c.json));
  const request = new HttpRequest({
    method: c.method ?? (body === undefined ? 'GET' : 'POST'),
    url: `http://127.0.0.1${c.url}`,
    params: c.params ?? {},
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(c.json === undefined ? {} : { 'content-type': 'application/json' }),
      ...c.headers,
    },
    ...(body === undefined ? {} : { body: { string: body } }),
  });
  const logs: string[] = [];
  const context = new InvocationContext({
    invocationId: 'test',
    functionName: 'test',
    logHandler: (level, ...args) => logs.push(`${level} ${args.map(String).join(' ')}`),
  });
  const response: HttpResponseInit = await handler(request, context);
  return {
    status: response.status ?? 200,
    headers: new Headers(response.headers),
    body: (response.jsonBody ?? {}) as Record<string, unknown>,
    ...(typeof response.body === 'string' ? { text: response.body } : {}),
    logs,
  };
}

/** The RFC 9457 fields every error answer carries. */
export function expectProblem(answer: Answer, status: number): Record<string, unknown> {
  if (answer.status !== status) {
    throw new Error(`expected ${status}, got ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  if (answer.headers.get('content-type') !== 'application/problem+json') {
    throw new Error(`not problem+json: ${answer.headers.get('content-type')}`);
  }
  const { type, title, status: bodyStatus } = answer.body;
  if (typeof type !== 'string' || typeof title !== 'string' || bodyStatus !== status) {
    throw new Error(`not a problem: ${JSON.stringify(answer.body)}`);
  }
  return answer.body;
}

/** One push reported by every region of `deps`, each answered 202: a replicated round. */
export async function pushEverywhere(
  deps: Parameters<typeof makeAcrWebhookHandler>[0] & { defaultRegions: readonly string[] },
  push: PushOptions,
): Promise<string> {
  const digest = push.digest ?? aDigest();
  for (const region of deps.defaultRegions) {
    const answer = await call(makeAcrWebhookHandler(deps), {
      url: `/api/webhooks/acr/${region}`,
      params: { region },
      token: 'webhook',
      json: aPushEvent({ timestamp: new Date().toISOString(), ...push, digest }),
    });
    expect(answer.status).toBe(202);
  }
  return digest;
}
