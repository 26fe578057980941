// The subscription handlers called directly over the in-memory store.
import { describe, expect, it } from 'vitest';
import { call, expectProblem, handlerDeps, type Call } from '../../test/support/handler-harness';
import {
  makeCreateSubscriptionHandler,
  makeDeleteSubscriptionHandler,
  makeGetSubscriptionHandler,
  makeListSubscriptionsHandler,
} from './subscription-handlers';

const create = (json: unknown, token = 'admin'): Call => ({
  method: 'POST',
  url: '/api/subscriptions',
  token,
  json,
});
const byId = (method: string, id: string, token = 'admin'): Call => ({
  method,
  url: `/api/subscriptions/${id}`,
  params: { id },
  token,
});

describe('/api/subscriptions', () => {
  it('creates a subscription, shows its secret once, lists, reads and deletes it', async () => {
    const deps = handlerDeps();
    const created = await call(
      makeCreateSubscriptionHandler(deps),
      create({ url: 'https://hooks.example.com/acr', filter: { repository: 'team/**' } }),
    );
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect(created.headers.get('location')).toBe(`/api/subscriptions/${id}`);
    const secret = created.body.secret as string;
    expect(secret).toMatch(/^whsec_/);
    expect(created.logs.join('\n')).not.toContain(secret);

    const listed = await call(makeListSubscriptionsHandler(deps), {
      url: '/api/subscriptions',
      token: 'admin',
    });
    expect(listed.body.subscriptions).toEqual([
      expect.objectContaining({ id, url: 'https://hooks.example.com/acr' }),
    ]);
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    const one = await call(makeGetSubscriptionHandler(deps), byId('GET', id));
    expect(one.body).toMatchObject({ id, filter: { repository: 'team/**' } });
    expect(JSON.stringify(one.body)).not.toContain(secret);

    const deleted = await call(makeDeleteSubscriptionHandler(deps), byId('DELETE', id));
    expect(deleted.status).toBe(204);
    expectProblem(await call(makeDeleteSubscriptionHandler(deps), byId('DELETE', id)), 404);
    expectProblem(await call(makeGetSubscriptionHandler(deps), byId('GET', id)), 404);
  });

  it('names the field of a bad body: url, secret, headers, types; unknown fields too', async () => {
    const handler = makeCreateSubscriptionHandler(handlerDeps());
    const cases: [unknown, string][] = [
      [{ url: 'ftp://example.com' }, 'url'],
      [{ url: 'https://user:pw@example.com' }, 'url'],
      [{ url: 'https://example.com', secret: 'not-whsec-but-long-enough' }, 'secret'],
      [{ url: 'https://example.com', headers: { 'content-type': 'x' } }, 'headers'],
      [{ url: 'https://example.com', types: ['acrgate.other'] }, 'types.0'],
      [{ url: 'https://example.com', extra: 1 }, ''],
    ];
    for (const [body, field] of cases) {
      const problem = expectProblem(await call(handler, create(body)), 400);
      const fields = (problem.errors as { field: string }[]).map((e) => e.field);
      if (field === '') expect(problem.detail).toMatch(/extra/);
      else expect(fields).toContain(field);
    }
  });

  it('400s an id that is not a uuid, naming path.id', async () => {
    const problem = expectProblem(
      await call(makeGetSubscriptionHandler(handlerDeps()), byId('GET', 'nope')),
      400,
    );
    expect(problem.errors).toEqual([expect.objectContaining({ field: 'path.id' })]);
  });

  it('is for admins only: 403 for read and webhook tokens, 401 without', async () => {
    const deps = handlerDeps();
    const handler = makeCreateSubscriptionHandler(deps);
    for (const token of ['read', 'webhook']) {
      expectProblem(await call(handler, create({ url: 'https://example.com' }, token)), 403);
    }
    expectProblem(
      await call(makeListSubscriptionsHandler(deps), { url: '/api/subscriptions' }),
      401,
    );
    expect(await deps.store.subscriptions.list()).toEqual([]);
  });
});

describe('POST /api/subscriptions (moved down from test/e2e/events.test.ts)', () => {
  it('names the offending field of an invalid subscription', async () => {
    const response = await call(
      makeCreateSubscriptionHandler(handlerDeps()),
      create({ url: 'ftp://example.com', format: 'cloudevents' }),
    );
    expect(response.status).toBe(400);
    expect((response.body as { errors: { field: string }[] }).errors[0]?.field).toBe('url');
  });

  it('refuses a control character at creation, naming the header', async () => {
    const handler = makeCreateSubscriptionHandler(handlerDeps());
    for (const value of ['abc\u0000def', 'line\u000bbreak', 'caf\u0103']) {
      const response = await call(
        handler,
        create({ url: 'https://hooks.example.net/x', headers: { 'X-Api-Key': value } }),
      );
      expect(response.status).toBe(400);
      const problem = response.body as { errors: { field: string }[] };
      expect(problem.errors[0]?.field).toBe('headers.X-Api-Key');
    }
  });
});
