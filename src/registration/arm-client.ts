// An Azure Resource Manager client for the registry's replications and webhooks, and the credential it signs with.
import {
  ContainerRegistryManagementClient,
  type ContainerRegistryManagementClientOptionalParams,
} from '@azure/arm-containerregistry';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';

export interface ArmTarget {
  subscriptionId: string;
  resourceGroup: string;
  registryName: string;
}

/** Only the operation groups used here, so callers may pass a stand-in. */
export type ArmClient = Pick<ContainerRegistryManagementClient, 'replications' | 'webhooks'>;

/** A credential that always answers with the same token (CI-provided tokens, tests). */
function staticCredential(accessToken: string): TokenCredential {
  return {
    getToken: () =>
      Promise.resolve({ token: accessToken, expiresOnTimestamp: Date.now() + 3_600_000 }),
  };
}

export type PipelinePolicy = Parameters<
  ContainerRegistryManagementClient['pipeline']['addPolicy']
>[0];

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
export const canonicalLocation = (location: string | undefined): string =>
  (location ?? '').replace(/\s+/g, '').toLowerCase();
