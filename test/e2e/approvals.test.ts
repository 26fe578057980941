// Azure Pipelines checks (Callback mode) and GitHub deployment protection rules, against loopback stand-ins.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, REGIONS, useApp, READ_TOKEN } from '../support/app-host';
import {
  aProtectionRuleEvent,
  githubAppSettings,
  signBody,
  startFakeGithub,
  type FakeGithub,
} from '../support/fake-github';
import { aCheckHeaders, aDeleteEvent, aDigest, aPushEvent } from '../support/fixtures';
import { startReceiver, type Receiver, type Script } from '../support/receiver';

const REGISTRY = 'contoso.azurecr.io';
let github: FakeGithub;
const receivers: Receiver[] = [];

beforeAll(async () => {
  github = await startFakeGithub();
});
afterAll(async () => {
  for (const r of receivers) await r.close();
  await github?.close();
});
const app = useApp(() => ({
  AZURE_PIPELINES_HOSTS: '127.0.0.1,dev.azure.com,*.visualstudio.com',
  DELIVERY_RETRY_SCHEDULE: '50ms,50ms,50ms,50ms',
  DELIVERY_TIMEOUT_MS: '2000',
  ...githubAppSettings(github),
}));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `done` holds, running the approvals timer between looks when asked. */
async function until(done: () => boolean | Promise<boolean>, options: { timer?: boolean } = {}) {
  for (let i = 0; i < 300 && !(await done()); i++) {
    await sleep(50);
    if (options.timer) await app.host.runTimer('resumeApprovals');
  }
  expect(await done()).toBe(true);
}

async function azureDevOps(script?: Script): Promise<Receiver> {
  const r = await startReceiver(script);
  receivers.push(r);
  return r;
}

const push = (region: string, repository: string, tag: string, digest: string, second = 0) =>
  app.post(
    `/api/webhooks/acr/${region}`,
    aPushEvent({ repository, tag, digest, timestamp: `2026-03-14T09:00:0${second}.5Z` }),
  );

interface CheckIds {
  PlanUrl: string;
  ProjectId: string;
  HubName: string;
  PlanId: string;
  JobId: string;
  TimelineId: string;
  TaskInstanceId: string;
  AuthToken: string;
}

const checkHeaders = (stand: Receiver): CheckIds =>
  // $(system.CollectionUri) ends with a slash.
  aCheckHeaders(
    stand.url.replace(/hook$/, 'contoso/'),
    `eyJ0eXAiOiJKV1Qi.${randomBytes(24).toString('base64url')}`,
  );

