// Every HTTP function, declared once: functions/routes.ts registers these (name, route, methods,
// authLevel), src/http/guard.ts admits callers by their `access`, and src/http/openapi.ts describes
// them (access, schemas, responses): what the document promises is what is enforced. A handler
// validates with the same schemas it is declared with here; its own status codes are listed in
// `responses` (the errors every route of a kind can give are added by the generator).
import type { HttpMethod } from '@azure/functions';
import { z } from 'zod';
import { acrEventSchema } from '../replication/acr-event';
import { cloudEventSchema, eventGridEventSchema } from '../replication/event-grid-event';
import { checkBodySchema } from './azure-pipelines-handler';
import { dashboardParamsSchema, dashboardQuerySchema } from './dashboard-handler';
import { eventIdParamsSchema, feedQuerySchema } from './event-handlers';
import {
  gatekeeperParamsSchema,
  gatekeeperQuerySchema,
  providerRequestSchema,
} from './gatekeeper-handler';
import {
  environmentBodySchema,
  environmentParamsSchema,
  protectionRuleEventSchema,
} from './github-handlers';
import { registryParamsSchema, regionsBodySchema } from './registry-handlers';
import {
  listParamsSchema,
  listQuerySchema,
  statusParamsSchema,
  statusQuerySchema,
} from './replication-handlers';
import { newSubscriptionSchema, subscriptionIdParamsSchema } from './subscription-handlers';
import { acrWebhookParamsSchema } from './webhook-handler';

/** Who may call a route, and how the credential comes (the OpenAPI `security` of each kind). */
export type Access =
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

export interface ResponseSpec {
  description: string;
  /** A component name (JSON), or the body's media type when it is not JSON. */
  body?: { component: string } | { mediaType: 'text/html' };
  headers?: Record<string, string>;
}

/** What the OpenAPI document says of one operation. */
export interface OperationDoc {
  summary: string;
  description?: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  paramNotes?: Record<string, string>;
  headerParams?: readonly { name: string; description: string; required: boolean }[];
  /** The request body: its component name and the schema the handler validates it with. */
  body?: { component: string; schema: z.ZodType; mediaTypes?: readonly string[] };
  responses: Record<number, ResponseSpec>;
}

export interface RouteDeclaration extends OperationDoc {
  /** The function's name (app.http) and the handler's key in buildHandlers().http; the operationId. */
  name: string;
  /** The Functions route template, under /api. */
  route: string;
  methods: readonly [HttpMethod];
  /** `function`: the function key is required on Azure (the local host does not check it). */
  authLevel: 'anonymous' | 'function';
  tag: string;
  /** Who may call it: enforced for every route by src/http/guard.ts (handlers check no role). */
  access: Access;
  /** Whether the operation reads or writes the store (so may answer 500 and 503). */
  store: boolean;
  /** A route whose last segment is optional (`{registry?}`) is two documented paths: this one has it. */
  withSegment?: Partial<OperationDoc> & { operationId: string };
}

/** Event Grid's body: an Event Grid schema batch, a CloudEvents batch, or one CloudEvent. */
const eventGridDeliverySchema = z.union([
  z.array(z.union([eventGridEventSchema, cloudEventSchema])).min(1),
  cloudEventSchema,
]);

const HTML = 'text/html';

