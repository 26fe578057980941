// A loopback fake of the ARM operations src/registration/ uses, with in-memory state.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { isRecord } from '../../src/util/values';

export interface FakeReplica {
  location: string;
  provisioningState?: string;
  regionEndpointEnabled?: boolean;
}

/** A webhook as ARM stores it: the resource plus the callback config that only getCallbackConfig returns. */
export interface StoredWebhook {
  name: string;
  location: string;
  status: string;
  scope?: string;
  actions: string[];
  serviceUri: string;
  customHeaders: Record<string, string>;
}

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  apiVersion: string | null;
  body: unknown;
}

export interface FakeArmOptions {
  subscriptionId: string;
  resourceGroup: string;
  registryName: string;
  replicas: FakeReplica[];
  token: string;
  /** listEvents page size; more events come with a nextLink. Default 50. */
  eventsPageSize?: number;
}

/** A delivery to seed: the ACR body and what the receiver answered (null: no answer, e.g. a timeout). */
export interface SeededEvent {
  content: Record<string, unknown>;
  statusCode: number | null;
  id?: string;
}

/** One item of ARM's listEvents answer (Microsoft.ContainerRegistry `Event`). */
export interface ArmWebhookEvent {
  id: string;
  eventRequestMessage: {
    content: Record<string, unknown>;
    headers: Record<string, string>;
    method: string;
    requestUri: string;
    version: string;
  };
  eventResponseMessage?: {
    content: string;
    headers: Record<string, string>;
    reasonPhrase: string;
    statusCode: string;
    version: string;
  };
}

export interface FakeArm {
  /** e.g. `http://127.0.0.1:54321` — pass as the client's ARM endpoint. */
  endpoint: string;
  requests: RecordedRequest[];
  /** Live state, keyed by lower-cased name (ARM names are case-insensitive); tests may seed it. */
  webhooks: Map<string, StoredWebhook>;
  /** Live list; push to it to add a replica later. */
  replicas: FakeReplica[];
  /** Requests that changed something (PUT, PATCH, DELETE). */
  writes(): RecordedRequest[];
  /** Recent events per webhook (lower-cased name), as listEvents returns them. */
  webhookEvents: Map<string, ArmWebhookEvent[]>;
  /** Adds deliveries to a webhook's recent events, as if ACR had sent them (the webhook must exist). */
  seedEvents(webhookName: string, events: SeededEvent[]): ArmWebhookEvent[];
  close(): Promise<void>;
}

const WEBHOOK_TYPE = 'Microsoft.ContainerRegistry/registries/webhooks';
const REPLICATION_TYPE = 'Microsoft.ContainerRegistry/registries/replications';
const ACR_NAME = /^[A-Za-z0-9]{5,50}$/;

class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const stringMap = (value: unknown): Record<string, string> | undefined =>
  isRecord(value)
    ? (Object.fromEntries(Object.entries(value).filter(([, v]) => typeof v === 'string')) as Record<
        string,
        string
      >)
    : undefined;

const stringList = (value: unknown): string[] | undefined =>
  Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;

async function readBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ArmError(400, 'InvalidRequestContent', 'The request content was invalid JSON.');
  }
}

function send(response: ServerResponse, status: number, body?: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'x-ms-request-id': randomUUID(),
  });
  response.end(text);
}

