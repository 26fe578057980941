// Events the gate does not count are acknowledged (202): ACR logs every non-2xx as a failure.
import { describe, expect, it } from 'vitest';
import { useApp } from '../support/app-host';

const app = useApp();

/** The quarantine sample of ACR's webhook reference, as published (placeholder host, short digest). */
const docsQuarantineSample = {
  id: '0d799b14-404b-4859-b2f6-50c5ee2a2c3a',
  timestamp: '2018-02-01T11:11:11.123456789Z',
  action: 'quarantine',
  target: {
    size: 1791,
    digest: 'sha256:91ef6',
    length: 1791,
    repository: 'hello-world',
    tag: 'latest',
  },
  request: {
    id: '978fc988-zzz-yyyy-xxxx-4f6e331d1591',
    host: '[registry].azurecr.io',
    method: 'PUT',
  },
};

describe('ignored kinds', () => {
  it("answers the docs' own quarantine sample 202 ignored", async () => {
    const response = await app.post('/api/webhooks/acr/westus', docsQuarantineSample);
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({
      status: 'ignored',
      action: 'quarantine',
      reason: 'quarantine events are not counted as arrivals',
      region: 'westus',
    });
  });

  it('answers a chart event 202 ignored whatever else it carries', async () => {
    const response = await app.post('/api/webhooks/acr/eastus', {
      action: 'chart_push',
      target: { name: 'c', version: '1.0.0' },
    });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ status: 'ignored', action: 'chart_push' });
  });

  it('still refuses a push that does not validate, naming the field', async () => {
    const response = await app.post('/api/webhooks/acr/eastus', {
      ...docsQuarantineSample,
      action: 'push',
    });
    expect(response.status).toBe(400);
    expect(JSON.stringify(await response.json())).toContain('request.host');
  });
});
