// Every declared route, called with each kind of token, answers as its declared `access` says:
// the OpenAPI document is generated from that same declaration, so what it promises is what holds.
import type { HttpHandler } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { makeApprovals } from '../app/answer-approvals';
import {
  call,
  expectProblem,
  handlerDeps,
  TOKENS,
  type Answer,
} from '../../test/support/handler-harness';
import { makeAzurePipelinesCheckHandler } from './azure-pipelines-handler';
import { makeDashboardHandler } from './dashboard-handler';
import { makeEventFeedHandler, makeGetEventHandler, makeRedeliverHandler } from './event-handlers';
import { makeEventGridHandler, makeEventGridOptionsHandler } from './eventgrid-handler';
import { makeGatekeeperHandler } from './gatekeeper-handler';
import {
  makeGithubProtectionRuleHandler,
  makePutGithubEnvironmentHandler,
} from './github-handlers';
import { makeHealthHandler } from './health-handler';
import { buildOpenApiDocument, makeOpenApiHandler } from './openapi';
import { makeGetRegistryHandler, makePutRegistryHandler } from './registry-handlers';
import { makeListHandler, makeStatusHandler } from './replication-handlers';
import { ROUTES, type Access, type RouteName } from './routes';
import {
  makeCreateSubscriptionHandler,
  makeDeleteSubscriptionHandler,
  makeGetSubscriptionHandler,
  makeListSubscriptionsHandler,
} from './subscription-handlers';
import { makeVerifyHandler } from './verify-handler';
import { makeAcrWebhookHandler } from './webhook-handler';

/** Every route's handler, built as src/main.ts builds them (over the in-memory store). */
function allHandlers(): Record<RouteName, HttpHandler> {
  const deps = handlerDeps();
  const approvals = makeApprovals({
    store: deps.store,
    clock: deps.clock,
    defaultRegions: deps.defaultRegions,
    answerers: {},
    retryScheduleMs: [1000],
    leaseMs: 30_000,
  });
  const approvalRoutes = {
    ...deps,
    approvals,
    advanceSoon: () => undefined,
    defaultTimeoutMs: 60_000,
    // Configured, so the route's own check (the body's signature) is what answers.
    app: {
      appId: '1',
      privateKey: 'unused',
      webhookSecret: 'github-webhook-secret-0123',
      apiUrl: 'http://127.0.0.1:9',
    },
  };
  return {
    acrWebhook: makeAcrWebhookHandler(deps),
    eventGridWebhook: makeEventGridHandler(deps),
    eventGridHandshake: makeEventGridOptionsHandler(deps),
    replicationStatus: makeStatusHandler(deps),
    replicationList: makeListHandler(deps),
    verifyImage: makeVerifyHandler(deps),
    eventFeed: makeEventFeedHandler(deps),
    getEvent: makeGetEventHandler(deps),
    azurePipelinesCheck: makeAzurePipelinesCheckHandler({ ...approvalRoutes, allowedHosts: [] }),
    githubDeploymentProtectionRule: makeGithubProtectionRuleHandler(approvalRoutes),
    health: makeHealthHandler(deps),
    dashboard: makeDashboardHandler({ ...deps, stallAfterMs: 60_000 }),
    gatekeeperProvider: makeGatekeeperHandler(deps),
    openApi: makeOpenApiHandler(deps),
    getRegistry: makeGetRegistryHandler(deps),
    putRegistry: makePutRegistryHandler(deps),
    redeliverEvent: makeRedeliverHandler({ ...deps, deliverNow: () => undefined }),
    createSubscription: makeCreateSubscriptionHandler(deps),
    listSubscriptions: makeListSubscriptionsHandler(deps),
    getSubscription: makeGetSubscriptionHandler(deps),
    deleteSubscription: makeDeleteSubscriptionHandler(deps),
    putGithubEnvironment: makePutGithubEnvironmentHandler(approvalRoutes),
  };
}

type Kind = keyof typeof TOKENS | 'none' | 'unknown';
const KINDS: readonly Kind[] = ['webhook', 'read', 'admin', 'unknown', 'none'];

/**
 * What each access kind promises (the security requirements the OpenAPI document gives it):
 * the roles it admits, and whether `?token=` may carry the token. `open`: no token is read.
 * `signature`: no token admits, the body's signature alone does.
 */
const PROMISE: Record<Access, { admits: readonly Kind[]; query: boolean } | 'open' | 'signature'> =
  {
    none: 'open',
    signature: 'signature',
    webhook: { admits: ['webhook'], query: false },
    eventgrid: { admits: ['webhook'], query: true },
    handshake: { admits: ['webhook'], query: true },
    read: { admits: ['read', 'admin'], query: false },
    check: { admits: ['read', 'admin'], query: false },
    dashboard: { admits: ['read', 'admin'], query: true },
    readQuery: { admits: ['read', 'admin'], query: true },
    admin: { admits: ['admin'], query: false },
  };

const tokenFor = (kind: Kind): string | undefined =>
  kind === 'none' ? undefined : kind === 'unknown' ? 'unknown-token-0123456789' : TOKENS[kind];