export const ROUTES = [
  // ACR sends the bearer token configured on the webhook; the app checks it (WEBHOOK_TOKENS).
  {
    name: 'acrWebhook',
    route: 'webhooks/acr/{region}',
    methods: ['POST'],
    authLevel: 'anonymous',
    tag: 'webhooks',
    summary: 'ACR regional webhook: one arrival in one replica region',
    description:
      'Register one ACR webhook per replica region, each with its own region in the URL. Stored before it is acknowledged: a 503 means nothing is acknowledged (the write may still have landed: sending again is harmless).',
    access: 'webhook',
    store: true,
    params: acrWebhookParamsSchema,
    body: { component: 'AcrWebhookEvent', schema: acrEventSchema },
    responses: {
      200: { description: 'a ping', body: { component: 'Pong' } },
      202: {
        description: "the tag's status after a push, the tags a delete touched, or `ignored`",
        body: { component: 'WebhookAnswer' },
      },
    },
  },
  // The same arrivals through Event Grid (which retries); webhook token as a bearer header or ?token=.
  {
    name: 'eventGridWebhook',
    route: 'webhooks/eventgrid',
    methods: ['POST'],
    authLevel: 'anonymous',
    tag: 'webhooks',
    summary:
      'ACR ImagePushed/ImageDeleted delivered by Event Grid (either schema), with the validation handshake',
    description:
      'The region comes from `data.location`. The webhook token may come as `?token=` (an Event Grid subscription URL) instead of the header.',
    access: 'eventgrid',
    store: true,
    body: {
      component: 'EventGridDelivery',
      schema: eventGridDeliverySchema,
      mediaTypes: [
        'application/json',
        'application/cloudevents+json',
        'application/cloudevents-batch+json',
      ],
    },
    responses: {
      200: {
        description:
          'the validation code, or what became of each event; invalid events of a batch with valid ones are not recorded and are listed in `rejected` by index (a batch with no valid event is a 400)',
        body: { component: 'EventGridAnswer' },
      },
    },
  },
  {
    name: 'eventGridHandshake',
    route: 'webhooks/eventgrid',
    methods: ['OPTIONS'],
    authLevel: 'anonymous',
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
  // Read routes take a read or an admin token (READ_ROLES); webhook tokens get 403.
  {
    name: 'replicationStatus',
    route: 'replications/{registry}/{*reference}',
    methods: ['GET'],
    authLevel: 'anonymous',
    tag: 'replications',
    summary: 'Status of one tag or digest; `wait` long-polls until it is replicated',
    access: 'read',
    store: true,
    params: statusParamsSchema,
    query: statusQuerySchema,
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
    name: 'replicationList',
    route: 'replications/{registry}',
    methods: ['GET'],
    authLevel: 'anonymous',
    tag: 'replications',
    summary: "A registry's tags, most recently updated first, paged",
    access: 'read',
    store: true,
    params: listParamsSchema,
    query: listQuerySchema,
    responses: { 200: { description: 'one page', body: { component: 'StatusList' } } },
  },
  {
    name: 'verifyImage',
    route: 'verify/{registry}/{*reference}',
    methods: ['POST'],
    authLevel: 'anonymous',
    tag: 'replications',
    summary:
      'Checks every required region at its own endpoint now (the target and each child a pull needs); keeps the confirmations when VERIFY_REGIONS=true',
    access: 'read',
    store: true,
    params: statusParamsSchema,
    paramNotes: {
      reference: '`repository:tag` or `repository@sha256:…`, as for the status',
    },
    responses: {
      200: { description: 'one row per region', body: { component: 'VerifyReport' } },
      404: { description: 'no arrival of it has been recorded' },
    },
  },
  {
    name: 'eventFeed',
    route: 'events',
    methods: ['GET'],
    authLevel: 'anonymous',
    tag: 'events',
    summary:
      'Emitted events in the order they were recorded, after a cursor; an event enters the feed FEED_SETTLE_MS after it is recorded',
    access: 'read',
    store: true,
    query: feedQuerySchema,
    paramNotes: { after: 'the `cursor` of the previous page' },
    responses: { 200: { description: 'a page of the feed', body: { component: 'EventFeed' } } },
  },
  {
    name: 'getEvent',
    route: 'events/{id}',
    methods: ['GET'],
    authLevel: 'anonymous',
    tag: 'events',
    summary: "One event with each subscription's delivery state and attempts",
    access: 'read',
    store: true,
    params: eventIdParamsSchema,
    responses: {
      200: { description: 'the event', body: { component: 'EventWithDeliveries' } },
      404: { description: 'no such event' },
    },
  },
  {
    name: 'azurePipelinesCheck',
    route: 'azure-pipelines/checks',
    methods: ['POST'],
    authLevel: 'function',
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
    body: { component: 'AzurePipelinesCheck', schema: checkBodySchema },
    responses: {
      200: { description: 'stored; the answer follows', body: { component: 'CheckAccepted' } },
    },
  },
  {
    name: 'githubDeploymentProtectionRule',
    route: 'github/deployment-protection-rule',
    methods: ['POST'],
    authLevel: 'anonymous',
    tag: 'approvals',
    summary: "The GitHub App's deployment_protection_rule webhook",
    description:
      'Verified by X-Hub-Signature-256 (GITHUB_WEBHOOK_SECRET). The deployment is approved through its deployment_callback_url once the mapped image is replicated. See docs/github-deployment-protection.md.',
    access: 'signature',
    store: true,
    headerParams: [
      { name: 'x-github-event', description: '`deployment_protection_rule`', required: true },
    ],
    body: {
      component: 'DeploymentProtectionRuleEvent',
      schema: protectionRuleEventSchema,
    },
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
    name: 'health',
    route: 'health',
    methods: ['GET'],
    authLevel: 'anonymous',
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
    name: 'dashboard',
    route: 'dashboard/{registry?}',
    methods: ['GET'],
    authLevel: 'anonymous',
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
    withSegment: {
      operationId: 'dashboardRegistry',
      summary:
        "One registry's recent tags × regions, lag per region, stalled rounds and recent events with their deliveries",
      description:
        'Refreshes itself every 10 s; sends a Content-Security-Policy without scripts. Subscription URLs are shown to admin tokens only.',
      params: dashboardParamsSchema.required(),
      query: dashboardQuerySchema.pick({ token: true }),
      responses: { 200: { description: 'the page', body: { mediaType: HTML } } },
    },
  },
  {
    name: 'gatekeeperProvider',
    route: 'gatekeeper/{region}',
    methods: ['POST'],
    authLevel: 'anonymous',
    tag: 'admission',
    summary: 'OPA Gatekeeper external data provider: is each image in this region?',
    description:
      "Takes a Gatekeeper `ProviderRequest` whose `keys` are image references as written in pod specs (`host/repo:tag`, `host/repo@sha256:…`, bare `host/repo` = `:latest`) and answers a `ProviderResponse` with one item per distinct key: `error` is empty when the image, at the tag's current digest or the given digest, is in the region. Images of registries the gate does not track get an empty error and `value.tracked: false`. A malformed reference is an error on its item, never a failed request. `systemError` only when the store cannot be reached. Gatekeeper sends no headers: the read token may come as `?token=`. Body limit: 1,200,000 bytes, not MAX_BODY_BYTES.",
    access: 'readQuery',
    store: true,
    params: gatekeeperParamsSchema,
    query: gatekeeperQuerySchema,
    body: { component: 'ProviderRequest', schema: providerRequestSchema },
    responses: {
      200: { description: 'one item per distinct key', body: { component: 'ProviderResponse' } },
      413: { description: 'more than 1,000 keys, or a body over 1,200,000 bytes' },
    },
  },
  {
    name: 'openApi',
    route: 'openapi.json',
    methods: ['GET'],
    authLevel: 'anonymous',
    tag: 'meta',
    summary: 'This document',
    access: 'none',
    store: false,
    responses: { 200: { description: 'OpenAPI 3.1', body: { component: 'OpenApiDocument' } } },
  },
  // Admin routes: the function key on Azure, and an ADMIN_TOKENS bearer token everywhere.
  {
    name: 'getRegistry',
    route: 'registries/{registry}',
    methods: ['GET'],
    authLevel: 'function',
    tag: 'registries',
    summary: "The registry's required regions",
    access: 'admin',
    store: true,
    params: registryParamsSchema,
    responses: { 200: { description: 'the regions', body: { component: 'RequiredRegions' } } },
  },
  {
    name: 'putRegistry',
    route: 'registries/{registry}',
    methods: ['PUT'],
    authLevel: 'function',
    tag: 'registries',
    summary: "Sets the registry's required regions and re-evaluates its open rounds",
    access: 'admin',
    store: true,
    params: registryParamsSchema,
    body: { component: 'RegionsBody', schema: regionsBodySchema },
    responses: { 200: { description: 'stored', body: { component: 'RegionsUpdated' } } },
  },
  {
    name: 'redeliverEvent',
    route: 'events/{id}/redeliver',
    methods: ['POST'],
    authLevel: 'function',
    tag: 'events',
    summary: 'Starts every delivery of the event over (dead-lettered ones too)',
    access: 'admin',
    store: true,
    params: eventIdParamsSchema,
    responses: {
      202: { description: 'deliveries restarted', body: { component: 'RedeliveryStarted' } },
      404: { description: 'no such event' },
    },
  },
  {
    name: 'createSubscription',
    route: 'subscriptions',
    methods: ['POST'],
    authLevel: 'function',
    tag: 'subscriptions',
    summary: 'Where events go; the secret is shown this once',
    access: 'admin',
    store: true,
    body: { component: 'NewSubscription', schema: newSubscriptionSchema },
    responses: {
      201: {
        description: 'created',
        body: { component: 'SubscriptionCreated' },
        headers: { location: 'the new subscription' },
      },
    },
  },
  {
    name: 'listSubscriptions',
    route: 'subscriptions',
    methods: ['GET'],
    authLevel: 'function',
    tag: 'subscriptions',
    summary: 'Every subscription (secrets and header values never shown)',
    access: 'admin',
    store: true,
    responses: { 200: { description: 'the list', body: { component: 'SubscriptionList' } } },
  },
  {
    name: 'getSubscription',
    route: 'subscriptions/{id}',
    methods: ['GET'],
    authLevel: 'function',
    tag: 'subscriptions',
    summary: 'One subscription',
    access: 'admin',
    store: true,
    params: subscriptionIdParamsSchema,
    responses: {
      200: { description: 'the subscription', body: { component: 'SubscriptionView' } },
      404: { description: 'no such subscription' },
    },
  },
  {
    name: 'deleteSubscription',
    route: 'subscriptions/{id}',
    methods: ['DELETE'],
    authLevel: 'function',
    tag: 'subscriptions',
    summary: 'Deletes a subscription',
    access: 'admin',
    store: true,
    params: subscriptionIdParamsSchema,
    responses: {
      204: { description: 'deleted' },
      404: { description: 'no such subscription' },
    },
  },
  {
    name: 'putGithubEnvironment',
    route: 'github/environments/{owner}/{repo}/{environment}',
    methods: ['PUT'],
    authLevel: 'function',
    tag: 'approvals',
    summary: "Which image a repository's environment deploys (a template over {sha} and {ref})",
    access: 'admin',
    store: true,
    params: environmentParamsSchema,
    body: { component: 'GithubEnvironment', schema: environmentBodySchema },
    responses: { 200: { description: 'stored', body: { component: 'GithubEnvironmentMapping' } } },
  },
] as const satisfies readonly RouteDeclaration[];

/** The name of a declared route: buildHandlers() has a handler for each, and only for these. */
export type RouteName = (typeof ROUTES)[number]['name'];
