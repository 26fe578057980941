// The GitHub handlers called directly: the environment mapping (admin route) and the App's signed
// deployment_protection_rule webhook, answered over HTTP to a loopback stand-in of GitHub's API.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalHandlerDeps } from '../../test/support/approval-harness';
import {
  aProtectionRuleEvent,
  signBody,
  startFakeGithub,
  type FakeGithub,
} from '../../test/support/fake-github';
import {
  call,
  expectProblem,
  pushEverywhere,
  REGISTRY,
  type Call,
} from '../../test/support/handler-harness';
import {
  makeGithubProtectionRuleHandler,
  makePutGithubEnvironmentHandler,
} from './github-handlers';

const OWNER = 'Contoso';
const REPO = 'web';

let github: FakeGithub;
beforeAll(async () => {
  github = await startFakeGithub();
});
afterAll(async () => {
  await github?.close();
});

const deps = () =>
  approvalHandlerDeps({
    github: {
      appId: github.appId,
      privateKey: github.privateKey,
      webhookSecret: github.webhookSecret,
      apiUrl: github.apiUrl,
    },
  });
type Deps = ReturnType<typeof deps>;

const mapCall = (environment: string, json: unknown, token = 'admin'): Call => ({
  method: 'PUT',
  url: `/api/github/environments/${OWNER}/${REPO}/${encodeURIComponent(environment)}`,
  params: { owner: OWNER, repo: REPO, environment },
  token,
  json,
});
const mapEnvironment = (d: Deps, environment: string, json: unknown, token?: string) =>
  call(makePutGithubEnvironmentHandler(d), mapCall(environment, json, token));

/** A webhook as GitHub sends it: the raw body, signed unless `signature` says otherwise. */
function deliver(
  d: Deps,
  payload: unknown,
  options: { signature?: string | null; event?: string; rawBody?: string } = {},
) {
  const body = options.rawBody ?? JSON.stringify(payload);
  const signature =
    options.signature === undefined ? signBody(github.webhookSecret, body) : options.signature;
  return call(makeGithubProtectionRuleHandler(d), {
    method: 'POST',
    url: '/api/github/deployment-protection-rule',
    rawBody: body,
    headers: {
      'content-type': 'application/json',
      'x-github-event': options.event ?? 'deployment_protection_rule',
      'x-github-delivery': randomUUID(),
      ...(signature === null ? {} : { 'x-hub-signature-256': signature }),
    },
  });
}

const anEvent = (environment: string, extra: { ref?: string } = {}) =>
  aProtectionRuleEvent({
    apiUrl: github.apiUrl,
    owner: OWNER,
    repo: REPO,
    environment,
    sha: randomBytes(20).toString('hex'),
    ...extra,
  });
const callbacksOf = (payload: Record<string, unknown>) => {
  const path = new URL(payload.deployment_callback_url as string).pathname;
  return github.callbacks().filter((c) => c.path === path);
};

describe('PUT /api/github/environments/{owner}/{repo}/{environment}', () => {
  it('stores the image template and its regions (sorted, once each) for an admin', async () => {
    const d = deps();
    const answer = await mapEnvironment(d, 'production', {
      image: `${REGISTRY}/gh/web:{sha}`,
      regions: ['westus', 'eastus', 'westus'],
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      owner: OWNER,
      repo: REPO,
      environment: 'production',
      image: `${REGISTRY}/gh/web:{sha}`,
      regions: ['eastus', 'westus'],
    });
    expect(await d.store.githubEnvironments.get(OWNER, REPO, 'production')).toMatchObject({
      regions: ['eastus', 'westus'],
    });
    const unscoped = await mapEnvironment(d, 'staging', { image: `${REGISTRY}/gh/web:{ref}` });
    expect(unscoped.body.regions).toBeNull();
  });

  // Moved down from test/e2e/approvals.test.ts.
  it('takes an admin token only', async () => {
    const d = deps();
    const body = { image: `${REGISTRY}/gh/web:{sha}` };
    expectProblem(await mapEnvironment(d, 'production', body, 'read'), 403);
    expectProblem(await mapEnvironment(d, 'production', body, 'webhook'), 403);
    expectProblem(await mapEnvironment(d, 'production', body, 'not-a-token-0123456789'), 401);
    expect(await d.store.githubEnvironments.get(OWNER, REPO, 'production')).toBeUndefined();
  });

  it('names the offending field of the path or the body', async () => {
    const d = deps();
    const cases: [unknown, string][] = [
      [{ image: `${REGISTRY}/gh/web:{branch}` }, 'image'],
      [{ image: 'web:{sha}' }, 'image'],
      [{ image: `${REGISTRY}/gh/web:{sha}`, regions: ['West US'] }, 'regions.0'],
      [{ image: `${REGISTRY}/gh/web:{sha}`, regions: [] }, 'regions'],
      [{ image: `${REGISTRY}/gh/web:{sha}`, extra: 1 }, '(body)'],
      [{}, 'image'],
    ];
    for (const [body, field] of cases) {
      const problem = expectProblem(await mapEnvironment(d, 'production', body), 400);
      expect(problem.errors, field).toEqual(
        expect.arrayContaining([expect.objectContaining({ field })]),
      );
    }
    const owner = await call(makePutGithubEnvironmentHandler(d), {
      ...mapCall('production', { image: `${REGISTRY}/gh/web:{sha}` }),
      params: { owner: '-bad owner', repo: REPO, environment: 'production' },
    });
    expect(expectProblem(owner, 400).errors).toEqual([
      expect.objectContaining({ field: 'path.owner' }),
    ]);
    expect(await d.store.githubEnvironments.get(OWNER, REPO, 'production')).toBeUndefined();
  });
});

