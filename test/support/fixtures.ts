// Test data builders: realistic ACR payloads with fresh values, overridable per test.
import { randomBytes, randomUUID } from 'node:crypto';

export const aDigest = (): string => `sha256:${randomBytes(32).toString('hex')}`;

export interface PushOptions {
  registry?: string;
  repository?: string;
  tag?: string | undefined;
  digest?: string;
  timestamp?: string;
  action?: 'push' | 'delete' | 'quarantine';
}

/** A push event exactly as ACR sends it (see shared/reference/acr-webhooks.md). */
export function aPushEvent(options: PushOptions = {}): Record<string, unknown> {
  const target: Record<string, unknown> = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    size: 1042,
    length: 1042,
    digest: options.digest ?? aDigest(),
    repository: options.repository ?? 'public/products/web',
  };
  if (!('tag' in options) || options.tag !== undefined) target.tag = options.tag ?? '1.2';
  return {
    id: randomUUID(),
    timestamp: options.timestamp ?? '2026-03-14T09:26:53.589793238Z',
    action: options.action ?? 'push',
    target,
    request: {
      id: randomUUID(),
      host: options.registry ?? 'contoso.azurecr.io',
      method: 'PUT',
      useragent: 'docker/27.0.3 go/go1.21.11 os/linux arch/amd64',
    },
  };
}

/** A delete event: by digest, with no tag, as ACR sends it when a manifest is deleted. */
export function aDeleteEvent(
  options: Omit<PushOptions, 'tag' | 'action'> = {},
): Record<string, unknown> {
  const event = aPushEvent({ ...options, action: 'delete' });
  const target = event.target as Record<string, unknown>;
  delete target.tag;
  delete target.size;
  delete target.length;
  event.request = { ...(event.request as object), method: 'DELETE' };
  return event;
}

/** All orderings of a list (used with 4 regions: 24 orders). */
export function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [items.slice()];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}
