// GET /api/openapi.json: the API in OpenAPI 3.1, generated from the zod schemas that validate requests and responses.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HttpHandler } from '@azure/functions';
import { z } from 'zod';
import { cloudEventSchema } from '../replication/event-grid-event';
import { checkAnswerSchema } from './azure-pipelines-handler';
import { environmentMappingSchema, protectionRuleAnswerSchema } from './github-handlers';
import type { Guard } from './guard';
import { json } from './handle';
import * as bodies from './response-schemas';
import {
  ROUTES,
  type Access,
  type OperationDoc,
  type ResponseSpec,
  type RouteDeclaration,
} from './routes';

type JsonSchema = Record<string, unknown>;

/** One documented operation: a route declaration, or the second path of one (`{registry?}`). */
interface Operation extends OperationDoc {
  method: 'get' | 'post' | 'put' | 'delete' | 'options';
  path: string;
  operationId: string;
  tag: string;
  access: Access;
  store: boolean;
}

const declarations: readonly RouteDeclaration[] = ROUTES;

/** The operations of src/http/routes.ts: `{*reference}` is `{reference}`, `{registry?}` two paths. */
const ops: Operation[] = declarations.flatMap(({ withSegment, ...route }) => {
  const segments = route.route.split('/');
  const last = segments.at(-1) ?? '';
  const plain = (s: string) => s.replace(/^\{\*?([^?}]+)\??\}$/, '{$1}');
  const base: Operation = {
    ...route,
    method: route.methods[0].toLowerCase() as Operation['method'],
    path: `/${segments.map(plain).join('/')}`,
    operationId: route.name,
  };
  if (!last.endsWith('?}')) return [base];
  if (!withSegment) throw new Error(`${route.name}: an optional segment needs withSegment`);
  const { operationId, ...rest } = withSegment;
  return [
    { ...base, path: `/${segments.slice(0, -1).map(plain).join('/')}` },
    { ...base, ...rest, operationId },
  ];
});

// #region components: one schema per request and response body, in the dialect OpenAPI 3.1 uses

/** Request bodies are described as they may be sent (`io: 'input'`: defaults are optional). */
const requestComponents: Record<string, z.ZodType> = {
  ...Object.fromEntries(
    declarations.flatMap((r) => (r.body ? [[r.body.component, r.body.schema] as const] : [])),
  ),
  IncomingCloudEvent: cloudEventSchema,
  IncomingCloudEventBatch: z.array(cloudEventSchema).min(1),
};

const eventGridAnswerSchema = z.union([
  z.object({ validationResponse: z.string() }),
  z.object({
    results: z.array(
      z.object({
        id: z.string(),
        type: z.string(),
        outcome: z.enum(['recorded', 'unchanged', 'ignored']),
        region: z.string().optional(),
        reason: z.string().optional(),
      }),
    ),
    // Present when some events of the batch were invalid: not recorded, yet acknowledged.
    rejected: z
      .array(
        z.object({
          index: z.number().int(),
          id: z.string().optional(),
          type: z.string().optional(),
          errors: z.array(z.object({ field: z.string(), detail: z.string() })),
        }),
      )
      .optional(),
  }),
]);

const openApiDocumentSchema = z.looseObject({
  openapi: z.literal('3.1.0'),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.record(z.string(), z.unknown())),
});

/** Response bodies are described as they are sent (`io: 'output'`: unknown fields are absent). */
const responseComponents: Record<string, z.ZodType> = {
  StatusBody: bodies.statusBodySchema,
  StatusList: bodies.statusListSchema,
  VerifyReport: bodies.verifyReportSchema,
  WebhookAnswer: bodies.webhookAnswerSchema,
  Pong: bodies.pongSchema,
  EventGridAnswer: eventGridAnswerSchema,
  RequiredRegions: bodies.requiredRegionsSchema,
  RegionsUpdated: bodies.regionsUpdatedSchema,
  EmittedEvent: bodies.emittedEventSchema,
  EventFeed: bodies.eventFeedSchema,
  Delivery: bodies.deliverySchema,
  EventWithDeliveries: bodies.eventWithDeliveriesSchema,
  RedeliveryStarted: bodies.redeliveryStartedSchema,
  SubscriptionView: bodies.subscriptionViewSchema,
  SubscriptionCreated: bodies.subscriptionCreatedSchema,
  SubscriptionList: bodies.subscriptionListSchema,
  Health: bodies.healthSchema,
  Problem: bodies.problemSchema,
  DigestMoved: bodies.digestMovedSchema,
  ProviderResponse: bodies.providerResponseSchema,
  OpenApiDocument: openApiDocumentSchema,
  CheckAccepted: checkAnswerSchema,
  GithubEnvironmentMapping: environmentMappingSchema,
  ProtectionRuleAnswer: protectionRuleAnswerSchema,
};

