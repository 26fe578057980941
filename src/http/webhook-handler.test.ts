// The ACR webhook handler called directly: HttpRequest in, HttpResponseInit out, in-memory store.
import { describe, expect, it } from 'vitest';
import { aDeleteEvent, aDigest, aPushEvent } from '../../test/support/fixtures';
import { call, expectProblem, handlerDeps, REGISTRY } from '../../test/support/handler-harness';
import { makeStatusHandler } from './replication-handlers';
import { makeAcrWebhookHandler } from './webhook-handler';

const post = (region: string, json: unknown, token = 'webhook') => ({
  url: `/api/webhooks/acr/${region}`,
  params: { region },
  token,
  json,
});

describe('POST /api/webhooks/acr/{region}', () => {
  it('stores a push before acknowledging it, and completes the round in the last region', async () => {
    const deps = handlerDeps();
    const handler = makeAcrWebhookHandler(deps);
    const digest = aDigest();
    const first = await call(handler, post('westus', aPushEvent({ digest })));
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({
      registry: REGISTRY,
      repository: 'public/products/web',
      tag: '1.2',
      digest,
      status: 'replicating',
    });
    const stored = await deps.store.tags.get({
      registry: REGISTRY,
      repository: 'public/products/web',
      tag: '1.2',
    });
    expect(stored?.record.evaluation.missingRegions).toEqual(['eastus']);
    const second = await call(handler, post('eastus', aPushEvent({ digest })));
    expect(second.body).toMatchObject({ status: 'replicated', digest });
    expect(second.logs.join('\n')).toMatch(/recorded, replicated, event /);
  });

  it('refuses a push stamped far ahead of the clock, which would pin the tag for good', async () => {
    const deps = handlerDeps();
    const handler = makeAcrWebhookHandler(deps);
    const poisoned = aPushEvent({ digest: aDigest(), timestamp: '9999-12-31T23:59:59Z' });
    const refused = expectProblem(await call(handler, post('westus', poisoned)), 400);
    expect(refused.errors).toEqual([expect.objectContaining({ field: 'timestamp' })]);
    const tag = { registry: REGISTRY, repository: 'public/products/web', tag: '1.2' };
    expect(await deps.store.tags.get(tag)).toBeUndefined();
    // A later real push of the tag is then free to complete.
    const digest = aDigest();
    const now = new Date().toISOString();
    await call(handler, post('westus', aPushEvent({ digest, timestamp: now })));
    const last = await call(handler, post('eastus', aPushEvent({ digest, timestamp: now })));
    expect(last.body).toMatchObject({ status: 'replicated', digest });
  });

  it('records a delete against every tag of the digest', async () => {
    const deps = handlerDeps({ defaultRegions: ['westus'] });
    const handler = makeAcrWebhookHandler(deps);
    const digest = aDigest();
    await call(handler, post('westus', aPushEvent({ digest, tag: 'a' })));
    await call(handler, post('westus', aPushEvent({ digest, tag: 'b' })));
    const answer = await call(handler, post('westus', aDeleteEvent({ digest })));
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ status: 'recorded', action: 'delete', digest });
    expect((answer.body.tags as { tag: string }[]).map((t) => t.tag).sort()).toEqual(['a', 'b']);
  });

  it('answers a ping and acknowledges an ignored action without storing anything', async () => {
    const deps = handlerDeps();
    const handler = makeAcrWebhookHandler(deps);
    const ping = await call(handler, post('westus', { ...aPushEvent(), action: 'ping' }));
    expect(ping.status).toBe(200);
    expect(ping.body).toEqual({ status: 'pong', region: 'westus' });
    const chart = await call(handler, post('westus', { ...aPushEvent(), action: 'chart_push' }));
    expect(chart.status).toBe(202);
    expect(chart.body).toMatchObject({ status: 'ignored', action: 'chart_push', region: 'westus' });
    expect(await deps.store.tags.anyInRegistry(REGISTRY)).toBe(false);
  });

  it('names the offending field of a bad payload in a 400 problem', async () => {
    const handler = makeAcrWebhookHandler(handlerDeps());
    const event = aPushEvent();
    (event.target as Record<string, unknown>).digest = 'sha256:short';
    const problem = expectProblem(await call(handler, post('westus', event)), 400);
    expect(problem.errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ field: 'target.digest' })]),
    );
    expect(problem.instance).toBe('/api/webhooks/acr/westus');
  });

  it('refuses a bad region, a non-JSON body, a body over the limit', async () => {
    const handler = makeAcrWebhookHandler({ ...handlerDeps(), maxBodyBytes: 1000 });
    const region = expectProblem(await call(handler, post('West US!', aPushEvent())), 400);
    expect(region.errors).toEqual([expect.objectContaining({ field: 'path.region' })]);
    const text = await call(handler, {
      url: '/api/webhooks/acr/westus',
      params: { region: 'westus' },
      token: 'webhook',
      headers: { 'content-type': 'text/plain' },
      rawBody: 'hello',
    });
    expectProblem(text, 415);
    const big = await call(handler, post('westus', { ...aPushEvent(), pad: 'x'.repeat(2000) }));
    expectProblem(big, 413);
  });

  it('takes only a webhook token: 401 without or with an unknown one, 403 for read and admin', async () => {
    const deps = handlerDeps();
    const handler = makeAcrWebhookHandler(deps);
    const none = expectProblem(
      await call(handler, { ...post('westus', aPushEvent()), token: undefined }),
      401,
    );
    expect(none.detail).toMatch(/bearer token/);
    expectProblem(await call(handler, post('westus', aPushEvent(), 'not-a-known-token')), 401);
    expectProblem(await call(handler, post('westus', aPushEvent(), 'read')), 403);
    expectProblem(await call(handler, post('westus', aPushEvent(), 'admin')), 403);
    expect(await deps.store.tags.anyInRegistry(REGISTRY)).toBe(false);
  });

  it('acknowledges nothing when the store is down: 503 with retry-after', async () => {
    const deps = handlerDeps();
    deps.store.setUnavailable(true);
    const answer = await call(makeAcrWebhookHandler(deps), post('westus', aPushEvent()));
    expectProblem(answer, 503);
    expect(answer.headers.get('retry-after')).toBe('5');
  });
});

