// The dashboard handler called directly: rounds recorded through the webhook handler into the
// in-memory store, the page read back as the handler renders it.
import { describe, expect, it } from 'vitest';
import {
  call,
  expectProblem,
  handlerDeps,
  pushEverywhere,
  REGISTRY,
  TOKENS,
  type Call,
} from '../../test/support/handler-harness';
import { makeDashboardHandler } from './dashboard-handler';
import { makeCreateSubscriptionHandler } from './subscription-handlers';

const OTHER = 'fabrikam.azurecr.io';
const MARKUP = '/<script>alert(1)</script>';

const deps = () => ({ ...handlerDeps(), stallAfterMs: 30 * 60_000 });
type Deps = ReturnType<typeof deps>;

const page = (d: Deps, c: Partial<Call> & { url: string }) =>
  call(makeDashboardHandler(d), { token: 'read', ...c });
const registryPage = (d: Deps, registry: string, extra: Partial<Call> = {}) =>
  page(d, { url: `/api/dashboard/${registry}`, params: { registry }, ...extra });

describe('GET /api/dashboard[/{registry}]', () => {
  it('renders a registry page as script-free HTML that is never cached or framed', async () => {
    const d = deps();
    await pushEverywhere(d, { registry: REGISTRY, repository: 'web', tag: '1.0' });
    const answer = await registryPage(d, REGISTRY);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(answer.headers.get('content-security-policy')).toMatch(/^default-src 'none';/);
    expect(answer.headers.get('content-security-policy')).not.toContain('script-src');
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.headers.get('referrer-policy')).toBe('no-referrer');
    expect(answer.headers.get('x-frame-options')).toBe('DENY');
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
    expect(answer.text).toContain(REGISTRY);
    expect(answer.text).toContain('1.0');
    for (const region of d.defaultRegions) expect(answer.text).toContain(region);
    expect(answer.text).not.toMatch(/<script|\son\w+=/i);
    // A token sent in the header stays out of the links.
    expect(answer.text).toContain('href="/api/dashboard"');
    expect(answer.text).not.toContain(TOKENS.read);
  });

  // Moved down from test/e2e/dashboard.test.ts.
  it('lists the registries with recent events on the index page', async () => {
    const d = deps();
    await pushEverywhere(d, { registry: REGISTRY, repository: 'web', tag: '1.0' });
    await pushEverywhere(d, { registry: OTHER, repository: 'web', tag: '2.0' });
    const index = await page(d, { url: '/api/dashboard' });
    expect(index.status).toBe(200);
    expect(index.text).toContain(`href="/api/dashboard/${REGISTRY}"`);
    expect(index.text).toContain(`href="/api/dashboard/${OTHER}"`);
    const empty = await page(deps(), { url: '/api/dashboard' });
    expect(empty.text).not.toContain(`href="/api/dashboard/${REGISTRY}"`);
  });

  // Moved down from test/e2e/dashboard.test.ts.
  it('sends ?registry= on to the registry page with 303, the token too when it came in the URL', async () => {
    const d = deps();
    const byHeader = await page(d, { url: `/api/dashboard?registry=${REGISTRY}` });
    expect(byHeader.status).toBe(303);
    expect(byHeader.headers.get('location')).toBe(`/api/dashboard/${REGISTRY}`);
    const byQuery = await page(d, {
      url: `/api/dashboard?registry=${REGISTRY}&token=${TOKENS.read}`,
      token: undefined,
    });
    expect(byQuery.headers.get('location')).toBe(`/api/dashboard/${REGISTRY}?token=${TOKENS.read}`);
  });

  it('takes the token as ?token= for browsers, and carries it on in the links', async () => {
    const d = deps();
    const answer = await registryPage(d, REGISTRY, {
      url: `/api/dashboard/${REGISTRY}?token=${TOKENS.read}`,
      token: undefined,
    });
    expect(answer.status).toBe(200);
    expect(answer.text).toContain(`href="/api/dashboard?token=${TOKENS.read}"`);
    // The header wins when both come: a wrong header is refused whatever the URL holds.
    const both = await registryPage(d, REGISTRY, {
      url: `/api/dashboard/${REGISTRY}?token=${TOKENS.read}`,
      token: 'not-a-token-0123456789',
    });
    expectProblem(both, 401);
  });

  it('refuses no token, an unknown one, and a webhook token in the header or the URL', async () => {
    const d = deps();
    expectProblem(await registryPage(d, REGISTRY, { token: undefined }), 401);
    expectProblem(
      await registryPage(d, REGISTRY, {
        url: `/api/dashboard/${REGISTRY}?token=not-a-token-0123456789`,
        token: undefined,
      }),
      401,
    );
    const webhook = expectProblem(await registryPage(d, REGISTRY, { token: 'webhook' }), 403);
    expect(webhook.detail).toMatch(/read or admin token/);
    expectProblem(
      await registryPage(d, REGISTRY, {
        url: `/api/dashboard/${REGISTRY}?token=${TOKENS.webhook}`,
        token: undefined,
      }),
      403,
    );
  });

  it('names a bad registry in the path or the query', async () => {
    const d = deps();
    const path = expectProblem(await registryPage(d, 'bad_registry'), 400);
    expect(path.errors).toEqual([expect.objectContaining({ field: 'path.registry' })]);
    const query = expectProblem(
      await page(d, { url: '/api/dashboard?registry=bad_registry' }),
      400,
    );
    expect(query.errors).toEqual([expect.objectContaining({ field: 'query.registry' })]);
  });

  it('shows subscription URLs to admins only, and markup in them as text', async () => {
    const d = deps();
    const created = await call(makeCreateSubscriptionHandler(d), {
      url: '/api/subscriptions',
      token: 'admin',
      json: { url: `http://127.0.0.1:9/hook${MARKUP}`, filter: { registry: REGISTRY } },
    });
    expect(created.status).toBe(201);
    await pushEverywhere(d, { registry: REGISTRY, repository: 'web', tag: '1.0' });
    const admin = await registryPage(d, REGISTRY, { token: 'admin' });
    expect(admin.text).toContain('/hook/&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(admin.text).not.toContain('<script>');
    const reader = await registryPage(d, REGISTRY);
    expect(reader.text).not.toContain('alert(1)');
    expect(reader.text).toContain(String(created.body.id).slice(0, 8));
  });

  it('answers 503 when the store is down', async () => {
    const d = deps();
    d.store.setUnavailable(true);
    expectProblem(await registryPage(d, REGISTRY), 503);
  });
});
