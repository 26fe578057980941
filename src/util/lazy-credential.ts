// An Entra ID credential whose SDK loads on the first token asked for, not when the app starts.
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import type * as Identity from '@azure/identity';

/**
 * `create` runs on the first `getToken`, with @azure/identity (and MSAL under it, about 0.3 MiB
 * bundled) loaded then: an instance that uses keys or anonymous reads never loads it, and one that
 * does pays it on its first Entra ID request instead of at every cold start.
 */
export function lazyCredential(
  create: (identity: typeof Identity) => TokenCredential,
): TokenCredential {
  let credential: Promise<TokenCredential> | undefined;
  return {
    async getToken(
      scopes: string | string[],
      options?: GetTokenOptions,
    ): Promise<AccessToken | null> {
      credential ??= import('@azure/identity').then(create);
      return (await credential).getToken(scopes, options);
    },
  };
}
