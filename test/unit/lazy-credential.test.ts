// Entra ID credentials made on the first token asked for: @azure/identity is not needed before.
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { describe, expect, it } from 'vitest';
import { lazyCredential } from '../../src/util/lazy-credential';

describe('lazyCredential', () => {
  it('makes the credential on the first getToken, once, from @azure/identity, and asks it', async () => {
    const made: unknown[] = [];
    const asked: (string | string[])[] = [];
    const token: AccessToken = { token: 'a-token', expiresOnTimestamp: 1_900_000_000_000 };
    const inner: TokenCredential = {
      getToken: (scopes) => {
        asked.push(scopes);
        return Promise.resolve(token);
      },
    };
    const credential = lazyCredential((identity) => {
      made.push(identity.DefaultAzureCredential);
      return inner;
    });
    expect(made).toEqual([]);

    const [first, second] = await Promise.all([
      credential.getToken('https://cosmos.azure.com/.default'),
      credential.getToken(['https://containerregistry.azure.net/.default']),
    ]);
    expect(first).toBe(token);
    expect(second).toBe(token);
    expect(made).toHaveLength(1);
    expect(typeof made[0]).toBe('function');
    expect(asked).toEqual([
      'https://cosmos.azure.com/.default',
      ['https://containerregistry.azure.net/.default'],
    ]);
  });
});
