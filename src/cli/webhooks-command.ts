// `acr-gate webhooks plan|apply`: one ACR webhook per replica region, printed as az commands or applied through ARM.
import { applyWebhooks, discoverRegions } from '../registration/apply-webhooks';
import { createArmClient, type ArmTarget } from '../registration/arm-client';
import { planWebhooks, toAzCliCommands } from '../registration/plan-webhooks';
import type { ApiClient } from './api-client';
import { CliError, EXIT, type ExitCode } from './exit-codes';

export interface WebhooksOptions {
  registry: string;
  apiUrl: string;
  regions?: string[];
  scope?: string;
  subscription?: string;
  resourceGroup?: string;
  armEndpoint?: string;
  armToken?: string;
  webhookToken?: string;
  /** Also PUT the discovered regions as the registry's required regions. */
  setRegions: boolean;
  out: (text: string) => void;
  err: (text: string) => void;
}

/** `contoso` from `contoso` or `contoso.azurecr.io`. */
const registryName = (registry: string): string => registry.split('.')[0] ?? registry;
const loginServer = (registry: string): string =>
  registry.includes('.') ? registry : `${registry}.azurecr.io`;

function armTarget(o: WebhooksOptions): ArmTarget {
  if (!o.subscription || !o.resourceGroup) {
    throw new CliError(
      '--subscription and --resource-group are needed to reach Azure Resource Manager',
      EXIT.usage,
    );
  }
  return {
    subscriptionId: o.subscription,
    resourceGroup: o.resourceGroup,
    registryName: registryName(o.registry),
  };
}

const armClient = (o: WebhooksOptions) =>
  createArmClient({
    subscriptionId: armTarget(o).subscriptionId,
    ...(o.armEndpoint ? { endpoint: o.armEndpoint } : {}),
    ...(o.armToken ? { accessToken: o.armToken } : {}),
  });

/**
 * No document says whether a scoped webhook fires for a push by digest (a child manifest of a
 * multi-platform image has no tag). Only an empty scope is known to see every event.
 */
export function scopeWarning(scope: string | undefined): string | undefined {
  if (scope === undefined || scope.trim() === '') return undefined;
  const bare = !scope.includes(':');
  return (
    `warning: --scope '${scope}' may not cover pushes by digest (the child manifests of a multi-platform image have no tag)` +
    (bare ? `, and ACR reads a bare '${scope}' as '${scope}:latest'` : '') +
    '; rounds would wait on children nobody reports. Register with an empty scope unless you know this one covers them (docs/multi-platform.md).\n'
  );
}

export async function planCommand(o: WebhooksOptions): Promise<ExitCode> {
  const warning = scopeWarning(o.scope);
  if (warning) o.err(warning);
  const regions = o.regions ?? (await discoverRegions(armClient(o), armTarget(o)));
  const plan = planWebhooks(
    { apiUrl: o.apiUrl, token: '', ...(o.scope ? { scope: o.scope } : {}) },
    regions,
  );
  o.out('# Set ACR_GATE_WEBHOOK_TOKEN to one of the WEBHOOK_TOKENS of the function app first.\n');
  for (const line of toAzCliCommands(registryName(o.registry), plan)) o.out(`${line}\n`);
  return EXIT.ok;
}

export async function applyCommand(o: WebhooksOptions, api: ApiClient): Promise<ExitCode> {
  const warning = scopeWarning(o.scope);
  if (warning) o.err(warning);
  if (!o.webhookToken) {
    throw new CliError(
      'set ACR_GATE_WEBHOOK_TOKEN (or --webhook-token) to the token ACR should send',
      EXIT.usage,
    );
  }
  const result = await applyWebhooks(
    armClient(o),
    armTarget(o),
    { apiUrl: o.apiUrl, token: o.webhookToken, ...(o.scope ? { scope: o.scope } : {}) },
    o.regions,
  );
  for (const [what, names] of [
    ['created', result.created],
    ['updated', result.updated],
    ['unchanged', result.unchanged],
  ] as const) {
    if (names.length > 0) o.out(`${what.padEnd(10)} ${names.join(', ')}\n`);
  }
  if (o.setRegions) {
    await api.putRegions(loginServer(o.registry), result.regions);
    o.out(`required regions of ${loginServer(o.registry)}: ${result.regions.join(', ')}\n`);
  }
  return EXIT.ok;
}