/** One request to the route with no parameters or body: admission is decided before either is read. */
async function ask(
  handler: HttpHandler,
  route: (typeof ROUTES)[number],
  credential: { header?: Kind; query?: Kind },
): Promise<Answer> {
  const header = credential.header === undefined ? undefined : tokenFor(credential.header);
  const query = credential.query === undefined ? undefined : tokenFor(credential.query);
  const search = query === undefined ? '' : `?${new URLSearchParams({ token: query }).toString()}`;
  const answer = await call(handler, {
    method: route.methods[0],
    url: `/api/${route.route.replace(/\/\{[^}]*\}/g, '')}${search}`,
    ...(header === undefined ? {} : { token: header }),
  });
  // Whatever the outcome, no token is logged or answered back.
  const seen = `${JSON.stringify(answer.body)} ${[...answer.headers].join(' ')} ${answer.logs.join(' ')}`;
  for (const token of [header, query]) {
    if (token !== undefined) expect(seen, route.name).not.toContain(token);
  }
  return answer;
}

const refused = (answer: Answer) => answer.status === 401 || answer.status === 403;

/** The answer a refused kind gets: 401 without a token or with one we do not know, 403 otherwise. */
function expectRefused(answer: Answer, kind: Kind, label: string) {
  const status = kind === 'none' || kind === 'unknown' ? 401 : 403;
  expect(answer.status, `${label}: ${JSON.stringify(answer.body)}`).toBe(status);
  expectProblem(answer, status);
  if (status === 401) {
    expect(answer.headers.get('www-authenticate'), label).toBe(
      kind === 'unknown' ? 'Bearer error="invalid_token"' : 'Bearer',
    );
  }
}

describe('every declared route admits exactly the tokens its access declares', () => {
  const handlers = allHandlers();

  it('has a handler for every declared route, and a promise for every access kind', () => {
    expect(Object.keys(handlers).sort()).toEqual(ROUTES.map((r) => r.name).sort());
    expect(new Set(ROUTES.map((r) => r.access)).size).toBeGreaterThan(5);
  });

  it('promises in the OpenAPI document what is enforced: the same roles, the same token places', () => {
    type Requirement = Record<string, string[]>;
    const paths = buildOpenApiDocument().paths as Record<
      string,
      Record<string, { operationId: string; security: Requirement[] }>
    >;
    const documented = new Map(
      Object.values(paths).flatMap((methods) =>
        Object.values(methods).map((op) => [op.operationId, op.security] as const),
      ),
    );
    for (const route of ROUTES) {
      const security = documented.get(route.name);
      if (security === undefined) throw new Error(`${route.name} is not in the document`);
      const promise = PROMISE[route.access];
      const roles = (scheme: string) =>
        [...new Set(security.flatMap((r) => r[scheme] ?? []))].sort();
      if (promise === 'open') expect(security, route.name).toEqual([]);
      else if (promise === 'signature') {
        expect(security, route.name).toEqual([{ githubSignature: [] }]);
      } else {
        expect(roles('bearerAuth'), route.name).toEqual([...promise.admits].sort());
        expect(roles('queryToken'), route.name).toEqual(promise.query ? roles('bearerAuth') : []);
      }
    }
  });

  for (const route of ROUTES) {
    const promise = PROMISE[route.access];
    const label = (how: string) => `${route.name} (${route.access}) ${how}`;

    it(`${route.name}: ${route.methods[0]} /api/${route.route} (${route.access})`, async () => {
      const handler = handlers[route.name];
      for (const kind of KINDS) {
        const byHeader = await ask(handler, route, { header: kind });
        const byQuery = await ask(handler, route, { query: kind });
        if (promise === 'open') {
          expect(refused(byHeader), label(`${kind} in the header`)).toBe(false);
          expect(refused(byQuery), label(`${kind} in ?token=`)).toBe(false);
        } else if (promise === 'signature') {
          // Bearer tokens count for nothing here: without the body's signature, 401 for all.
          expectProblem(byHeader, 401);
          expect(byHeader.body.detail, label(kind)).toMatch(/X-Hub-Signature-256/);
          expectProblem(byQuery, 401);
        } else if (promise.admits.includes(kind)) {
          expect(refused(byHeader), label(`${kind} in the header: ${byHeader.status}`)).toBe(false);
          if (promise.query) {
            expect(refused(byQuery), label(`${kind} in ?token=: ${byQuery.status}`)).toBe(false);
          } else {
            // The query is not a place for tokens on this route: as if none came.
            expectRefused(byQuery, 'none', label(`${kind} in ?token=`));
          }
        } else {
          expectRefused(byHeader, kind, label(`${kind} in the header`));
          expectRefused(byQuery, promise.query ? kind : 'none', label(`${kind} in ?token=`));
        }
      }
    });

    if (typeof promise === 'object' && promise.query) {
      it(`${route.name}: the header wins over ?token=, whichever of the two is admitted`, async () => {
        const handler = handlers[route.name];
        const [admitted] = promise.admits;
        const other = KINDS.find((k) => k !== 'none' && !promise.admits.includes(k));
        if (admitted === undefined || other === undefined) throw new Error('no pair to try');
        expectRefused(
          await ask(handler, route, { header: other, query: admitted }),
          other,
          label('refused header, admitted query'),
        );
        const admittedHeader = await ask(handler, route, { header: admitted, query: other });
        expect(refused(admittedHeader), label('admitted header, refused query')).toBe(false);
        // A header that is not a bearer token is refused as such, never read past to the query.
        const malformed = await call(handler, {
          method: route.methods[0],
          url: `/api/${route.route}?token=${TOKENS[admitted as keyof typeof TOKENS]}`,
          headers: { authorization: 'Basic dXNlcjpwYXNz' },
        });
        expectProblem(malformed, 401);
      });
    }
  }
});
