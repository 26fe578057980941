// GET /api/openapi.json: the API in OpenAPI 3.1, generated from the zod schemas that validate requests and responses.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HttpHandler } from '@azure/functions';
import { z } from 'zod';
import { acrEventSchema } from '../replication/acr-event';
import { cloudEventSchema, eventGridEventSchema } from '../replication/event-grid-event';
import { checkAnswerSchema, checkBodySchema } from './azure-pipelines-handler';
import { dashboardParamsSchema, dashboardQuerySchema } from './dashboard-handler';
import { feedQuery, idParams as eventIdParams } from './event-handlers';
import { gatekeeperParams, gatekeeperQuery, providerRequestSchema } from './gatekeeper-handler';
import {
  environmentBodySchema,
  environmentMappingSchema,
  environmentParams,
  protectionRuleAnswerSchema,
  protectionRuleEventSchema,
} from './github-handlers';
import { handle, json } from './handle';
import { params as registryParams, regionsBodySchema } from './registry-handlers';
import { listParams, listQuery, statusParams, statusQuery } from './replication-handlers';
import * as bodies from './response-schemas';
import { newSubscriptionSchema, idParams as subscriptionIdParams } from './subscription-handlers';
import { paramsSchema as webhookParams } from './webhook-handler';

type JsonSchema = Record<string, unknown>;
type Access =
  | 'none'
  | 'webhook'
  | 'eventgrid'
  | 'handshake'
  | 'read'
  | 'admin'
  | 'dashboard'
  | 'readQuery'
  | 'check'
  | 'signature';

interface ResponseSpec {
  description: string;
  /** A component name (JSON), or the body's media type when it is not JSON. */
  body?: { component: string } | { mediaType: 'text/html' };
  headers?: Record<string, string>;
}

interface Operation {
  method: 'get' | 'post' | 'put' | 'delete' | 'options';
  path: string;
  /** The function's name in functions/routes.ts (the dashboard's two paths are one function). */
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  access: Access;
  /** Whether the operation reads or writes the store (so may answer 500 and 503). */
  store: boolean;
  params?: z.ZodObject;
  query?: z.ZodObject;
  paramNotes?: Record<string, string>;
  headerParams?: { name: string; description: string; required: boolean }[];
  body?: { component: string; mediaTypes?: string[] };
  responses: Record<number, ResponseSpec>;
}

// #region components: one schema per request and response body, in the dialect OpenAPI 3.1 uses

const eventGridDeliverySchema = z.union([
  z.array(z.union([eventGridEventSchema, cloudEventSchema])).min(1),
  cloudEventSchema,
]);