const TARGET = 'draft-2020-12' as const;
const PROBLEM = 'application/problem+json';
const componentRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** The document root declares the dialect; a component carries no `$schema` or fragment `$id` of its own. */
function bare(schema: JsonSchema): JsonSchema {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}

function componentsOf(schemas: Record<string, z.ZodType>, io: 'input' | 'output') {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
  const { schemas: generated } = z.toJSONSchema(registry, {
    io,
    target: TARGET,
    uri: (id) => `#/components/schemas/${id}`,
  });
  return Object.fromEntries(
    Object.entries(generated).map(([id, schema]) => [id, bare(schema as JsonSchema)]),
  );
}

const inline = (schema: z.ZodType): JsonSchema =>
  bare(z.toJSONSchema(schema, { io: 'input', target: TARGET }));

// #endregion

// #region assembling the document

const SECURITY: Record<Access, Record<string, string[]>[]> = {
  none: [],
  webhook: [{ bearerAuth: ['webhook'] }],
  eventgrid: [{ bearerAuth: ['webhook'] }, { queryToken: ['webhook'] }],
  // Event Grid's OPTIONS request goes to the subscription URL, which carries ?token=.
  handshake: [{ bearerAuth: ['webhook'] }, { queryToken: ['webhook'] }],
  // Role names in a requirement are allowed for non-OAuth schemes in OpenAPI 3.1.
  read: [{ bearerAuth: ['read'] }, { bearerAuth: ['admin'] }],
  admin: [{ bearerAuth: ['admin'], functionKey: [] }],
  check: [
    { bearerAuth: ['read'], functionKey: [] },
    { bearerAuth: ['admin'], functionKey: [] },
  ],
  signature: [{ githubSignature: [] }],
  dashboard: [
    { bearerAuth: ['read'] },
    { bearerAuth: ['admin'] },
    { queryToken: ['read'] },
    { queryToken: ['admin'] },
  ],
  readQuery: [
    { bearerAuth: ['read'] },
    { bearerAuth: ['admin'] },
    { queryToken: ['read'] },
    { queryToken: ['admin'] },
  ],
};

const problem = (description: string, headers?: Record<string, string>): ResponseSpec => ({
  description,
  body: { component: 'Problem' },
  ...(headers === undefined ? {} : { headers }),
});

/** The error answers every operation of a kind can give, besides its own. */
function errorResponses(op: Operation): Record<number, ResponseSpec> {
  const errors: Record<number, ResponseSpec> = {};
  if (op.params || op.query || op.body) errors[400] = problem('invalid parameter or body');
  if (op.access !== 'none') {
    errors[401] = problem('missing or unknown token', {
      'www-authenticate': '`Bearer`, with `error="invalid_token"` for an unknown token',
    });
  }
  if (op.access === 'admin') errors[403] = problem('a webhook or read token on an admin route');
  if (['read', 'dashboard', 'readQuery', 'check'].includes(op.access)) {
    errors[403] = problem('a webhook token on a read route');
  }
  if (['webhook', 'eventgrid', 'handshake'].includes(op.access)) {
    errors[403] = problem('an admin or read token on a webhook route');
  }
  if (op.body) {
    errors[413] = problem('the body is over MAX_BODY_BYTES');
    errors[415] = problem('the content-type is not accepted');
  }
  errors[500] = problem('an unexpected error (logged)');
  if (op.store) errors[503] = problem('the store is unavailable', { 'retry-after': 'seconds' });
  return errors;
}

