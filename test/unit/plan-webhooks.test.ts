// Planning the regional webhooks and printing their `az` commands: pure, nothing is sent to ARM.
import { describe, expect, it } from 'vitest';
import {
  planWebhooks,
  toAzCliCommands,
  type WebhookTarget,
} from '../../src/registration/plan-webhooks';

const HOOK_TOKEN = 'webhook-token-0123456789abcdef';
const API = 'https://gate.example.net/api/';

describe('planWebhooks and toAzCliCommands', () => {
  const target: WebhookTarget = { apiUrl: API, token: HOOK_TOKEN };

  it('plans one webhook per region: lower-cased, deduplicated, sorted', () => {
    expect(planWebhooks(target, ['WestUS', ' eastus ', 'westus'])).toEqual([
      {
        name: 'acrgateeastus',
        location: 'eastus',
        serviceUri: 'https://gate.example.net/api/webhooks/acr/eastus',
        actions: ['push', 'delete'],
        headers: { Authorization: `Bearer ${HOOK_TOKEN}` },
      },
      {
        name: 'acrgatewestus',
        location: 'westus',
        serviceUri: 'https://gate.example.net/api/webhooks/acr/westus',
        actions: ['push', 'delete'],
        headers: { Authorization: `Bearer ${HOOK_TOKEN}` },
      },
    ]);
  });

  it('prints az commands that reference the token instead of containing it', () => {
    const plan = planWebhooks(target, ['westus', 'eastus']);
    const commands = toAzCliCommands('contoso', plan);
    expect(commands).toEqual([
      'az acr webhook create --registry contoso --name acrgateeastus --location eastus' +
        ' --uri https://gate.example.net/api/webhooks/acr/eastus --actions push delete' +
        ' --headers "Authorization=Bearer $ACR_GATE_WEBHOOK_TOKEN"',
      'az acr webhook create --registry contoso --name acrgatewestus --location westus' +
        ' --uri https://gate.example.net/api/webhooks/acr/westus --actions push delete' +
        ' --headers "Authorization=Bearer $ACR_GATE_WEBHOOK_TOKEN"',
    ]);
    expect(commands.join('\n')).not.toContain(HOOK_TOKEN);
  });

  it('quotes the scope and uses the given token expression, prefix and actions', () => {
    const plan = planWebhooks(
      {
        apiUrl: 'https://gate.example.net/api',
        token: HOOK_TOKEN,
        scope: 'web/frontend:*',
        namePrefix: 'gate',
        actions: ['push', 'quarantine', 'push'],
      },
      ['canadacentral'],
    );
    const commands = toAzCliCommands(
      'contoso',
      plan,
      '$(az keyvault secret show --vault-name kv --name hook --query value -o tsv)',
    );
    expect(commands).toEqual([
      'az acr webhook create --registry contoso --name gatecanadacentral --location canadacentral' +
        ' --uri https://gate.example.net/api/webhooks/acr/canadacentral --actions push quarantine' +
        ' --headers "Authorization=Bearer $(az keyvault secret show --vault-name kv --name hook' +
        ` --query value -o tsv)" --scope 'web/frontend:*'`,
    ]);
    expect(commands.join('\n')).not.toContain(HOOK_TOKEN);
  });

  it('plans without a token when the plan is only printed', () => {
    const plan = planWebhooks({ apiUrl: API, token: '' }, ['westus']);
    expect(toAzCliCommands('contoso', plan)).toEqual([
      'az acr webhook create --registry contoso --name acrgatewestus --location westus' +
        ' --uri https://gate.example.net/api/webhooks/acr/westus --actions push delete' +
        ' --headers "Authorization=Bearer $ACR_GATE_WEBHOOK_TOKEN"',
    ]);
  });

  it('rejects what ACR or the app would refuse', () => {
    expect(() => planWebhooks({ ...target, token: 'short' }, ['westus'])).toThrow(/token/);
    expect(() => planWebhooks({ ...target, token: `${HOOK_TOKEN} x` }, ['westus'])).toThrow(
      /token/,
    );
    expect(() => planWebhooks({ ...target, namePrefix: 'acr-gate' }, ['westus'])).toThrow(
      /5-50 letters and digits/,
    );
    expect(() => planWebhooks(target, ['West US'])).toThrow(/region/);
    expect(() => planWebhooks({ ...target, apiUrl: 'gate.example.net/api' }, ['westus'])).toThrow(
      /absolute URL/,
    );
    const badAction = { ...target, actions: ['pull'] } as unknown as WebhookTarget;
    expect(() => planWebhooks(badAction, ['westus'])).toThrow(/unknown webhook action/);
    expect(() => toAzCliCommands('my-registry', [])).toThrow(/registry name/);
  });
});