/** Request bodies are described as they may be sent (`io: 'input'`: defaults are optional). */
const requestComponents: Record<string, z.ZodType> = {
  AcrWebhookEvent: acrEventSchema,
  RegionsBody: regionsBodySchema,
  NewSubscription: newSubscriptionSchema,
  EventGridDelivery: eventGridDeliverySchema,
  IncomingCloudEvent: cloudEventSchema,
  IncomingCloudEventBatch: z.array(cloudEventSchema).min(1),
  ProviderRequest: providerRequestSchema,
  AzurePipelinesCheck: checkBodySchema,
  GithubEnvironment: environmentBodySchema,
  DeploymentProtectionRuleEvent: protectionRuleEventSchema,
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

// #region operations: every route of functions/routes.ts

const PROBLEM = 'application/problem+json';
const HTML = 'text/html';

const ops: Operation[] = [
  {
    method: 'post',
    path: '/webhooks/acr/{region}',
    operationId: 'acrWebhook',
    tag: 'webhooks',
    summary: 'ACR regional webhook: one arrival in one replica region',
    description:
      'Register one ACR webhook per replica region, each with its own region in the URL. Stored before it is acknowledged: a 503 means nothing is acknowledged (the write may still have landed: sending again is harmless).',
    access: 'webhook',
    store: true,
    params: webhookParams,
    body: { component: 'AcrWebhookEvent' },
    responses: {
      200: { description: 'a ping', body: { component: 'Pong' } },
      202: {
        description: "the tag's status after a push, the tags a delete touched, or `ignored`",
        body: { component: 'WebhookAnswer' },
      },
    },
  },
  {
    method: 'post',
    path: '/webhooks/eventgrid',
    operationId: 'eventGridWebhook',
    tag: 'webhooks',
    summary:
      'ACR ImagePushed/ImageDeleted delivered by Event Grid (either schema), with the validation handshake',
    description:
      'The region comes from `data.location`. The webhook token may come as `?token=` (an Event Grid subscription URL) instead of the header.',
    access: 'eventgrid',
    store: true,
    body: {
      component: 'EventGridDelivery',
      mediaTypes: [
        'application/json',
        'application/cloudevents+json',
        'application/cloudevents-batch+json',
      ],
    },
    responses: {
      200: {
        description: 'the validation code, or what became of each event',
        body: { component: 'EventGridAnswer' },
      },
    },
  },
  {
    method: 'options',
    path: '/webhooks/eventgrid',
    operationId: 'eventGridHandshake',
    tag: 'webhooks',
    summary: 'CloudEvents abuse-protection handshake (WebHook-Request-Origin)',
    access: 'handshake',
    store: false,
    headerParams: [
      { name: 'webhook-request-origin', description: 'the sender host', required: true },
    ],
    responses: {
      400: { description: 'no or an invalid WebHook-Request-Origin header' },
      200: {
        description: 'delivery allowed',
        headers: {
          'webhook-allowed-origin': 'the origin that asked',
          'webhook-allowed-rate': '`*`',
        },
      },
    },
  },
  {
    method: 'get',
    path: '/replications/{registry}/{reference}',
    operationId: 'replicationStatus',
    tag: 'replications',
    summary: 'Status of one tag or digest; `wait` long-polls until it is replicated',
    access: 'read',
    store: true,
    params: statusParams,
    query: statusQuery,
    paramNotes: {
      reference:
        '`repository:tag` or `repository@sha256:…`. A catch-all route segment: the slashes of the repository are sent as they are, not percent-encoded.',
      wait: 'seconds to wait for the tag to be replicated (or deleted) before answering. An instance holds at most MAX_WAITERS such long-polls; beyond, 503 with Retry-After',
      digest: 'wait for this digest; 409 at once if the tag has moved past it',
      regions:
        'comma-separated regions, e.g. `eastus,westeurope`: the status (and `wait`) is computed over these only, and the body echoes them as `scope`; regions the registry does not have are a 400 naming them',
    },
    responses: {
      200: {
        description: 'the status (after a long-poll: settled or timed out, see the header)',
        body: { component: 'StatusBody' },
        headers: { 'x-acr-gate-wait': '`settled` or `timeout`' },
      },
      404: { description: 'no arrival of it has been recorded' },
      409: {
        description:
          'the tag now points at another digest: a problem whose `digest` is the current one and whose `status` is the status body',
        body: { component: 'DigestMoved' },
      },
    },
  },
  {
    method: 'post',
    path: '/verify/{registry}/{reference}',
    operationId: 'verifyImage',
    tag: 'replications',
    summary:
      'Checks every required region at its own endpoint now (the target and each child a pull needs); keeps the confirmations when VERIFY_REGIONS=true',
    access: 'read',
    store: true,
    params: statusParams,
    paramNotes: {
      reference: '`repository:tag` or `repository@sha256:…`, as for the status',
    },
    responses: {
      200: { description: 'one row per region', body: { component: 'VerifyReport' } },
      404: { description: 'no arrival of it has been recorded' },
    },
  },
  {
    method: 'get',
    path: '/replications/{registry}',
    operationId: 'replicationList',
    tag: 'replications',
    summary: "A registry's tags, most recently updated first, paged",
    access: 'read',
    store: true,
    params: listParams,
    query: listQuery,
    responses: { 200: { description: 'one page', body: { component: 'StatusList' } } },
  },
  {
    method: 'get',
    path: '/registries/{registry}',
    operationId: 'getRegistry',
    tag: 'registries',
    summary: "The registry's required regions",
    access: 'admin',
    store: true,
    params: registryParams,
    responses: { 200: { description: 'the regions', body: { component: 'RequiredRegions' } } },
  },
  {
    method: 'put',
    path: '/registries/{registry}',
    operationId: 'putRegistry',
    tag: 'registries',
    summary: "Sets the registry's required regions and re-evaluates its open rounds",
    access: 'admin',
    store: true,
    params: registryParams,
    body: { component: 'RegionsBody' },
    responses: { 200: { description: 'stored', body: { component: 'RegionsUpdated' } } },
  },
  {
    method: 'get',
    path: '/events',
    operationId: 'eventFeed',
    tag: 'events',
    summary:
      'Emitted events in the order they were recorded, after a cursor; an event enters the feed FEED_SETTLE_MS after it is recorded',
    access: 'read',
    store: true,
    query: feedQuery,
    paramNotes: { after: 'the `cursor` of the previous page' },
    responses: { 200: { description: 'a page of the feed', body: { component: 'EventFeed' } } },
  },
  {
    method: 'get',
    path: '/events/{id}',
    operationId: 'getEvent',
    tag: 'events',
    summary: "One event with each subscription's delivery state and attempts",
    access: 'read',
    store: true,
    params: eventIdParams,
    responses: {
      200: { description: 'the event', body: { component: 'EventWithDeliveries' } },
      404: { description: 'no such event' },
    },
  },
  {
    method: 'post',
    path: '/events/{id}/redeliver',
    operationId: 'redeliverEvent',
    tag: 'events',
    summary: 'Starts every delivery of the event over (dead-lettered ones too)',
    access: 'admin',
    store: true,
    params: eventIdParams,
    responses: {
      202: { description: 'deliveries restarted', body: { component: 'RedeliveryStarted' } },
      404: { description: 'no such event' },
    },
  },
  {
    method: 'post',
    path: '/subscriptions',
    operationId: 'createSubscription',
    tag: 'subscriptions',
    summary: 'Where events go; the secret is shown this once',
    access: 'admin',
    store: true,
    body: { component: 'NewSubscription' },
    responses: {
      201: {
        description: 'created',
        body: { component: 'SubscriptionCreated' },
        headers: { location: 'the new subscription' },
      },
    },
  },
  {
    method: 'get',
    path: '/subscriptions',
    operationId: 'listSubscriptions',
    tag: 'subscriptions',
    summary: 'Every subscription (secrets and header values never shown)',
    access: 'admin',
    store: true,
    responses: { 200: { description: 'the list', body: { component: 'SubscriptionList' } } },
  },
  {
    method: 'get',
    path: '/subscriptions/{id}',
    operationId: 'getSubscription',
    tag: 'subscriptions',
    summary: 'One subscription',
    access: 'admin',
    store: true,
    params: subscriptionIdParams,
    responses: {
      200: { description: 'the subscription', body: { component: 'SubscriptionView' } },
      404: { description: 'no such subscription' },
    },
  },
  {
    method: 'delete',
    path: '/subscriptions/{id}',
    operationId: 'deleteSubscription',
    tag: 'subscriptions',
    summary: 'Deletes a subscription',
    access: 'admin',
    store: true,
    params: subscriptionIdParams,
    responses: {
      204: { description: 'deleted' },
      404: { description: 'no such subscription' },
    },
  },
  {
    method: 'get',
    path: '/dashboard',
    operationId: 'dashboard',
    tag: 'dashboard',
    summary: 'The dashboard: registries with recent events',
    description:
      'HTML for people. A browser cannot send the header, so the read token may come as `?token=`; it then lands in browser history and in the URL logs of any proxy in front (the local host logs paths without the query).',
    access: 'dashboard',
    store: true,
    query: dashboardQuerySchema,
    responses: {
      200: { description: 'the page', body: { mediaType: HTML } },
      303: { description: 'to the dashboard of `?registry=`', headers: { location: 'the page' } },
    },
  },
  {
    method: 'get',
    path: '/dashboard/{registry}',
    operationId: 'dashboardRegistry',
    tag: 'dashboard',
    summary:
      "One registry's recent tags × regions, lag per region, stalled rounds and recent events with their deliveries",
    description:
      'Refreshes itself every 10 s; sends a Content-Security-Policy without scripts. Subscription URLs are shown to admin tokens only.',
    access: 'dashboard',
    store: true,
    params: dashboardParamsSchema.required(),
    query: dashboardQuerySchema.pick({ token: true }),
    responses: { 200: { description: 'the page', body: { mediaType: HTML } } },
  },
  {
    method: 'post',
    path: '/gatekeeper/{region}',
    operationId: 'gatekeeperProvider',
    tag: 'admission',
    summary: 'OPA Gatekeeper external data provider: is each image in this region?',
    description:
      "Takes a Gatekeeper `ProviderRequest` whose `keys` are image references as written in pod specs (`host/repo:tag`, `host/repo@sha256:…`, bare `host/repo` = `:latest`) and answers a `ProviderResponse` with one item per distinct key: `error` is empty when the image, at the tag's current digest or the given digest, is in the region. Images of registries the gate does not track get an empty error and `value.tracked: false`. A malformed reference is an error on its item, never a failed request. `systemError` only when the store cannot be reached. Gatekeeper sends no headers: the read token may come as `?token=`. Body limit: 1,200,000 bytes, not MAX_BODY_BYTES.",
    access: 'readQuery',
    store: true,
    params: gatekeeperParams,
    query: gatekeeperQuery,
    body: { component: 'ProviderRequest' },
    responses: {
      200: { description: 'one item per distinct key', body: { component: 'ProviderResponse' } },
      413: { description: 'more than 1,000 keys, or a body over 1,200,000 bytes' },
    },
  },
  {
    method: 'post',
    path: '/azure-pipelines/checks',
    operationId: 'azurePipelinesCheck',
    tag: 'approvals',
    summary: 'An Azure Pipelines "Invoke Azure Function" check in Callback mode',
    description:
      'Stored, then answered at once; TaskCompleted is POSTed to PlanUrl when the image is in the regions (succeeded), deleted or past its timeout (failed). PlanUrl must be https on AZURE_PIPELINES_HOSTS. See docs/azure-pipelines.md.',
    access: 'check',
    store: true,
    headerParams: [
      { name: 'PlanUrl', description: '$(system.CollectionUri)', required: true },
      { name: 'ProjectId', description: '$(system.TeamProjectId)', required: true },
      { name: 'HubName', description: '$(system.HostType)', required: true },
      { name: 'PlanId', description: '$(system.PlanId)', required: true },
      { name: 'JobId', description: '$(system.JobId)', required: true },
      { name: 'TimelineId', description: '$(system.TimelineId)', required: true },
      { name: 'TaskInstanceId', description: '$(system.TaskInstanceId)', required: true },
      {
        name: 'AuthToken',
        description: '$(system.AccessToken): kept until the answer, never shown',
        required: true,
      },
    ],
    body: { component: 'AzurePipelinesCheck' },
    responses: {
      200: { description: 'stored; the answer follows', body: { component: 'CheckAccepted' } },
    },
  },
  {
    method: 'post',
    path: '/github/deployment-protection-rule',
    operationId: 'githubDeploymentProtectionRule',
    tag: 'approvals',
    summary: "The GitHub App's deployment_protection_rule webhook",
    description:
      'Verified by X-Hub-Signature-256 (GITHUB_WEBHOOK_SECRET). The deployment is approved through its deployment_callback_url once the mapped image is replicated. See docs/github-deployment-protection.md.',
    access: 'signature',
    store: true,
    headerParams: [
      { name: 'x-github-event', description: '`deployment_protection_rule`', required: true },
    ],
    body: { component: 'DeploymentProtectionRuleEvent' },
    responses: {
      200: {
        description: 'nothing to wait on: another event, or no image mapped to the environment',
        body: { component: 'ProtectionRuleAnswer' },
      },
      202: {
        description: 'stored; the approval follows',
        body: { component: 'ProtectionRuleAnswer' },
      },
      404: { description: 'the GitHub App is not configured' },
    },
  },
  {
    method: 'put',
    path: '/github/environments/{owner}/{repo}/{environment}',
    operationId: 'putGithubEnvironment',
    tag: 'approvals',
    summary: "Which image a repository's environment deploys (a template over {sha} and {ref})",
    access: 'admin',
    store: true,
    params: environmentParams,
    body: { component: 'GithubEnvironment' },
    responses: { 200: { description: 'stored', body: { component: 'GithubEnvironmentMapping' } } },
  },
  {
    method: 'get',
    path: '/health',
    operationId: 'health',
    tag: 'meta',
    summary: 'Liveness and store reachability',
    access: 'none',
    store: false,
    responses: {
      200: { description: 'healthy', body: { component: 'Health' } },
      503: { description: 'the store is unreachable', body: { component: 'Health' } },
    },
  },
  {
    method: 'get',
    path: '/openapi.json',
    operationId: 'openApi',
    tag: 'meta',
    summary: 'This document',
    access: 'none',
    store: false,
    responses: { 200: { description: 'OpenAPI 3.1', body: { component: 'OpenApiDocument' } } },
  },
];

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
            'The dashboard (for browsers), the Event Grid webhook (for subscription URLs) and the Gatekeeper provider (which sends no headers) only: the token in the URL. It ends up in browser history and proxy logs.',
        },
      },
    },
  };
  return built;
}

export function makeOpenApiHandler(): HttpHandler {
  return handle(() =>
    Promise.resolve(json(200, buildOpenApiDocument(), { 'cache-control': 'public, max-age=300' })),
  );
}
