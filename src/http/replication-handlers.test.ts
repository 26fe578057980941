// The status, wait and list handlers called directly over the in-memory store.
import { describe, expect, it } from 'vitest';
import { aDigest, aPushEvent } from '../../test/support/fixtures';
import {
  call,
  expectProblem,
  handlerDeps,
  REGISTRY,
  type Call,
} from '../../test/support/handler-harness';
import { makeListHandler, makeStatusHandler } from './replication-handlers';
import { makeAcrWebhookHandler } from './webhook-handler';

type Deps = ReturnType<typeof handlerDeps>;

/** Records a push the way it arrives: through the webhook handler. */
async function push(deps: Deps, region: string, options: Parameters<typeof aPushEvent>[0] = {}) {
  const answer = await call(makeAcrWebhookHandler(deps), {
    url: `/api/webhooks/acr/${region}`,
    params: { region },
    token: 'webhook',
    json: aPushEvent(options),
  });
  expect(answer.status).toBe(202);
}

const status = (reference: string, query = ''): Call => ({
  url: `/api/replications/${REGISTRY}/${reference}${query}`,
  params: { registry: REGISTRY, reference },
  token: 'read',
});

describe('GET /api/replications/{registry}/{*reference}', () => {
  it('answers the status of a tag and of a digest, with a read or an admin token', async () => {
    const deps = handlerDeps();
    const digest = aDigest();
    await push(deps, 'westus', { repository: 'team/api', digest });
    const handler = makeStatusHandler(deps);
    const byTag = await call(handler, status('team/api:1.2'));
    expect(byTag.status).toBe(200);
    // Without ?wait a round still open is a wait that timed out at once.
    expect(byTag.headers.get('x-acr-gate-wait')).toBe('timeout');
    expect(byTag.body).toMatchObject({
      status: 'replicating',
      digest,
      missingRegions: ['eastus'],
    });
    const byDigest = await call(handler, { ...status(`team/api@${digest}`), token: 'admin' });
    expect(byDigest.body).toMatchObject({ tag: '1.2', digest });
  });

  it('404s a tag never seen, 400s a malformed reference naming path.reference', async () => {
    const handler = makeStatusHandler(handlerDeps());
    const missing = expectProblem(await call(handler, status('team/api:none')), 404);
    expect(missing.detail).toBe(`no arrival of ${REGISTRY}/team/api:none has been recorded`);
    const bad = expectProblem(await call(handler, status('Team/API')), 400);
    expect(bad.errors).toEqual([expect.objectContaining({ field: 'path.reference' })]);
  });

  it('scopes the status to ?regions and refuses a region the registry does not have', async () => {
    const deps = handlerDeps();
    await push(deps, 'westus', { repository: 'team/api' });
    const handler = makeStatusHandler(deps);
    const scoped = await call(handler, status('team/api:1.2', '?regions=westus'));
    expect(scoped.status).toBe(200);
    expect(scoped.body).toMatchObject({ status: 'replicated' });
    const unknown = expectProblem(
      await call(handler, status('team/api:1.2', '?regions=westus,mars')),
      400,
    );
    expect(unknown).toMatchObject({
      errors: [{ field: 'query.regions' }],
      unknownRegions: ['mars'],
    });
  });

  it('long-polls with ?wait until the last region arrives', async () => {
    const deps = handlerDeps();
    const digest = aDigest();
    await push(deps, 'westus', { repository: 'team/api', digest });
    const waiting = call(makeStatusHandler(deps), status('team/api:1.2', '?wait=30'));
    await push(deps, 'eastus', { repository: 'team/api', digest });
    const answer = await waiting;
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-acr-gate-wait')).toBe('settled');
    expect(answer.body).toMatchObject({ status: 'replicated', digest });
  });

  it('never answers replicated for a ?digest no region has reported yet (the tag is still at the old one)', async () => {
    const deps = handlerDeps();
    const [old, pushed] = [aDigest(), aDigest()];
    await push(deps, 'westus', { repository: 'team/api', digest: old });
    await push(deps, 'eastus', { repository: 'team/api', digest: old });
    const answer = await call(makeStatusHandler(deps), status('team/api:1.2', `?digest=${pushed}`));
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-acr-gate-wait')).toBe('timeout');
    expect(answer.body).toMatchObject({
      digest: pushed,
      status: 'replicating',
      missingRegions: ['eastus', 'westus'],
      replicatedAt: null,
      regions: [
        { region: 'eastus', status: 'stale', digest: old },
        { region: 'westus', status: 'stale', digest: old },
      ],
    });
  });

  it('answers 409 when the tag moved past the ?digest waited for', async () => {
    const deps = handlerDeps();
    const [old, now] = [aDigest(), aDigest()];
    await push(deps, 'westus', { repository: 'team/api', digest: old });
    await push(deps, 'westus', {
      repository: 'team/api',
      digest: now,
      timestamp: '2026-03-14T10:00:00Z',
    });
    const moved = expectProblem(
      await call(makeStatusHandler(deps), status('team/api:1.2', `?digest=${old}`)),
      409,
    );
    expect(moved).toMatchObject({ title: 'Digest moved', digest: now });
  });

  it('refuses ?wait over the limit and a malformed ?digest, naming the field', async () => {
    const handler = makeStatusHandler(handlerDeps());
    const wait = expectProblem(await call(handler, status('team/api:1.2', '?wait=9999')), 400);
    expect(wait.errors).toEqual([expect.objectContaining({ field: 'query.wait' })]);
    const digest = expectProblem(await call(handler, status('team/api:1.2', '?digest=md5:1')), 400);
    expect(digest.errors).toEqual([expect.objectContaining({ field: 'query.digest' })]);
  });

  it('401 without a token; 403 for a webhook token', async () => {
    const handler = makeStatusHandler(handlerDeps());
    const none = expectProblem(await call(handler, { ...status('a:1'), token: undefined }), 401);
    expect(none).toMatchObject({ type: 'urn:acr-replication-gate:problem:unauthorized' });
    expectProblem(await call(handler, { ...status('a:1'), token: 'webhook' }), 403);
  });
});

