// Registers one ACR webhook per replica region through Azure Resource Manager, idempotently.
import type { Webhook } from '@azure/arm-containerregistry';
import { sameSet } from '../util/values';
import { canonicalLocation, type ArmClient, type ArmTarget } from './arm-client';
import { assertToken, planWebhooks, type WebhookTarget } from './plan-webhooks';

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
