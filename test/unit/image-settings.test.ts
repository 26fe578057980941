// The settings of multi-platform images and region verification: names and defaults are a contract.
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/settings';

const base = {
  COSMOS_ENDPOINT: 'https://acct.documents.azure.com:443/',
  REPLICATION_REGIONS: 'westus,eastus',
  WEBHOOK_TOKENS: 'a-webhook-token-long-enough',
  ADMIN_TOKENS: 'an-admin-token-long-enough',
};

describe('image settings', () => {
  it('defaults to Entra ID, no verification, no attestations, and waiting on an unreadable index', () => {
    expect(loadSettings(base).images).toEqual({
      endpoints: {},
      regionalEndpoints: {},
      auth: 'entra',
      verifyRegions: false,
      requireAttestations: false,
      onUnreadableIndex: 'wait',
    });
  });

  it('reads every setting by its documented name', () => {
    const images = loadSettings({
      ...base,
      REGISTRY_ENDPOINTS:
        'contoso.azurecr.io=https://127.0.0.1:5443/, fabrikam.azurecr.io=https://localhost:5444',
      REGIONAL_ENDPOINTS: 'westus=https://127.0.0.1:6001,EastUS=https://127.0.0.1:6002',
      REGISTRY_AUTH: 'anonymous',
      VERIFY_REGIONS: 'true',
      REQUIRE_ATTESTATIONS: 'true',
      ON_UNREADABLE_INDEX: 'trust-index',
    }).images;
    expect(images).toEqual({
      endpoints: {
        'contoso.azurecr.io': 'https://127.0.0.1:5443',
        'fabrikam.azurecr.io': 'https://localhost:5444',
      },
      regionalEndpoints: { westus: 'https://127.0.0.1:6001', eastus: 'https://127.0.0.1:6002' },
      auth: 'anonymous',
      verifyRegions: true,
      requireAttestations: true,
      onUnreadableIndex: 'trust-index',
    });
  });

  it.each([
    ['REGISTRY_ENDPOINTS', 'contoso.azurecr.io=http://127.0.0.1:5000'],
    ['REGISTRY_ENDPOINTS', 'https://127.0.0.1:5000'],
    ['REGIONAL_ENDPOINTS', 'west us=https://127.0.0.1:1'],
    ['REGIONAL_ENDPOINTS', 'westus=http://westus.example'],
    ['REGISTRY_AUTH', 'basic'],
    ['VERIFY_REGIONS', 'yes'],
    ['REQUIRE_ATTESTATIONS', '1'],
    ['ON_UNREADABLE_INDEX', 'trust'],
  ])('refuses %s=%s, naming the setting', (name, value) => {
    expect(() => loadSettings({ ...base, [name]: value })).toThrow(
      new RegExp(`^invalid setting ${name}: `),
    );
  });
});