export async function startFakeArm(options: FakeArmOptions): Promise<FakeArm> {
  const requests: RecordedRequest[] = [];
  const webhooks = new Map<string, StoredWebhook>();
  const webhookEvents = new Map<string, ArmWebhookEvent[]>();
  const replicas = options.replicas;
  const pageSize = options.eventsPageSize ?? 50;
  const registryId =
    `/subscriptions/${options.subscriptionId}/resourceGroups/${options.resourceGroup}` +
    `/providers/Microsoft.ContainerRegistry/registries/${options.registryName}`;

  const webhookResource = (hook: StoredWebhook) => ({
    id: `${registryId}/webhooks/${hook.name}`,
    name: hook.name,
    type: WEBHOOK_TYPE,
    location: hook.location,
    properties: {
      status: hook.status,
      ...(hook.scope !== undefined ? { scope: hook.scope } : {}),
      actions: hook.actions,
      provisioningState: 'Succeeded',
    },
  });

  const replicationResource = (replica: FakeReplica) => ({
    id: `${registryId}/replications/${replica.location}`,
    name: replica.location,
    type: REPLICATION_TYPE,
    location: replica.location,
    properties: {
      provisioningState: replica.provisioningState ?? 'Succeeded',
      status: { displayStatus: 'Ready' },
      regionEndpointEnabled: replica.regionEndpointEnabled ?? true,
      zoneRedundancy: 'Disabled',
    },
  });

  const found = (name: string): StoredWebhook => {
    const hook = webhooks.get(name.toLowerCase());
    if (hook === undefined) {
      throw new ArmError(
        404,
        'ResourceNotFound',
        `The Resource '${WEBHOOK_TYPE}/${options.registryName}/${name}' under resource group ` +
          `'${options.resourceGroup}' was not found.`,
      );
    }
    return hook;
  };

  function putWebhook(name: string, body: unknown): StoredWebhook {
    if (!ACR_NAME.test(name)) {
      throw new ArmError(400, 'InvalidResourceName', `Resource name ${name} is invalid.`);
    }
    if (!isRecord(body) || typeof body.location !== 'string' || !isRecord(body.properties)) {
      throw new ArmError(400, 'InvalidRequestContent', 'location and properties are required.');
    }
    const location = body.location.replace(/\s+/g, '').toLowerCase();
    if (!replicas.some((r) => r.location.toLowerCase() === location)) {
      throw new ArmError(
        400,
        'LocationNotAvailable',
        `The registry is not replicated to '${location}'.`,
      );
    }
    const previous = webhooks.get(name.toLowerCase());
    if (previous !== undefined && previous.location !== location) {
      throw new ArmError(
        400,
        'InvalidResourceLocation',
        `The resource '${name}' already exists in location '${previous.location}'. ` +
          `A resource with the same name cannot be created in location '${location}'.`,
      );
    }
    const props = body.properties;
    const actions = stringList(props.actions);
    if (typeof props.serviceUri !== 'string' || actions === undefined || actions.length === 0) {
      throw new ArmError(400, 'InvalidRequestContent', 'serviceUri and actions are required.');
    }
    const hook: StoredWebhook = {
      name: previous?.name ?? name,
      location,
      status: typeof props.status === 'string' ? props.status : 'enabled',
      ...(typeof props.scope === 'string' ? { scope: props.scope } : {}),
      actions,
      serviceUri: props.serviceUri,
      customHeaders: stringMap(props.customHeaders) ?? {},
    };
    webhooks.set(name.toLowerCase(), hook);
    return hook;
  }

  function patchWebhook(name: string, body: unknown): StoredWebhook {
    const hook = found(name);
    if (!isRecord(body)) throw new ArmError(400, 'InvalidRequestContent', 'A body is required.');
    const props = isRecord(body.properties) ? body.properties : {};
    if (typeof props.serviceUri === 'string') hook.serviceUri = props.serviceUri;
    const headers = stringMap(props.customHeaders);
    if (headers !== undefined) hook.customHeaders = headers;
    if (typeof props.status === 'string') hook.status = props.status;
    if (typeof props.scope === 'string') hook.scope = props.scope;
    const actions = stringList(props.actions);
    if (actions !== undefined) hook.actions = actions;
    return hook;
  }

  function seedEvents(webhookName: string, events: SeededEvent[]): ArmWebhookEvent[] {
    const hook = found(webhookName);
    const list = webhookEvents.get(hook.name.toLowerCase()) ?? [];
    const added = events.map((seeded): ArmWebhookEvent => ({
      id: seeded.id ?? randomUUID(),
      eventRequestMessage: {
        content: seeded.content,
        headers: { 'Content-Type': 'application/json', ...hook.customHeaders },
        method: 'POST',
        requestUri: hook.serviceUri,
        version: '1.1',
      },
      ...(seeded.statusCode === null
        ? {}
        : {
            eventResponseMessage: {
              content: '',
              headers: {},
              reasonPhrase: seeded.statusCode < 300 ? 'OK' : 'Service Unavailable',
              statusCode: String(seeded.statusCode),
              version: '1.1',
            },
          }),
    }));
    list.push(...added);
    webhookEvents.set(hook.name.toLowerCase(), list);
    return added;
  }

  /** A page of events; the nextLink carries a $skipToken, as ARM's does. */
  function eventsPage(name: string, url: URL, host: string | undefined) {
    const all = webhookEvents.get(found(name).name.toLowerCase()) ?? [];
    const skip = Number(url.searchParams.get('$skipToken') ?? '0');
    const value = all.slice(skip, skip + pageSize);
    if (skip + pageSize >= all.length) return { value };
    const next = new URL(url.pathname, `http://${host ?? '127.0.0.1'}`);
    next.searchParams.set('api-version', url.searchParams.get('api-version') ?? '');
    next.searchParams.set('$skipToken', String(skip + pageSize));
    return { value, nextLink: next.toString() };
  }

  async function route(
    method: string,
    url: URL,
    request: IncomingMessage,
  ): Promise<[number, unknown?]> {
    const body = await readBody(request);
    const apiVersion = url.searchParams.get('api-version');
    requests.push({ method, path: url.pathname, apiVersion, body });
    if (apiVersion === null) {
      throw new ArmError(
        400,
        'MissingApiVersionParameter',
        'The api-version query parameter (?api-version=) is required for all requests.',
      );
    }
    // ARM matches the fixed parts of a resource path case-insensitively.
    const path = url.pathname.toLowerCase();
    const base = registryId.toLowerCase();
    const rest = path.startsWith(`${base}/`) ? url.pathname.slice(base.length + 1) : null;
    const parts = rest === null ? [] : rest.split('/').map(decodeURIComponent);
    const [collection, name, action] = [parts[0]?.toLowerCase(), parts[1], parts[2]?.toLowerCase()];

    if (collection === 'replications' && parts.length === 1 && method === 'GET') {
      return [200, { value: replicas.map(replicationResource) }];
    }
    if (collection === 'webhooks' && parts.length === 1 && method === 'GET') {
      return [200, { value: [...webhooks.values()].map(webhookResource) }];
    }
    if (collection === 'webhooks' && name !== undefined && parts.length === 2) {
      switch (method) {
        case 'GET':
          return [200, webhookResource(found(name))];
        case 'PUT':
          return [200, webhookResource(putWebhook(name, body))];
        case 'PATCH':
          return [200, webhookResource(patchWebhook(name, body))];
        case 'DELETE':
          return webhooks.delete(name.toLowerCase()) ? [200] : [204];
      }
    }
    if (
      collection === 'webhooks' &&
      name !== undefined &&
      action === 'getcallbackconfig' &&
      parts.length === 3 &&
      method === 'POST'
    ) {
      const hook = found(name);
      return [200, { serviceUri: hook.serviceUri, customHeaders: hook.customHeaders }];
    }
    // The first page is a POST; the SDK follows nextLink with a GET.
    if (
      collection === 'webhooks' &&
      name !== undefined &&
      action === 'listevents' &&
      parts.length === 3 &&
      (method === 'POST' || (method === 'GET' && url.searchParams.has('$skipToken')))
    ) {
      return [200, eventsPage(name, url, request.headers.host)];
    }
    throw new ArmError(404, 'NotFound', `No route for ${method} ${url.pathname} in this fake.`);
  }

  const server = createServer((request, response) => {
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (request.headers.authorization !== `Bearer ${options.token}`) {
      request.resume();
      send(response, 401, {
        error: {
          code: 'InvalidAuthenticationToken',
          message: 'The access token is missing or invalid.',
        },
      });
      return;
    }
    route(method, url, request).then(
      ([status, body]) => send(response, status, body),
      (error: unknown) => {
        if (error instanceof ArmError) {
          send(response, error.status, { error: { code: error.code, message: error.message } });
        } else {
          send(response, 500, { error: { code: 'InternalServerError', message: String(error) } });
        }
      },
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    webhooks,
    replicas,
    writes: () => requests.filter((r) => ['PUT', 'PATCH', 'DELETE'].includes(r.method)),
    webhookEvents,
    seedEvents,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