describe('GET /api/replications/{registry}', () => {
  const list = (query = ''): Call => ({
    url: `/api/replications/${REGISTRY}${query}`,
    params: { registry: REGISTRY },
    token: 'read',
  });

  it('pages through the tags of a registry, filtered by status', async () => {
    const deps = handlerDeps({ defaultRegions: ['westus'] });
    for (const tag of ['a', 'b', 'c']) await push(deps, 'westus', { tag });
    await push(deps, 'eastus', { tag: 'd', registry: 'other.azurecr.io' });
    const handler = makeListHandler(deps);
    const seen: string[] = [];
    let token: string | null = null;
    do {
      const query: string = `?pageSize=2${token === null ? '' : `&continuationToken=${encodeURIComponent(token)}`}`;
      const page = await call(handler, list(query));
      expect(page.status).toBe(200);
      expect(page.body.registry).toBe(REGISTRY);
      seen.push(...(page.body.items as { tag: string }[]).map((i) => i.tag));
      token = page.body.continuationToken as string | null;
    } while (token !== null);
    expect(seen.sort()).toEqual(['a', 'b', 'c']);
    const deleted = await call(handler, list('?status=deleted'));
    expect(deleted.body.items).toEqual([]);
  });

  it('400s a continuation token it did not issue and a bad pageSize', async () => {
    const handler = makeListHandler(handlerDeps());
    const token = expectProblem(
      await call(handler, list('?continuationToken=%7B%22a%22%3A1%7D')),
      400,
    );
    expect(token.errors).toEqual([expect.objectContaining({ field: 'query.continuationToken' })]);
    const size = expectProblem(await call(handler, list('?pageSize=0')), 400);
    expect(size.errors).toEqual([expect.objectContaining({ field: 'query.pageSize' })]);
  });
});

describe('GET /api/replications (moved down from test/e2e/webhooks.test.ts)', () => {
  const REGIONS = ['westus', 'eastus', 'canadacentral', 'westeurope'];
  const hook = (deps: Deps, region: string, options: Parameters<typeof aPushEvent>[0]) =>
    push(deps, region, options);
  const read = async (deps: Deps, reference: string) => {
    const response = await call(makeStatusHandler(deps), status(reference));
    return { response, body: response.body };
  };

  it('reads a tag of a repository with slashes, and by digest', async () => {
    const deps = handlerDeps({ defaultRegions: REGIONS });
    const digest = aDigest();
    await hook(deps, 'eastus', { repository: 'team/app/api', tag: '2.0', digest });
    const byTag = await read(deps, 'team/app/api:2.0');
    expect(byTag.response.status).toBe(200);
    expect(byTag.body).toMatchObject({ repository: 'team/app/api', tag: '2.0', digest });
    const byDigest = await read(deps, `team/app/api@${digest}`);
    expect(byDigest.body).toMatchObject({ repository: 'team/app/api', tag: '2.0', digest });
  });

  it('answers 404 problem+json for an unknown tag and 400 for a malformed reference', async () => {
    const deps = handlerDeps({ defaultRegions: REGIONS });
    const unknown = await read(deps, 'team/app/api:never-pushed');
    expect(unknown.response.status).toBe(404);
    expect(unknown.response.headers.get('content-type')).toBe('application/problem+json');
    const malformed = await read(deps, 'team/app/api');
    expect(malformed.response.status).toBe(400);
    expect(malformed.body.detail).toMatch(/reference/);
  });

  it('lists tags in pages with continuation tokens', async () => {
    const deps = handlerDeps({ defaultRegions: REGIONS });
    for (let i = 0; i < 5; i++)
      await hook(deps, 'westus', { repository: 'paged/repo', tag: `t${i}` });
    const seen: string[] = [];
    let token: string | null = null;
    do {
      const query = new URLSearchParams({ repository: 'paged/repo', pageSize: '2' });
      if (token) query.set('continuationToken', token);
      const response = await call(makeListHandler(deps), {
        url: `/api/replications/${REGISTRY}?${query.toString()}`,
        params: { registry: REGISTRY },
        token: 'read',
      });
      expect(response.status).toBe(200);
      const page = response.body as { items: { tag: string }[]; continuationToken: string | null };
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((i) => i.tag));
      token = page.continuationToken;
    } while (token);
    expect(seen.sort()).toEqual(['t0', 't1', 't2', 't3', 't4']);
  });
});
