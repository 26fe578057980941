// The Azure Pipelines check handler called directly, answering a loopback stand-in of Azure DevOps.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalHandlerDeps } from '../../test/support/approval-harness';
import { aCheckHeaders, aDigest, aPushEvent } from '../../test/support/fixtures';
import { call, expectProblem, REGISTRY, type Call } from '../../test/support/handler-harness';
import { startReceiver, type Receiver } from '../../test/support/receiver';
import { plusMillis } from '../replication/timestamp';
import { makeAzurePipelinesCheckHandler } from './azure-pipelines-handler';
import { makeAcrWebhookHandler } from './webhook-handler';

type Deps = ReturnType<typeof approvalHandlerDeps>;

let devops: Receiver;
beforeAll(async () => {
  devops = await startReceiver(() => ({ status: 200 }));
});
afterAll(async () => {
  await devops?.close();
});

/** The system values Azure Pipelines sends, each check its own. */
const checkHeaders = () =>
  aCheckHeaders(
    devops.url.replace(/hook$/, 'contoso/'),
    `eyJ0eXAiOiJKV1Qi.${randomBytes(24).toString('base64url')}`,
  );

const checkCall = (
  headers: Record<string, string>,
  json: unknown,
  extra: Partial<Call> = {},
): Call => ({ url: '/api/azure-pipelines/checks', token: 'read', json, headers, ...extra });
const check = (deps: Deps, headers: Record<string, string>, json: unknown, extra?: Partial<Call>) =>
  call(makeAzurePipelinesCheckHandler(deps), checkCall(headers, json, extra));

/** Pushes `repository:tag` in the regions given (through the ACR webhook handler). */
async function pushed(deps: Deps, repository: string, regions: readonly string[]) {
  const digest = aDigest();
  for (const region of regions) {
    const answer = await call(makeAcrWebhookHandler(deps), {
      url: `/api/webhooks/acr/${region}`,
      params: { region },
      token: 'webhook',
      json: aPushEvent({ repository, tag: '1.0', digest, timestamp: new Date().toISOString() }),
    });
    expect(answer.status).toBe(202);
  }
  return `${REGISTRY}/${repository}:1.0`;
}

/** What Azure DevOps received for this check's plan. */
const callbacksFor = (headers: { PlanId: string }) =>
  devops.received.filter((r) => r.path.includes(`/plans/${headers.PlanId}/events`));