describe('POST /api/github/deployment-protection-rule', () => {
  it('opens an approval for the mapped image and approves it through the callback URL once replicated', async () => {
    const d = deps();
    const repository = 'gh/approve';
    const payload = anEvent('production');
    const sha = (payload.deployment as { sha: string }).sha;
    await pushEverywhere(d, { repository, tag: sha });
    await mapEnvironment(d, 'production', { image: `${REGISTRY}/${repository}:{sha}` });
    const answer = await deliver(d, payload);
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({
      outcome: 'waiting',
      image: `${REGISTRY}/${repository}:${sha}`,
    });
    expect(answer.body.id).toMatch(/^gh-[0-9a-f]{32}$/);
    await d.settled();
    const [approval, ...more] = callbacksOf(payload);
    expect(more).toEqual([]);
    expect(JSON.parse(approval?.body ?? '')).toMatchObject({
      environment_name: 'production',
      state: 'approved',
    });
    expect(approval?.headers.authorization).toMatch(/^Bearer ghs_/);
    expect(github.badJwts).toEqual([]);

    // A redelivered webhook is the same approval.
    const again = await deliver(d, payload);
    expect(again.body.id).toBe(answer.body.id);
    expect(again.logs.join('\n')).toMatch(/\(redelivered\)/);
    await d.settled();
    expect(callbacksOf(payload).filter((c) => c.body.includes('"state"'))).toHaveLength(1);
  });

  it('fills {ref} with the last name of the deployment ref, made tag-safe', async () => {
    const d = deps();
    await mapEnvironment(d, 'prod-eu', { image: `${REGISTRY}/gh/ref:{ref}` });
    const answer = await deliver(d, anEvent('prod-eu', { ref: 'refs/heads/release/1' }));
    expect(answer.body).toMatchObject({ image: `${REGISTRY}/gh/ref:release-1` });
    // Not pushed yet: it waits.
    expect(await d.settled()).toEqual(['waiting']);
  });

  // Moved down from test/e2e/approvals.test.ts.
  it('says so, and opens nothing, when no image is mapped to the environment', async () => {
    const d = deps();
    const payload = anEvent('unmapped-env');
    const answer = await deliver(d, payload);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ outcome: 'unmapped' });
    expect(answer.body.detail).toContain('unmapped-env');
    expect(answer.logs.join('\n')).toMatch(/no image is configured/);
    expect(d.advancing).toEqual([]);
  });

  // Moved down from test/e2e/approvals.test.ts.
  it('acknowledges other events and actions without acting', async () => {
    const d = deps();
    const ping = await deliver(
      d,
      { zen: 'Keep it logically awesome.', hook_id: 1 },
      { event: 'ping' },
    );
    expect(ping.body).toMatchObject({ outcome: 'ignored', detail: 'ping is not handled here' });
    const completed = await deliver(d, { ...anEvent('production'), action: 'completed' });
    expect(completed.body).toMatchObject({ outcome: 'ignored' });
    expect(d.advancing).toEqual([]);
  });

  // Moved down from test/e2e/approvals.test.ts.
  it('answers 401 to a missing, wrong or malformed signature before reading the body', async () => {
    const d = deps();
    await mapEnvironment(d, 'production', { image: `${REGISTRY}/gh/web:{sha}` });
    const payload = anEvent('production');
    for (const signature of [
      null,
      signBody('another-secret-0123456789', JSON.stringify(payload)),
      'sha256=nothex',
    ]) {
      expectProblem(await deliver(d, payload, { signature }), 401);
    }
    // Signed over other bytes than those sent.
    const tampered = await deliver(d, payload, {
      signature: signBody(github.webhookSecret, JSON.stringify({ ...payload, environment: 'x' })),
    });
    expectProblem(tampered, 401);
    // Not even malformed JSON is looked at unsigned.
    expectProblem(await deliver(d, undefined, { rawBody: '{', signature: null }), 401);
    expect(d.advancing).toEqual([]);
  });

  it('names the offending field of a signed but invalid payload', async () => {
    const d = deps();
    await mapEnvironment(d, 'production', { image: `${REGISTRY}/gh/web:{sha}` });
    const malformed = expectProblem(await deliver(d, undefined, { rawBody: '{' }), 400);
    expect(malformed.errors).toEqual([expect.objectContaining({ field: '(body)' })]);
    const noInstallation = { ...anEvent('production'), installation: { id: 'x' } };
    expect(expectProblem(await deliver(d, noInstallation), 400).errors).toEqual([
      expect.objectContaining({ field: 'installation.id' }),
    ]);
    const elsewhere = {
      ...anEvent('production'),
      deployment_callback_url:
        'https://evil.example/repos/Contoso/web/actions/runs/1/deployment_protection_rule',
    };
    expect(expectProblem(await deliver(d, elsewhere), 400).errors).toEqual([
      expect.objectContaining({ field: 'deployment_callback_url' }),
    ]);
    // {sha} of a deployment without one leaves no valid tag.
    const { deployment: _deployment, ...noSha } = anEvent('production');
    expect(expectProblem(await deliver(d, noSha), 400).errors).toEqual([
      expect.objectContaining({ field: 'deployment' }),
    ]);
    expect(d.advancing).toEqual([]);
  });

  it('answers 404 while the GitHub App is not configured', async () => {
    const d = { ...deps(), app: undefined };
    const problem = expectProblem(await deliver(d, anEvent('production')), 404);
    expect(problem.detail).toMatch(/GITHUB_APP_ID/);
  });

  it('refuses a body over the limit with 413', async () => {
    const d = deps();
    const big = { ...anEvent('production'), pad: 'x'.repeat(1024 * 1024) };
    expectProblem(await deliver(d, big), 413);
  });
});
