// Registers one ACR webhook per replica region through Azure Resource Manager, idempotently.
import {
  ContainerRegistryManagementClient,
  type ContainerRegistryManagementClientOptionalParams,
  type Webhook,
} from '@azure/arm-containerregistry';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { randomUUID } from 'node:crypto';
import { regionNameSchema } from '../replication/names';
import { isRecord, sameSet } from '../util/values';

export type WebhookActionName = 'push' | 'delete' | 'quarantine' | 'chart_push' | 'chart_delete';

export interface WebhookTarget {
  /** API base including `/api`, e.g. `https://myapp.azurewebsites.net/api`; trailing slashes are dropped. */
  apiUrl: string;
  /**
   * The bearer token ACR will send: one of the app's WEBHOOK_TOKENS. May be '' for a plan that is
   * only printed with toAzCliCommands (which never prints it); applyWebhooks requires it.
   */
  token: string;
  /** Default `['push', 'delete']`. */
  actions?: WebhookActionName[];
  /** e.g. `repo:*`; default none (all repositories). */
  scope?: string;
  /** Default `acrgate`; the webhook name is `${namePrefix}${region}`. */
  namePrefix?: string;
}

export interface PlannedWebhook {
  name: string;
  location: string;
  serviceUri: string;
  actions: string[];
  scope?: string;
  headers: Record<string, string>;
}

export interface ArmTarget {
  subscriptionId: string;
  resourceGroup: string;
  registryName: string;
}

/** A replica left out of the discovered regions because it is not (yet) provisioned. */
export interface SkippedReplica {
  location: string;
  provisioningState: string;
}

export interface ApplyResult {
  regions: string[];
  /** Webhook names, in region order. */
  created: string[];
  /** Includes webhooks recreated because they were in the wrong location. */
  updated: string[];
  unchanged: string[];
  /** Replicas not in `Succeeded` state (only when the regions were discovered, not given). */
  skipped: SkippedReplica[];
}

/** Only the operation groups used here, so callers may pass a stand-in. */
export type ArmClient = Pick<ContainerRegistryManagementClient, 'replications' | 'webhooks'>;

const ALL_ACTIONS: readonly WebhookActionName[] = [
  'push',
  'delete',
  'quarantine',
  'chart_push',
  'chart_delete',
];
const DEFAULT_ACTIONS: readonly WebhookActionName[] = ['push', 'delete'];
const DEFAULT_PREFIX = 'acrgate';
const DEFAULT_TOKEN_EXPRESSION = '$ACR_GATE_WEBHOOK_TOKEN';
// ACR's own rule for registry and webhook names.
const ACR_NAME = /^[A-Za-z0-9]{5,50}$/;
// Same shape the app's authenticator accepts (src/http/auth.ts) and WEBHOOK_TOKENS requires.
const BEARER_TOKEN = /^[\x21-\x7e]{16,}$/;

function assertToken(token: string): void {
  if (!BEARER_TOKEN.test(token)) {
    throw new Error('token must be at least 16 printable ASCII characters without spaces');
  }
}

