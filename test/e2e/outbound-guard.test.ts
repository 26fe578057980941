// With OUTBOUND_GUARD=on (the default in Azure), subscriptions cannot aim at loopback, private or metadata addresses.
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, useApp } from '../support/app-host';

const app = useApp({ OUTBOUND_GUARD: 'on' });

const subscribe = (url: string) =>
  app.call('/api/subscriptions', {
    method: 'POST',
    token: ADMIN_TOKEN,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url }),
  });

describe('subscriptions behind the outbound guard', () => {
  it.each([
    ['http://169.254.169.254/metadata/instance', /link-local/],
    ['http://127.0.0.1:9/hook', /loopback/],
    ['http://localhost:9/hook', /loopback/],
    ['http://[::ffff:10.0.0.5]/hook', /private/],
    ['http://[fd00:ec2::254]/latest', /private/],
    ['http://100.64.0.1/hook', /carrier-grade NAT/],
  ])('refuses %s with a 400 naming url', async (url, reason) => {
    const response = await subscribe(url);
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { errors: { field: string; detail: string }[] };
    expect(problem.errors[0]?.field).toBe('url');
    expect(problem.errors[0]?.detail).toMatch(reason);
  });

  it('lists none of them', async () => {
    const list = await app.call('/api/subscriptions', { token: ADMIN_TOKEN });
    expect(((await list.json()) as { subscriptions: unknown[] }).subscriptions).toEqual([]);
  });
});