function parameters(op: Operation): JsonSchema[] {
  const out: JsonSchema[] = [];
  for (const [where, schema] of [
    ['path', op.params],
    ['query', op.query],
  ] as const) {
    if (!schema) continue;
    const object = inline(schema);
    const properties = (object.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((object.required ?? []) as string[]);
    for (const [name, property] of Object.entries(properties)) {
      const note = op.paramNotes?.[name] ?? (property.description as string | undefined);
      out.push({
        name,
        in: where,
        required: where === 'path' || required.has(name),
        ...(note === undefined ? {} : { description: note }),
        schema: property,
      });
    }
  }
  for (const header of op.headerParams ?? []) {
    out.push({ ...header, in: 'header', schema: { type: 'string' } });
  }
  return out;
}

function response(spec: ResponseSpec): JsonSchema {
  const content =
    spec.body === undefined
      ? undefined
      : 'mediaType' in spec.body
        ? { [spec.body.mediaType]: { schema: { type: 'string' } } }
        : {
            [['Problem', 'DigestMoved'].includes(spec.body.component)
              ? PROBLEM
              : 'application/json']: {
              schema: componentRef(spec.body.component),
            },
          };
  return {
    description: spec.description,
    ...(spec.headers === undefined
      ? {}
      : {
          headers: Object.fromEntries(
            Object.entries(spec.headers).map(([name, description]) => [
              name,
              { description, schema: { type: 'string' } },
            ]),
          ),
        }),
    ...(content === undefined ? {} : { content }),
  };
}

function operation(op: Operation): JsonSchema {
  const own = Object.fromEntries(
    Object.entries(op.responses).map(([status, spec]) => [
      status,
      spec.body === undefined && Number(status) >= 400 ? problem(spec.description) : spec,
    ]),
  ) as Record<number, ResponseSpec>;
  const all = { ...errorResponses(op), ...own };
  const params = parameters(op);
  return {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    ...(op.description === undefined ? {} : { description: op.description }),
    security: SECURITY[op.access],
    ...(params.length === 0 ? {} : { parameters: params }),
    ...(op.body === undefined
      ? {}
      : {
          requestBody: {
            required: true,
            content: Object.fromEntries(
              (op.body.mediaTypes ?? ['application/json']).map((type) => [
                type,
                {
                  schema:
                    type === 'application/cloudevents+json'
                      ? componentRef('IncomingCloudEvent')
                      : type === 'application/cloudevents-batch+json'
                        ? componentRef('IncomingCloudEventBatch')
                        : componentRef(op.body?.component ?? ''),
                },
              ]),
            ),
          },
        }),
    responses: Object.fromEntries(
      Object.entries(all)
        .sort(([a], [b]) => Number(a) - Number(b))
        .map(([status, spec]) => [status, response(spec)]),
    ),
  };
}

/** The package version, from the package.json beside the build (src/ or dist/src/). */
function packageVersion(): string {
  for (const up of ['../..', '../../..']) {
    try {
      const text = fs.readFileSync(path.resolve(__dirname, up, 'package.json'), 'utf8');
      const parsed = z.object({ name: z.string(), version: z.string() }).parse(JSON.parse(text));
      if (parsed.name === 'acr-replication-gate') return parsed.version;
    } catch {
      // not there: try one level up
    }
  }
  return '0.0.0';
}

export const OPERATIONS: readonly Pick<Operation, 'method' | 'path' | 'operationId'>[] = ops;

let built: JsonSchema | undefined;

export function buildOpenApiDocument(): JsonSchema {
  if (built) return built;
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const op of ops) (paths[op.path] ??= {})[op.method] = operation(op);
  built = {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'acr-replication-gate',
      version: packageVersion(),
      summary:
        'Tells a release pipeline when a container image has reached every region of a geo-replicated ACR.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: '/api' }],
    tags: [
      { name: 'webhooks', description: 'arrivals from ACR and Event Grid' },
      { name: 'replications', description: 'the completion API' },
      { name: 'registries', description: 'required regions' },
      { name: 'events', description: 'emitted CloudEvents and their deliveries' },
      { name: 'subscriptions', description: 'where events go' },
      { name: 'approvals', description: 'pipelines and deployments waiting on an image' },
      { name: 'dashboard', description: 'HTML for people' },
      { name: 'admission', description: 'Kubernetes admission (Gatekeeper, Kyverno)' },
      { name: 'meta', description: 'health and this document' },
    ],
    paths,
    components: {
      schemas: {
        ...componentsOf(requestComponents, 'input'),
        ...componentsOf(responseComponents, 'output'),
      },
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A WEBHOOK_TOKENS token (role `webhook`: delivers arrivals only), a READ_TOKENS token (role `read`: read routes only) or an ADMIN_TOKENS token (role `admin`: everything but delivering arrivals).',
        },
        functionKey: {
          type: 'apiKey',
          in: 'header',
          name: 'x-functions-key',
          description:
            'The Azure Functions function key (admin routes, on Azure only; or `?code=`).',
        },
        githubSignature: {
          type: 'apiKey',
          in: 'header',
          name: 'x-hub-signature-256',
          description:
            'HMAC-SHA256 of the body with GITHUB_WEBHOOK_SECRET, as GitHub signs webhooks.',
        },
        queryToken: {
          type: 'apiKey',
          in: 'query',
          name: 'token',
          description:
            'The dashboard (for browsers), the Event Grid webhook (for subscription URLs) and the Gatekeeper provider (which sends no headers) only: the token in the URL. It ends up in browser history and proxy logs. When the Authorization header is also sent, the header alone is read.',
        },
      },
    },
  };
  return built;
}

export function makeOpenApiHandler(deps: { guard: Guard }): HttpHandler {
  return deps.guard('openApi', () =>
    Promise.resolve(json(200, buildOpenApiDocument(), { 'cache-control': 'public, max-age=300' })),
  );
}
