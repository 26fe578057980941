// Every route's real responses, checked against the OpenAPI document the app serves (JSON Schema 2020-12 via ajv).
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../src/http/routes';
import { aCheckHeaders, aDeleteEvent, aDigest, aPushEvent } from '../support/fixtures';
import {
  ADMIN_TOKEN,
  appRoot,
  REGIONS,
  useApp,
  READ_TOKEN,
  WEBHOOK_TOKEN,
} from '../support/app-host';
import { startReceiver, type Receiver } from '../support/receiver';
import {
  aProtectionRuleEvent,
  githubAppSettings,
  signBody,
  startFakeGithub,
  type FakeGithub,
} from '../support/fake-github';

// #region ajv: not a dependency of ours, but of cloudevents (ajv 8 and ajv-formats); loaded from there

interface ValidateFunction {
  (data: unknown): boolean;
  errors?: unknown[] | null;
}
interface Ajv {
  addSchema(schema: object, key: string): Ajv;
  compile(schema: object): ValidateFunction;
  errorsText(errors?: unknown[] | null): string;
}
const fromCloudEvents = createRequire(
  createRequire(path.join(appRoot, 'package.json')).resolve('cloudevents'),
);
const Ajv2020 = (fromCloudEvents('ajv/dist/2020') as { default: new (options: object) => Ajv })
  .default;
const addFormats = fromCloudEvents('ajv-formats') as (ajv: Ajv) => Ajv;

// #endregion

interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, OperationDoc>>;
  components: { schemas: Record<string, object> };
}
interface OperationDoc {
  operationId: string;
  responses: Record<string, { content?: Record<string, { schema: object }> }>;
}
interface Observed {
  method: string;
  path: string;
  status: number;
  mediaType: string;
  body: unknown;
}

const DOC_ID = 'https://acr-replication-gate.invalid/openapi.json';
const REGISTRY = 'contoso.azurecr.io';

let receiver: Receiver;
let github: FakeGithub;
const observed: Observed[] = [];

beforeAll(async () => {
  github = await startFakeGithub();
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await github?.close();
});
const app = useApp(() => ({
  MAX_BODY_BYTES: '4096',
  AZURE_PIPELINES_HOSTS: '127.0.0.1',
  ...githubAppSettings(github),
}));

