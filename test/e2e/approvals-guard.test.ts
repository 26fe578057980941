// With the outbound guard on, a PlanUrl on the allowlist that is a loopback address is still refused.
import { expect, it } from 'vitest';
import { useApp } from '../support/app-host';
import { aCheckHeaders, aDigest, aPushEvent } from '../support/fixtures';

const app = useApp({ OUTBOUND_GUARD: 'on', AZURE_PIPELINES_HOSTS: '127.0.0.1' });

it('refuses a loopback PlanUrl with a 400 naming it, and stores nothing', async () => {
  const repository = 'team/guarded';
  await app.post(
    '/api/webhooks/acr/westus',
    aPushEvent({ repository, tag: '1.0', digest: aDigest() }),
  );
  const response = await app.call('/api/azure-pipelines/checks', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...aCheckHeaders('http://127.0.0.1:9/org/'),
    },
    body: JSON.stringify({ image: `contoso.azurecr.io/${repository}:1.0` }),
  });
  expect(response.status).toBe(400);
  const problem = (await response.json()) as { errors: { field: string; detail: string }[] };
  expect(problem.errors[0]?.field).toBe('headers.PlanUrl');
  expect(await app.query("SELECT * FROM c WHERE c.type = 'approval'")).toEqual([]);
});
