// Which ACR webhooks to register, one per replica region, and the `az` commands for them: pure, no ARM call.
import { regionNameSchema } from '../replication/names';

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

const ALL_ACTIONS: readonly WebhookActionName[] = [
  'push',
  'delete',
  'quarantine',
  'chart_push',
  'chart_delete',
];
const DEFAULT_ACTIONS: readonly WebhookActionName[] = ['push', 'delete'];
export const DEFAULT_PREFIX = 'acrgate';
const DEFAULT_TOKEN_EXPRESSION = '$ACR_GATE_WEBHOOK_TOKEN';
// ACR's own rule for registry and webhook names.
const ACR_NAME = /^[A-Za-z0-9]{5,50}$/;
// Same shape the app's authenticator accepts (src/http/auth.ts) and WEBHOOK_TOKENS requires.
const BEARER_TOKEN = /^[\x21-\x7e]{16,}$/;

export function assertToken(token: string): void {
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