describe('POST /api/azure-pipelines/checks', () => {
  it('stores the check, then completes it with TaskCompleted (succeeded) once replicated', async () => {
    const deps = approvalHandlerDeps();
    const image = await pushed(deps, 'azp/ready', deps.defaultRegions);
    const headers = checkHeaders();
    const answer = await check(deps, headers, { image });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ image, state: 'waiting' });
    expect(answer.body.id).toMatch(/^azp-[0-9a-f]{32}$/);
    await deps.settled();
    const [sent, ...more] = callbacksFor(headers);
    expect(more).toEqual([]);
    expect(sent?.path).toBe(
      `/contoso/${headers.ProjectId}/_apis/distributedtask/hubs/build/plans/${headers.PlanId}/events?api-version=2.0-preview.1`,
    );
    expect(sent?.headers.authorization).toBe(`Bearer ${headers.AuthToken}`);
    expect(JSON.parse(sent?.body ?? '')).toEqual({
      name: 'TaskCompleted',
      taskId: headers.TaskInstanceId,
      jobId: headers.JobId,
      result: 'succeeded',
    });
    expect([...answer.logs, ...deps.approvalLog].join('\n')).not.toContain(headers.AuthToken);
  });

  it('waits while a region is missing, and takes the same check sent again as the same approval', async () => {
    const deps = approvalHandlerDeps();
    const image = await pushed(deps, 'azp/waiting', ['westus']);
    const headers = checkHeaders();
    const first = await check(deps, headers, { image, timeout: '30m' });
    const again = await check(deps, headers, { image, timeout: '30m' });
    expect(again.body.id).toBe(first.body.id);
    expect(again.logs.join('\n')).toMatch(/\(sent again\)/);
    await deps.settled();
    expect(callbacksFor(headers)).toEqual([]);
    const stored = await deps.store.approvals.get(REGISTRY, 'azp/waiting', String(first.body.id));
    expect(stored?.record).toMatchObject({ state: 'waiting', regions: null });
    // The deadline is the check's own timeout.
    expect(stored?.record.deadline).toBe(plusMillis(stored!.record.createdAt, 30 * 60_000));
    expect(first.body.deadline).toBe(stored?.record.deadline);
  });

  it('completes a check scoped to the regions that have the image', async () => {
    const deps = approvalHandlerDeps();
    const image = await pushed(deps, 'azp/scoped', ['westus']);
    const headers = checkHeaders();
    const answer = await check(deps, headers, { image, regions: ['westus', 'westus'] });
    expect(answer.status).toBe(200);
    await deps.settled();
    expect(JSON.parse(callbacksFor(headers)[0]?.body ?? '{}')).toMatchObject({
      result: 'succeeded',
    });
  });

  it('refuses regions the registry does not have, naming the field and the configured regions', async () => {
    const deps = approvalHandlerDeps();
    const image = await pushed(deps, 'azp/unknown-region', deps.defaultRegions);
    const headers = checkHeaders();
    const problem = expectProblem(
      await check(deps, headers, { image, regions: ['westus', 'mars', 'atlantis'] }),
      400,
    );
    expect(problem.errors).toEqual([expect.objectContaining({ field: 'regions' })]);
    expect(problem.detail).toBe(
      `regions: atlantis, mars are not among the regions of ${REGISTRY} (westus, eastus)`,
    );
    expect(problem.unknownRegions).toEqual(['atlantis', 'mars']);
    // The registry's own regions, where one was set, are the ones that count.
    await deps.store.registries.putRegions(REGISTRY, ['westeurope', 'westus'], deps.clock.now());
    const own = expectProblem(await check(deps, headers, { image, regions: ['eastus'] }), 400);
    expect(own.detail).toMatch(/eastus is not among the regions of .* \(westeurope, westus\)$/);
    await deps.settled();
    expect(deps.advancing).toEqual([]);
    expect(await deps.store.approvals.listWaiting(REGISTRY, 'azp/unknown-region')).toEqual([]);
  });

  it('refuses an image no region has reported, naming image', async () => {
    const deps = approvalHandlerDeps();
    const problem = expectProblem(
      await check(deps, checkHeaders(), { image: `${REGISTRY}/azp/never:1.0` }),
      400,
    );
    expect(problem.errors).toEqual([expect.objectContaining({ field: 'image' })]);
    expect(problem.detail).toMatch(/run the check after the push/);
  });

  // Moved down from test/e2e/approvals.test.ts.
  it('names the offending header or body field', async () => {
    const deps = approvalHandlerDeps();
    const image = await pushed(deps, 'azp/bad-input', deps.defaultRegions);
    const { PlanId: _planId, ...noPlanId } = checkHeaders();
    const cases: [Record<string, string>, unknown, string][] = [
      [noPlanId, { image }, 'headers.PlanId'],
      [{ ...checkHeaders(), JobId: 'not-a-guid' }, { image }, 'headers.JobId'],
      [{ ...checkHeaders(), HubName: 'build/x' }, { image }, 'headers.HubName'],
      [
        { ...checkHeaders(), PlanUrl: 'https://evil.example/contoso/' },
        { image },
        'headers.PlanUrl',
      ],
      [{ ...checkHeaders(), PlanUrl: 'not a url' }, { image }, 'headers.PlanUrl'],
      [checkHeaders(), { image: 'web:1.0' }, 'image'],
      [checkHeaders(), { image, timeout: 'forever' }, 'timeout'],
      [checkHeaders(), { image, regions: ['West US'] }, 'regions.0'],
      [checkHeaders(), { image, regions: [] }, 'regions'],
      [checkHeaders(), { image, extra: true }, '(body)'],
    ];
    for (const [headers, body, field] of cases) {
      const problem = expectProblem(await check(deps, headers, body), 400);
      expect(problem.errors, field).toEqual(
        expect.arrayContaining([expect.objectContaining({ field })]),
      );
    }
    const text = await check(deps, checkHeaders(), undefined, {
      headers: { ...checkHeaders(), 'content-type': 'text/plain' },
      rawBody: image,
    });
    expectProblem(text, 415);
    await deps.settled();
    expect(deps.advancing).toEqual([]);
  });

  // Moved down from test/e2e/approvals.test.ts.
  it('refuses a PlanUrl off AZURE_PIPELINES_HOSTS, or not https:// for a host not on loopback', async () => {
    const deps = {
      ...approvalHandlerDeps(),
      allowedHosts: ['127.0.0.1', 'dev.azure.com', '*.visualstudio.com'],
    };
    // In one region only: the checks taken wait, so nothing is sent to the hosts named.
    const image = await pushed(deps, 'azp/hosts', ['westus']);
    for (const PlanUrl of [
      'https://evil.example.com/contoso/',
      'http://dev.azure.com/contoso/',
      'https://dev.azure.com.evil.example/',
      'https://visualstudio.com/',
      'not a url',
    ]) {
      const problem = expectProblem(
        await check(deps, { ...checkHeaders(), PlanUrl }, { image }),
        400,
      );
      expect(problem.errors, PlanUrl).toEqual([
        expect.objectContaining({ field: 'headers.PlanUrl' }),
      ]);
    }
    // The hosts the list names are taken (and answered later, not here).
    for (const PlanUrl of ['https://dev.azure.com/contoso/', 'https://contoso.visualstudio.com/']) {
      expect((await check(deps, { ...checkHeaders(), PlanUrl }, { image })).status).toBe(200);
    }
    expect(await deps.settled()).toEqual(['waiting', 'waiting']);
  });

  it('takes a read or admin token: 401 without or with an unknown one, 403 for a webhook token', async () => {
    const deps = approvalHandlerDeps();
    const image = await pushed(deps, 'azp/auth', deps.defaultRegions);
    expectProblem(await check(deps, checkHeaders(), { image }, { token: undefined }), 401);
    expectProblem(
      await check(deps, checkHeaders(), { image }, { token: 'wrong-token-01234' }),
      401,
    );
    expectProblem(await check(deps, checkHeaders(), { image }, { token: 'webhook' }), 403);
    expect(deps.advancing).toEqual([]);
    expect((await check(deps, checkHeaders(), { image }, { token: 'admin' })).status).toBe(200);
    expect(await deps.settled()).toEqual(['answered']);
  });

  it('acknowledges nothing when the store is down: 503', async () => {
    const deps = approvalHandlerDeps();
    const image = await pushed(deps, 'azp/down', deps.defaultRegions);
    deps.store.setUnavailable(true);
    expectProblem(await check(deps, checkHeaders(), { image }), 503);
    expect(deps.advancing).toEqual([]);
  });
});