/** Calls the app and records the answer for the final check. */
async function call(
  method: string,
  pathAndQuery: string,
  options: {
    token?: string | null;
    body?: unknown;
    contentType?: string;
    raw?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const body =
    options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const response = await app.call(pathAndQuery, {
    method,
    // app.call's default: the webhook token on webhook routes, the read token elsewhere.
    ...(options.token === undefined ? {} : { token: options.token }),
    redirect: 'manual',
    headers: {
      ...(body === undefined ? {} : { 'content-type': options.contentType ?? 'application/json' }),
      ...options.headers,
    },
    ...(body === undefined ? {} : { body }),
  });
  const mediaType = (response.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
  const text = await response.text();
  const parsed: unknown = mediaType.endsWith('json') && text !== '' ? JSON.parse(text) : text;
  observed.push({
    method: method.toLowerCase(),
    path: new URL(pathAndQuery, 'http://x').pathname.replace(/^\/api/, ''),
    status: response.status,
    mediaType,
    body: parsed,
  });
  return { status: response.status, body: parsed, headers: response.headers };
}

const admin = { token: ADMIN_TOKEN };

describe('GET /api/openapi.json', () => {
  it('is served without a token, as OpenAPI 3.1 whose schemas all compile as JSON Schema 2020-12', async () => {
    const { status, body } = await call('GET', '/api/openapi.json', { token: null });
    expect(status).toBe(200);
    const doc = body as OpenApi;
    expect(doc.openapi).toMatch(/^3\.1\./);
    const ajv = addFormats(new Ajv2020({ strict: true, allErrors: true }));
    for (const [name, schema] of Object.entries(doc.components.schemas)) {
      ajv.addSchema(schema, `${DOC_ID}#/components/schemas/${name}`);
    }
    // Strict mode refuses unknown keywords and formats: each component compiles on its own.
    for (const name of Object.keys(doc.components.schemas)) {
      expect(() => ajv.compile({ $ref: `${DOC_ID}#/components/schemas/${name}` })).not.toThrow();
    }
  });
});

/** Calls each operation, successfully and with its errors; `call` records every answer. */
async function exerciseEveryOperation(): Promise<void> {
  const digest = aDigest();
  const repository = 'team/openapi';
  const push = (region: string, tag = '1.0', d = digest, second = 0) =>
    call('POST', `/api/webhooks/acr/${region}`, {
      body: aPushEvent({
        repository,
        tag,
        digest: d,
        timestamp: `2026-03-14T09:00:0${second}.5Z`,
      }),
    });

  expect((await call('GET', '/api/health', { token: null })).status).toBe(200);
  expect((await call('GET', '/api/openapi.json', { token: null })).status).toBe(200);

  // Webhooks: ping, pushes, an ignored chart event, a delete, and every refusal.
  const ping = { id: 'p', timestamp: '2026-03-14T09:00:00Z', action: 'ping' };
  expect((await call('POST', '/api/webhooks/acr/westus', { body: ping })).status).toBe(200);
  for (const [i, region] of REGIONS.entries()) {
    expect((await push(region, '1.0', digest, i)).status).toBe(202);
  }
  const chart = {
    id: randomUUID(),
    timestamp: '2026-03-14T09:00:00Z',
    action: 'chart_push',
    target: { repository: 'charts/x', name: 'x', version: '1.0.0' },
  };
  expect((await call('POST', '/api/webhooks/acr/westus', { body: chart })).status).toBe(202);
  const otherDigest = aDigest();
  expect((await push('westus', '2.0', otherDigest)).status).toBe(202);
  const deleted = await call('POST', '/api/webhooks/acr/westus', {
    body: aDeleteEvent({ repository, digest: otherDigest, timestamp: '2026-03-14T09:05:00Z' }),
  });
  expect(deleted.status).toBe(202);
  expect(
    (await call('POST', '/api/webhooks/acr/westus', { body: { action: 'push' } })).status,
  ).toBe(400);
  expect((await call('POST', '/api/webhooks/acr/westus', { body: ping, token: null })).status).toBe(
    401,
  );
  expect((await call('POST', '/api/webhooks/acr/westus', { body: ping, ...admin })).status).toBe(
    403,
  );
  expect(
    (await call('POST', '/api/webhooks/acr/westus', { raw: 'x', contentType: 'text/plain' }))
      .status,
  ).toBe(415);
  expect(
    (await call('POST', '/api/webhooks/acr/westus', { raw: JSON.stringify('x'.repeat(5000)) }))
      .status,
  ).toBe(413);

  // Event Grid: the validation handshake (POST) and the abuse-protection handshake (OPTIONS).
  const validation = await call('POST', '/api/webhooks/eventgrid', {
    body: [
      {
        id: randomUUID(),
        topic:
          '/subscriptions/x/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/contoso',
        subject: '',
        eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
        eventTime: '2026-03-14T10:00:00.0000000Z',
        data: { validationCode: 'CODE-1' },
        dataVersion: '2',
      },
    ],
  });
  expect(validation.status).toBe(200);
  const origin = { 'webhook-request-origin': 'eventgrid.azure.net' };
  expect((await call('OPTIONS', '/api/webhooks/eventgrid', { headers: origin })).status).toBe(200);
  expect(
    (await call('OPTIONS', '/api/webhooks/eventgrid', { token: null, headers: origin })).status,
  ).toBe(401);
  expect((await call('OPTIONS', '/api/webhooks/eventgrid')).status).toBe(400);

  // The completion API.
  const ref = `/api/replications/${REGISTRY}/${repository}`;
  const one = await call('GET', `${ref}:1.0?wait=0`);
  expect(one.status).toBe(200);
  expect(one.headers.get('x-acr-gate-wait')).toBe('settled');
  expect((await call('GET', `${ref}@${digest}`)).status).toBe(200);
  expect((await call('GET', `${ref}:nope`)).status).toBe(404);
  // Region verification answers with one row per region, whether or not a region is reachable.
  const verified = await call('POST', `/api/verify/${REGISTRY}/${repository}:1.0`);
  expect(verified.status).toBe(200);
  expect((await call('POST', `/api/verify/${REGISTRY}/${repository}:nope`)).status).toBe(404);
  expect((await call('GET', `${ref}:1.0`, { token: WEBHOOK_TOKEN })).status).toBe(403);
  expect((await call('GET', `${ref}:1.0?wait=500`)).status).toBe(400);
  const newer = aDigest();
  expect((await push('westus', '1.0', newer, 9)).status).toBe(202);
  expect((await call('GET', `${ref}:1.0?digest=${digest}`)).status).toBe(409);
  expect((await call('GET', `${ref}:1.0?regions=westus`)).status).toBe(200);
  expect((await call('GET', `${ref}:1.0?regions=mars`)).status).toBe(400);
  expect((await call('GET', `/api/replications/${REGISTRY}?pageSize=5`)).status).toBe(200);

  // The Gatekeeper provider: the token in the URL, as Gatekeeper sends it.
  const provider = (keys: unknown, token: string | null = READ_TOKEN, region = 'westus') =>
    call('POST', `/api/gatekeeper/${region}${token === null ? '' : `?token=${token}`}`, {
      token: null,
      body: {
        apiVersion: 'externaldata.gatekeeper.sh/v1beta1',
        kind: 'ProviderRequest',
        request: { keys },
      },
    });
  expect((await provider([`${REGISTRY}/${repository}:1.0`, 'nginx', 'Bad:Ref'])).status).toBe(200);
  expect((await provider([], READ_TOKEN, 'Bad Region')).status).toBe(400);
  expect((await provider([], null)).status).toBe(401);
  expect((await provider(Array.from({ length: 1001 }, (_, i) => `x.io/a:${i}`))).status).toBe(413);
  expect(
    (
      await call('POST', `/api/gatekeeper/westus?token=${READ_TOKEN}`, {
        token: null,
        raw: 'x',
        contentType: 'text/plain',
      })
    ).status,
  ).toBe(415);
  expect((await call('GET', `/api/replications/${REGISTRY}?status=nope`)).status).toBe(400);

  // Required regions (admin).
  expect((await call('GET', `/api/registries/${REGISTRY}`, admin)).status).toBe(200);
  expect((await call('GET', `/api/registries/${REGISTRY}`)).status).toBe(403);
  expect(
    (await call('PUT', `/api/registries/${REGISTRY}`, { ...admin, body: { regions: REGIONS } }))
      .status,
  ).toBe(200);
  expect(
    (await call('PUT', `/api/registries/${REGISTRY}`, { ...admin, body: { regions: [] } })).status,
  ).toBe(400);

  // Subscriptions (admin), then an event to deliver to one.
  const created = await call('POST', '/api/subscriptions', {
    ...admin,
    body: { url: receiver.url, filter: { repository: 'team/**' } },
  });
  expect(created.status).toBe(201);
  const id = (created.body as { id: string }).id;
  expect(
    (await call('POST', '/api/subscriptions', { ...admin, body: { url: 'ftp://x' } })).status,
  ).toBe(400);
  expect((await call('GET', '/api/subscriptions', admin)).status).toBe(200);
  expect((await call('GET', `/api/subscriptions/${id}`, admin)).status).toBe(200);

  const digest3 = aDigest();
  for (const [i, region] of REGIONS.entries()) await push(region, '3.0', digest3, i);

  // Events.
  const feed = await call('GET', '/api/events?limit=10');
  expect(feed.status).toBe(200);
  const eventId = (feed.body as { events: { id: string }[] }).events.at(-1)?.id ?? '';
  expect((await call('GET', `/api/events/${eventId}`)).status).toBe(200);
  expect((await call('GET', `/api/events/${randomUUID()}`)).status).toBe(404);
  expect((await call('GET', '/api/events?after=%%%')).status).toBe(400);
  expect((await call('POST', `/api/events/${eventId}/redeliver`, admin)).status).toBe(202);

  expect((await call('DELETE', `/api/subscriptions/${id}`, admin)).status).toBe(204);
  expect((await call('GET', `/api/subscriptions/${id}`, admin)).status).toBe(404);

  // The dashboard.
  expect((await call('GET', '/api/dashboard')).status).toBe(200);
  expect((await call('GET', `/api/dashboard/${REGISTRY}`, admin)).status).toBe(200);
  expect(
    (await call('GET', `/api/dashboard/${REGISTRY}?token=${READ_TOKEN}`, { token: null })).status,
  ).toBe(200);
  expect((await call('GET', `/api/dashboard?registry=${REGISTRY}`)).status).toBe(303);
  expect((await call('GET', '/api/dashboard/not_a_host!')).status).toBe(400);
  expect((await call('GET', '/api/dashboard', { token: null })).status).toBe(401);

  // Approvals: an Azure Pipelines check, a GitHub environment and its webhook.
  const azureDevOps = await startReceiver();
  const checkHeaders = aCheckHeaders(
    azureDevOps.url.replace(/hook$/, 'org/'),
    'a-system-access-token-for-the-test',
  );
  const image = `${REGISTRY}/${repository}:3.0`;
  const check = (headers: Record<string, string>) =>
    call('POST', '/api/azure-pipelines/checks', { body: { image }, headers });
  expect((await check(checkHeaders)).status).toBe(200);
  expect((await check({ ...checkHeaders, PlanUrl: 'https://example.com/' })).status).toBe(400);
  expect(
    (await call('POST', '/api/azure-pipelines/checks', { body: { image }, token: null })).status,
  ).toBe(401);
  const environmentPath = '/api/github/environments/contoso/web/production';
  expect(
    (
      await call('PUT', environmentPath, {
        ...admin,
        body: { image: `${REGISTRY}/${repository}:{sha}` },
      })
    ).status,
  ).toBe(200);
  expect((await call('PUT', environmentPath, { body: { image } })).status).toBe(403);
  const deliver = (payload: unknown, secret = github.webhookSecret) => {
    const raw = JSON.stringify(payload);
    return call('POST', '/api/github/deployment-protection-rule', {
      token: null,
      raw,
      headers: {
        'x-github-event': 'deployment_protection_rule',
        'x-hub-signature-256': signBody(secret, raw),
      },
    });
  };
  const event = (environment: string) =>
    aProtectionRuleEvent({
      apiUrl: github.apiUrl,
      owner: 'contoso',
      repo: 'web',
      environment,
      sha: '3.0',
    });
  expect((await deliver(event('production'))).status).toBe(202);
  expect((await deliver(event('elsewhere'))).status).toBe(200);
  expect((await deliver(event('production'), 'a-wrong-secret-0123456')).status).toBe(401);
  await azureDevOps.close();
}

describe('every route, as the document describes it', () => {
  // The answers the document is checked against come from this one run, started by whichever of
  // the two tests below comes first: checking them does not rely on the tests' order.
  let exercise: Promise<void> | undefined;
  const everyOperationExercised = () => (exercise ??= exerciseEveryOperation());

  it('exercises each operation, with its errors', async () => {
    await everyOperationExercised();
  });

  it('matches the document: a path, method, status and media type for each answer, and a valid body', async () => {
    await everyOperationExercised();
    const doc = (await (await app.call('/api/openapi.json', { token: null })).json()) as OpenApi;
    const ajv = addFormats(new Ajv2020({ strict: true, allErrors: true }));
    for (const [name, schema] of Object.entries(doc.components.schemas)) {
      ajv.addSchema(schema, `${DOC_ID}#/components/schemas/${name}`);
    }
    const validators = new Map<string, ValidateFunction>();
    const validatorFor = (ref: string): ValidateFunction => {
      const known = validators.get(ref);
      if (known) return known;
      const compiled = ajv.compile({ $ref: `${DOC_ID}${ref}` });
      validators.set(ref, compiled);
      return compiled;
    };

    const failures: string[] = [];
    const exercised = new Set<string>();
    expect(observed.length).toBeGreaterThan(40);
    for (const o of observed) {
      const what = `${o.method.toUpperCase()} ${o.path} -> ${o.status}`;
      const template = matchPath(Object.keys(doc.paths), o.path);
      const operation = template === undefined ? undefined : doc.paths[template]?.[o.method];
      const answer = operation?.responses[String(o.status)];
      if (!operation || !answer) {
        failures.push(`${what}: not in the document`);
        continue;
      }
      if (o.status < 300) exercised.add(`${o.method} ${template}`);
      if (!answer.content) {
        if (o.body !== '') failures.push(`${what}: a body the document does not declare`);
        continue;
      }
      const media = answer.content[o.mediaType];
      if (!media) {
        failures.push(
          `${what}: ${o.mediaType} is not one of ${Object.keys(answer.content).join(', ')}`,
        );
        continue;
      }
      const schema = media.schema as { $ref?: string; type?: string };
      if (schema.$ref === undefined) {
        if (schema.type === 'string' && typeof o.body !== 'string')
          failures.push(`${what}: not text`);
        continue;
      }
      const validate = validatorFor(schema.$ref);
      if (!validate(o.body)) failures.push(`${what}: ${ajv.errorsText(validate.errors)}`);
    }
    expect(failures).toEqual([]);

    // Each operation was seen answering successfully at least once.
    const operations = Object.entries(doc.paths).flatMap(([p, methods]) =>
      Object.keys(methods).map((m) => `${m} ${p}`),
    );
    expect(operations.filter((op) => !exercised.has(op))).toEqual([]);
  });

  it('registers each route as src/http/routes.ts declares it, and documents each', async () => {
    const doc = (await (await app.call('/api/openapi.json', { token: null })).json()) as OpenApi;
    const registered = app.host.functions
      .filter((f) => f.trigger === 'http')
      .map((f) => ({ name: f.name, route: f.route, methods: f.methods, authLevel: f.authLevel }));
    expect(registered).toEqual(
      ROUTES.map(({ name, route, methods, authLevel }) => ({ name, route, methods, authLevel })),
    );
    const operationIds = Object.values(doc.paths).flatMap((methods) =>
      Object.values(methods).map((op) => op.operationId),
    );
    expect(ROUTES.map((r) => r.name).filter((name) => !operationIds.includes(name))).toEqual([]);
  });
});

/**
 * The documented path an observed one falls under. A parameter is one segment; when none
 * matches, a trailing parameter may take the rest (the `{reference}` catch-all).
 */
function matchPath(templates: string[], actual: string): string | undefined {
  const toRegExp = (template: string, catchAll: boolean) =>
    new RegExp(
      `^${template
        .split('/')
        .map((segment, i, all) =>
          /^\{.+\}$/.test(segment)
            ? catchAll && i === all.length - 1
              ? '.+'
              : '[^/]+'
            : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
        )
        .join('/')}$`,
    );
  return (
    templates.find((t) => toRegExp(t, false).test(actual)) ??
    templates.find((t) => toRegExp(t, true).test(actual))
  );
}