const check = (headers: Partial<CheckIds>, body: unknown, token: string | null = READ_TOKEN) =>
  app.call('/api/azure-pipelines/checks', {
    method: 'POST',
    token,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

const approvalDocs = () =>
  app.query<Record<string, unknown>>("SELECT * FROM c WHERE c.type = 'approval'");

describe('Azure Pipelines check in Callback mode', () => {
  it('posts TaskCompleted (succeeded) with the exact body and headers once the image is replicated', async () => {
    const stand = await azureDevOps();
    const repository = 'team/azp/web';
    const digest = aDigest();
    for (const [i, region] of REGIONS.slice(0, 3).entries()) {
      await push(region, repository, '1.0', digest, i);
    }
    const ids = checkHeaders(stand);
    const answer = await check(ids, { image: `${REGISTRY}/${repository}:1.0` });
    expect(answer.status).toBe(200);
    const accepted = (await answer.json()) as { id: string; state: string };
    expect(accepted.state).toBe('waiting');
    await app.host.runTimer('resumeApprovals');
    expect(stand.received).toHaveLength(0);

    await push(REGIONS[3] as string, repository, '1.0', digest, 3);
    await until(() => stand.received.length === 1);
    const [sent] = stand.received;
    expect(sent?.method).toBe('POST');
    expect(sent?.path).toBe(
      `/contoso/${ids.ProjectId}/_apis/distributedtask/hubs/build/plans/${ids.PlanId}/events?api-version=2.0-preview.1`,
    );
    expect(sent?.headers.authorization).toBe(`Bearer ${ids.AuthToken}`);
    expect(sent?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(sent?.body ?? '')).toEqual({
      name: 'TaskCompleted',
      taskId: ids.TaskInstanceId,
      jobId: ids.JobId,
      result: 'succeeded',
    });

    // Answered: the AuthToken is gone from the store, and never was in a log line.
    await until(async () =>
      (await approvalDocs()).some((d) => d.approvalId === accepted.id && d.state === 'answered'),
    );
    expect(JSON.stringify(await approvalDocs())).not.toContain(ids.AuthToken);
    expect(app.logs.join('\n')).not.toContain(ids.AuthToken);

    // Later writes of the tag and timer runs send nothing more.
    await push(REGIONS[0] as string, repository, '1.0', digest, 0);
    await app.host.runTimer('resumeApprovals');
    await app.host.runTimer('resumeApprovals');
    expect(stand.received).toHaveLength(1);
  });

  it('completes at once when the image is already replicated (no timer)', async () => {
    const stand = await azureDevOps();
    const repository = 'team/azp/ready';
    const digest = aDigest();
    for (const [i, region] of REGIONS.entries()) await push(region, repository, '2.0', digest, i);
    const ids = checkHeaders(stand);
    expect((await check(ids, { image: `${REGISTRY}/${repository}@${digest}` })).status).toBe(200);
    await until(() => stand.received.length === 1);
    expect(JSON.parse(stand.received[0]?.body ?? '')).toMatchObject({ result: 'succeeded' });
  });

  it('waits only for the regions in scope', async () => {
    const stand = await azureDevOps();
    const repository = 'team/azp/scoped';
    const digest = aDigest();
    await push('westus', repository, '3.0', digest, 0);
    const ids = checkHeaders(stand);
    const scoped = { image: `${REGISTRY}/${repository}:3.0`, regions: ['westus', 'eastus'] };
    expect((await check(ids, scoped)).status).toBe(200);
    await app.host.runTimer('resumeApprovals');
    expect(stand.received).toHaveLength(0);
    await push('eastus', repository, '3.0', digest, 1);
    await until(() => stand.received.length === 1);
    expect(JSON.parse(stand.received[0]?.body ?? '')).toMatchObject({ result: 'succeeded' });
  });

  it('retries TaskCompleted while Azure DevOps answers 5xx, then stops', async () => {
    const stand = await azureDevOps((n) => (n < 2 ? { status: 503 } : { status: 200 }));
    const repository = 'team/azp/retry';
    const digest = aDigest();
    for (const [i, region] of REGIONS.entries()) await push(region, repository, '1.0', digest, i);
    const ids = checkHeaders(stand);
    expect((await check(ids, { image: `${REGISTRY}/${repository}:1.0` })).status).toBe(200);
    await until(() => stand.received.length === 3, { timer: true });
    expect(new Set(stand.received.map((r) => r.body)).size).toBe(1);
    const doc = (await approvalDocs()).find(
      (d) => (d.target as Record<string, string>).taskInstanceId === ids.TaskInstanceId,
    );
    await until(async () =>
      (await approvalDocs()).some((d) => d.id === doc?.id && d.state === 'answered'),
    );
    for (let i = 0; i < 3; i++) {
      await sleep(60);
      await app.host.runTimer('resumeApprovals');
    }
    expect(stand.received).toHaveLength(3);
  });

  it('fails the check when the manifest is deleted', async () => {
    const stand = await azureDevOps();
    const repository = 'team/azp/deleted';
    const digest = aDigest();
    await push('westus', repository, '1.0', digest, 0);
    const ids = checkHeaders(stand);
    expect((await check(ids, { image: `${REGISTRY}/${repository}:1.0` })).status).toBe(200);
    await app.post(
      '/api/webhooks/acr/westus',
      aDeleteEvent({ repository, digest, timestamp: '2026-03-14T09:05:00Z' }),
    );
    await until(() => stand.received.length === 1);
    expect(JSON.parse(stand.received[0]?.body ?? '')).toMatchObject({ result: 'failed' });
  });

  it('fails the check when its own timeout passes', async () => {
    const stand = await azureDevOps();
    const repository = 'team/azp/timeout';
    await push('westus', repository, '1.0', aDigest(), 0);
    const ids = checkHeaders(stand);
    const body = { image: `${REGISTRY}/${repository}:1.0`, timeout: '1s' };
    expect((await check(ids, body)).status).toBe(200);
    await until(() => stand.received.length === 1, { timer: true });
    expect(JSON.parse(stand.received[0]?.body ?? '')).toMatchObject({ result: 'failed' });
  });
});

describe('GitHub deployment protection rule', () => {
  const owner = 'Contoso';
  const repo = 'web';

  const mapEnvironment = (environment: string, body: unknown, token = ADMIN_TOKEN) =>
    app.call(`/api/github/environments/${owner}/${repo}/${encodeURIComponent(environment)}`, {
      method: 'PUT',
      token,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  const deliver = (
    payload: unknown,
    signature?: string | null,
    event = 'deployment_protection_rule',
  ) => {
    const body = JSON.stringify(payload);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': randomUUID(),
      'user-agent': 'GitHub-Hookshot/abc',
    };
    const sig = signature === undefined ? signBody(github.webhookSecret, body) : signature;
    if (sig !== null) headers['x-hub-signature-256'] = sig;
    return app.call('/api/github/deployment-protection-rule', {
      method: 'POST',
      token: null,
      headers,
      body,
    });
  };

  it('approves through deployment_callback_url with an installation token once the image is in scope', async () => {
    const environment = 'production';
    const repository = 'gh/approve';
    await mapEnvironment(environment, {
      image: `${REGISTRY}/${repository}:{sha}`,
      regions: ['westus', 'eastus'],
    });
    const sha = randomBytes(20).toString('hex');
    const digest = aDigest();
    const payload = aProtectionRuleEvent({ apiUrl: github.apiUrl, owner, repo, environment, sha });
    const response = await deliver(payload);
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({
      outcome: 'waiting',
      image: `${REGISTRY}/${repository}:${sha}`,
    });
    const callbackPath = new URL(payload.deployment_callback_url as string).pathname;
    const mine = () => github.callbacks().filter((c) => c.path === callbackPath);
    // A status report while waiting: environment and comment, no state.
    await until(() => mine().length === 1);
    const report = JSON.parse(mine()[0]?.body ?? '') as Record<string, unknown>;
    expect(Object.keys(report).sort()).toEqual(['comment', 'environment_name']);
    expect(report.environment_name).toBe(environment);
    expect(report.comment).toContain('no region');

    await push('westus', repository, sha, digest, 0);
    await push('canadacentral', repository, sha, digest, 1);
    await push('eastus', repository, sha, digest, 2);
    await until(() => mine().some((c) => c.body.includes('"state"')));
    const answers = mine().filter((c) => c.body.includes('"state"'));
    expect(answers).toHaveLength(1);
    const approval = answers[0];
    const approved = JSON.parse(approval?.body ?? '') as Record<string, unknown>;
    expect(Object.keys(approved).sort()).toEqual(['comment', 'environment_name', 'state']);
    expect(approved).toMatchObject({ environment_name: environment, state: 'approved' });
    expect(approved.comment).toContain(`${REGISTRY}/${repository}:${sha}`);
    expect(approval?.headers.authorization).toMatch(/^Bearer ghs_/);
    expect(github.tokens).toContain(approval?.headers.authorization?.slice('Bearer '.length));
    expect(approval?.headers['x-github-api-version']).toBe('2022-11-28');
    expect(github.badJwts).toEqual([]);
    expect(mine().filter((c) => !c.body.includes('"state"')).length).toBeLessThanOrEqual(10);

    // A redelivery of the same webhook is the same approval: nothing is sent again.
    expect((await deliver(payload)).status).toBe(202);
    await app.host.runTimer('resumeApprovals');
    await sleep(100);
    expect(mine().filter((c) => c.body.includes('"state"'))).toHaveLength(1);
  });

  it('rejects when the manifest is deleted', async () => {
    const environment = 'prod-eu';
    const repository = 'gh/deleted';
    await mapEnvironment(environment, { image: `${REGISTRY}/${repository}:{ref}` });
    const digest = aDigest();
    await push('westus', repository, 'release-1', digest, 0);
    const payload = aProtectionRuleEvent({
      apiUrl: github.apiUrl,
      owner,
      repo,
      environment,
      sha: randomBytes(20).toString('hex'),
      ref: 'refs/heads/release/1',
    });
    expect(await (await deliver(payload)).json()).toMatchObject({
      image: `${REGISTRY}/${repository}:release-1`,
    });
    await app.post(
      '/api/webhooks/acr/westus',
      aDeleteEvent({ repository, digest, timestamp: '2026-03-14T09:05:00Z' }),
    );
    const callbackPath = new URL(payload.deployment_callback_url as string).pathname;
    await until(() =>
      github.callbacks().some((c) => c.path === callbackPath && c.body.includes('"state"')),
    );
    const answer = github
      .callbacks()
      .find((c) => c.path === callbackPath && c.body.includes('"state"'));
    expect(JSON.parse(answer?.body ?? '')).toMatchObject({ state: 'rejected' });
  });
});