describe('POST /api/webhooks/acr/{region} (moved down from test/e2e/webhooks.test.ts)', () => {
  const REGIONS = ['westus', 'eastus', 'canadacentral', 'westeurope'];
  const hook = (deps: ReturnType<typeof handlerDeps>, region: string, json: unknown) =>
    call(makeAcrWebhookHandler(deps), post(region, json));
  const status = (deps: ReturnType<typeof handlerDeps>, reference: string) =>
    call(makeStatusHandler(deps), {
      url: `/api/replications/${REGISTRY}/${reference}`,
      params: { registry: REGISTRY, reference },
      token: 'read',
    });

  it('marks a deleted manifest in the region that reported it', async () => {
    const deps = handlerDeps({ defaultRegions: REGIONS });
    const digest = aDigest();
    await hook(deps, 'westus', aPushEvent({ tag: 'doomed', digest }));
    const response = await hook(
      deps,
      'westus',
      aDeleteEvent({ digest, timestamp: '2026-03-14T12:00:00Z' }),
    );
    expect(response.status).toBe(202);
    const { body } = await status(deps, 'public/products/web:doomed');
    expect(body.status).toBe('deleted');
  });

  it('names the offending field of an invalid body in problem+json', async () => {
    const body = aPushEvent();
    (body.target as Record<string, unknown>).digest = 'md5:nope';
    const response = await hook(handlerDeps({ defaultRegions: REGIONS }), 'westus', body);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const problem = response.body as { detail: string; errors: { field: string }[] };
    expect(problem.detail).toMatch(/^target\.digest: /);
    expect(problem.errors[0]?.field).toBe('target.digest');
  });
});