function normaliseApiUrl(apiUrl: string): string {
  const trimmed = apiUrl.trim().replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new Error(`apiUrl must be an absolute URL, got ${JSON.stringify(apiUrl)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Error(`apiUrl must be http(s), got ${url.protocol}`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw new Error('apiUrl must not carry a query or fragment');
  }
  return trimmed;
}

function normaliseRegions(regions: readonly string[]): string[] {
  const parsed = regions.map((region) => {
    const result = regionNameSchema.safeParse(region);
    if (!result.success) throw new Error(`not an Azure region name: ${JSON.stringify(region)}`);
    return result.data;
  });
  return [...new Set(parsed)].sort();
}

function normaliseActions(actions: readonly string[] | undefined): string[] {
  const list = [...new Set(actions ?? DEFAULT_ACTIONS)];
  if (list.length === 0) throw new Error('a webhook needs at least one action');
  const unknown = list.filter((a) => !(ALL_ACTIONS as readonly string[]).includes(a));
  if (unknown.length > 0) throw new Error(`unknown webhook action(s): ${unknown.join(', ')}`);
  return list;
}

/** The webhooks to register, one per region; pure, so it can be shown before anything is sent. */
export function planWebhooks(target: WebhookTarget, regions: string[]): PlannedWebhook[] {
  const apiUrl = normaliseApiUrl(target.apiUrl);
  if (target.token !== '') assertToken(target.token);
  const prefix = target.namePrefix ?? DEFAULT_PREFIX;
  const actions = normaliseActions(target.actions);
  const scope = target.scope?.trim();
  return normaliseRegions(regions).map((region) => {
    const name = `${prefix}${region}`;
    if (!ACR_NAME.test(name)) {
      throw new Error(`webhook name ${JSON.stringify(name)} must be 5-50 letters and digits`);
    }
    return {
      name,
      location: region,
      serviceUri: `${apiUrl}/webhooks/acr/${region}`,
      actions: [...actions],
      ...(scope ? { scope } : {}),
      headers: { Authorization: `Bearer ${target.token}` },
    };
  });
}

// POSIX single-quoting, only where the shell would otherwise interpret something.
function shellWord(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The `az acr webhook create` commands for a plan. The token is never printed: the Authorization
 * header references `tokenExpression` (default `$ACR_GATE_WEBHOOK_TOKEN`) inside double quotes, so
 * the shell expands it and CI logs never show it.
 */
export function toAzCliCommands(
  registryName: string,
  plan: PlannedWebhook[],
  tokenExpression: string = DEFAULT_TOKEN_EXPRESSION,
): string[] {
  if (!ACR_NAME.test(registryName)) {
    throw new Error(
      `registry name ${JSON.stringify(registryName)} must be 5-50 letters and digits`,
    );
  }
  if (tokenExpression.trim() === '' || /[\r\n]/.test(tokenExpression)) {
    throw new Error('tokenExpression must be a single-line shell expression');
  }
  return plan.map((hook) => {
    const headers = Object.entries(hook.headers).map(([key, value]) =>
      key.toLowerCase() === 'authorization'
        ? `"${key}=Bearer ${tokenExpression}"`
        : shellWord(`${key}=${value}`),
    );
    return [
      'az acr webhook create',
      `--registry ${registryName}`,
      `--name ${shellWord(hook.name)}`,
      `--location ${shellWord(hook.location)}`,
      `--uri ${shellWord(hook.serviceUri)}`,
      `--actions ${hook.actions.map(shellWord).join(' ')}`,
      ...(headers.length > 0 ? [`--headers ${headers.join(' ')}`] : []),
      ...(hook.scope ? [`--scope ${shellWord(hook.scope)}`] : []),
    ].join(' ');
  });
}

/** A credential that always answers with the same token (CI-provided tokens, tests). */
function staticCredential(accessToken: string): TokenCredential {
  return {
    getToken: () =>
      Promise.resolve({ token: accessToken, expiresOnTimestamp: Date.now() + 3_600_000 }),
  };
}

type PipelinePolicy = Parameters<ContainerRegistryManagementClient['pipeline']['addPolicy']>[0];

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * An ARM client: DefaultAzureCredential, or a static token when `accessToken` is given.
 * `endpoint` overrides the ARM endpoint (sovereign clouds, or a loopback fake in tests).
 */
export function createArmClient(options: {
  subscriptionId: string;
  endpoint?: string;
  accessToken?: string;
}): ContainerRegistryManagementClient {
  const credential: TokenCredential =
    options.accessToken === undefined
      ? new DefaultAzureCredential()
      : staticCredential(options.accessToken);
  const clientOptions: ContainerRegistryManagementClientOptionalParams = {};
  let insecure = false;
  if (options.endpoint !== undefined) {
    const endpoint = options.endpoint.replace(/\/+$/, '');
    const url = new URL(endpoint);
    insecure = url.protocol === 'http:';
    if (insecure && (!LOOPBACK_HOSTS.has(url.hostname) || options.accessToken === undefined)) {
      throw new Error(
        'an http:// ARM endpoint is only for a loopback fake with a static accessToken',
      );
    }
    clientOptions.endpoint = endpoint;
    // The node HTTP client refuses http:// unless the request allows it.
    if (insecure) clientOptions.allowInsecureConnection = true;
  }
  const client = new ContainerRegistryManagementClient(
    credential,
    options.subscriptionId,
    clientOptions,
  );
  if (insecure && options.accessToken !== undefined) {
    // @azure/core-rest-pipeline's bearerTokenAuthenticationPolicy throws for every non-https URL and
    // ignores allowInsecureConnection, so for the loopback fake the header is set by a policy of ours.
    const header = `Bearer ${options.accessToken}`;
    const staticBearer: PipelinePolicy = {
      name: 'staticBearerForLoopback',
      sendRequest: (request, next) => {
        request.headers.set('Authorization', header);
        return next(request);
      },
    };
    client.pipeline.removePolicy({ name: 'bearerTokenAuthenticationPolicy' });
    client.pipeline.addPolicy(staticBearer, { phase: 'Sign' });
    // Loopback never needs a proxy; an HTTP(S)_PROXY set in CI would otherwise swallow the requests.
    client.pipeline.removePolicy({ name: 'proxyPolicy' });
  }
  return client;
}

/** ARM sometimes spells locations for display ("West US"); compare on the canonical form. */
const canonicalLocation = (location: string | undefined): string =>
  (location ?? '').replace(/\s+/g, '').toLowerCase();

/**
 * The registry's replica regions (the list includes the home region), lower-cased and sorted.
 * Only replicas in `Succeeded` state are returned: ARM rejects a webhook for a location the registry
 * is not (yet) replicated to, so `Creating`/`Updating`/`Failed`/`Deleting` replicas go to `onSkipped`
 * and are picked up by a later run. A replica with its regional endpoint disabled still syncs and
 * fires webhooks, so it is kept.
 */
export async function discoverRegions(
  client: ArmClient,
  target: ArmTarget,
  onSkipped?: (replica: SkippedReplica) => void,
): Promise<string[]> {
  const regions = new Set<string>();
  for await (const replica of client.replications.list(target.resourceGroup, target.registryName)) {
    const location = canonicalLocation(replica.location);
    const state = replica.provisioningState ?? 'Unknown';
    if (state.toLowerCase() === 'succeeded') regions.add(location);
    else onSkipped?.({ location, provisioningState: state });
  }
  return [...regions].sort();
}

const headerValue = (headers: Record<string, string> | undefined, name: string) =>
  Object.entries(headers ?? {}).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];

/**
 * Creates or corrects one webhook per region (default: the discovered replica regions).
 * Idempotent: a webhook that already matches is only read, never written. A webhook in the wrong
 * location cannot be moved, so it is deleted and recreated (reported as updated). Custom headers
 * other than Authorization are kept. Webhooks for regions no longer replicated, with our prefix or
 * not, are left alone: removing a replica is rare and deleting webhooks is for a human to decide.
 */
export async function applyWebhooks(
  client: ArmClient,
  target: ArmTarget,
  webhook: WebhookTarget,
  regions?: string[],
): Promise<ApplyResult> {
  // Checked before anything is read, so a missing token fails fast.
  assertToken(webhook.token);
  const skipped: SkippedReplica[] = [];
  const wanted = regions ?? (await discoverRegions(client, target, (s) => skipped.push(s)));
  const plan = planWebhooks(webhook, wanted);
  if (plan.length === 0) {
    throw new Error(
      `no regions to register for ${target.registryName}` +
        (regions === undefined ? ' (no replication is in Succeeded state)' : ''),
    );
  }
  const { resourceGroup: rg, registryName: registry } = target;

  const existing = new Map<string, Webhook>();
  for await (const hook of client.webhooks.list(rg, registry)) {
    if (hook.name !== undefined) existing.set(hook.name.toLowerCase(), hook);
  }

  const result: ApplyResult = {
    regions: plan.map((p) => p.location),
    created: [],
    updated: [],
    unchanged: [],
    skipped,
  };
  for (const planned of plan) {
    const wantedAuth = planned.headers.Authorization;
    const create = () =>
      client.webhooks.create(rg, registry, planned.name, {
        location: planned.location,
        serviceUri: planned.serviceUri,
        customHeaders: planned.headers,
        actions: planned.actions,
        status: 'enabled',
        ...(planned.scope !== undefined ? { scope: planned.scope } : {}),
      });

    const current = existing.get(planned.name.toLowerCase());
    if (current === undefined) {
      await create();
      result.created.push(planned.name);
      continue;
    }
    if (canonicalLocation(current.location) !== planned.location) {
      await client.webhooks.delete(rg, registry, planned.name);
      await create();
      result.updated.push(planned.name);
      continue;
    }
    // Actions, scope and status come with the list; the URI and headers may carry secrets and are
    // only returned by getCallbackConfig.
    const callback = await client.webhooks.getCallbackConfig(rg, registry, planned.name);
    const matches =
      sameSet(current.actions ?? [], planned.actions, (x) => x.toLowerCase()) &&
      (current.scope ?? '') === (planned.scope ?? '') &&
      (current.status ?? '').toLowerCase() === 'enabled' &&
      callback.serviceUri === planned.serviceUri &&
      headerValue(callback.customHeaders, 'Authorization') === wantedAuth;
    if (matches) {
      result.unchanged.push(planned.name);
      continue;
    }
    const otherHeaders = Object.fromEntries(
      Object.entries(callback.customHeaders ?? {}).filter(
        ([key]) => key.toLowerCase() !== 'authorization',
      ),
    );
    await client.webhooks.update(rg, registry, planned.name, {
      serviceUri: planned.serviceUri,
      customHeaders: { ...otherHeaders, ...planned.headers },
      actions: planned.actions,
      status: 'enabled',
      // An empty scope clears a previous one; ARM reads an absent property as "keep".
      scope: planned.scope ?? '',
    });
    result.updated.push(planned.name);
  }
  return result;
}

/** A webhook of ours to reconcile: its name and the replica region it belongs to. */
export interface RegionalWebhookRef {
  name: string;
  location: string;
}

/**
 * Our regional webhooks: those named `${prefix}${location}` as applyWebhooks creates them, or the
 * webhooks named in `names` (any naming). A name in `names` the registry does not have is an error.
 */
export async function listRegionalWebhooks(
  client: Pick<ArmClient, 'webhooks'>,
  target: ArmTarget,
  options: { names?: readonly string[]; prefix?: string } = {},
): Promise<RegionalWebhookRef[]> {
  const prefix = (options.prefix ?? DEFAULT_PREFIX).toLowerCase();
  const all: RegionalWebhookRef[] = [];
  for await (const hook of client.webhooks.list(target.resourceGroup, target.registryName)) {
    if (hook.name !== undefined) {
      all.push({ name: hook.name, location: canonicalLocation(hook.location) });
    }
  }
  if (options.names !== undefined) {
    return options.names.map((wanted) => {
      const hook = all.find((h) => h.name.toLowerCase() === wanted.toLowerCase());
      if (hook === undefined) {
        throw new Error(`registry ${target.registryName} has no webhook named ${wanted}`);
      }
      return hook;
    });
  }
  return all
    .filter((h) => h.name.toLowerCase() === `${prefix}${h.location}`)
    .sort((a, b) => a.location.localeCompare(b.location));
}

/** One recent delivery of a webhook (ARM `webhooks.listEvents`). */
export interface WebhookEvent {
  id: string;
  /** The JSON body ACR sent (`eventRequestMessage.content`), exactly as ARM returned it. */
  content: unknown;
  /** Our answer (`eventResponseMessage.statusCode`); null when ACR got none. */
  responseStatus: number | null;
}

/** The spec says an object; should a body come back as JSON text, it is read the same. */
function bodyOf(content: unknown): unknown {
  if (typeof content !== 'string') return content;
  try {
    return JSON.parse(content) as unknown;
  } catch {
    return content;
  }
}

/**
 * The webhook's recent events, every page. The SDK's typed `EventContent` turns `timestamp` into a
 * Date (milliseconds) and drops unknown fields, so replaying it would not be the same arrival as the
 * original; the request bodies are taken from the raw pages instead, which a pipeline policy catches
 * for the duration of the call (keyed by event id, so concurrent calls do not mix them up).
 */
export async function listWebhookEvents(
  client: Pick<ContainerRegistryManagementClient, 'webhooks' | 'pipeline'>,
  target: ArmTarget,
  webhookName: string,
): Promise<WebhookEvent[]> {
  const raw = new Map<string, unknown>();
  const capture: PipelinePolicy = {
    name: `captureWebhookEvents:${randomUUID()}`,
    sendRequest: async (request, next) => {
      const response = await next(request);
      const text = response.bodyAsText;
      if (response.status === 200 && text?.includes('"eventRequestMessage"')) {
        try {
          const page: unknown = JSON.parse(text);
          const items =
            isRecord(page) && Array.isArray(page.value) ? (page.value as unknown[]) : [];
          for (const item of items) {
            if (isRecord(item) && typeof item.id === 'string') {
              const message = item.eventRequestMessage;
              raw.set(item.id, isRecord(message) ? bodyOf(message.content) : undefined);
            }
          }
        } catch {
          // Not JSON: the SDK reports it when it deserializes the page.
        }
      }
      return response;
    },
  };
  client.pipeline.addPolicy(capture);
  try {
    const events: WebhookEvent[] = [];
    const pages = client.webhooks.listEvents(
      target.resourceGroup,
      target.registryName,
      webhookName,
    );
    for await (const event of pages) {
      if (event.id === undefined) continue;
      const status = Number.parseInt(event.eventResponseMessage?.statusCode ?? '', 10);
      events.push({
        id: event.id,
        content: raw.get(event.id),
        responseStatus: Number.isInteger(status) ? status : null,
      });
    }
    return events;
  } finally {
    client.pipeline.removePolicy({ name: capture.name });
  }
}
