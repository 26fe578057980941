import { describe, expect, it } from 'vitest';
import { classifyAnswer } from '../../src/app/answer-approvals';
import { taskEventsUrl, toTaskCompletedRequest } from '../../src/approvals/azure-pipelines';
import { checkOutboundUrl } from '../../src/approvals/outbound-url';
import { githubEnvironmentId } from '../../src/store/ids';
import { fillTemplate } from '../../src/http/github-handlers';
import type { Instant } from '../../src/replication/timestamp';

const DEFAULT_HOSTS = ['dev.azure.com', '*.visualstudio.com'];

describe('the PlanUrl allowlist', () => {
  it.each([
    'https://dev.azure.com/contoso/',
    'https://contoso.visualstudio.com/',
    'https://a.b.visualstudio.com/x',
    'https://DEV.AZURE.COM/contoso/',
  ])('accepts %s', (url) => {
    expect(checkOutboundUrl(url, DEFAULT_HOSTS).ok).toBe(true);
  });

  it.each([
    ['http://dev.azure.com/contoso/', 'https'],
    ['https://visualstudio.com/', 'not allowed'],
    ['https://evilvisualstudio.com/', 'not allowed'],
    ['https://dev.azure.com.evil.example/', 'not allowed'],
    ['https://user:pw@dev.azure.com/', 'credentials'],
    ['https://127.0.0.1/', 'not allowed'],
    ['http://127.0.0.1:8080/', 'not allowed'],
    ['dev.azure.com/contoso', 'absolute'],
  ])('refuses %s', (url, reason) => {
    const check = checkOutboundUrl(url, DEFAULT_HOSTS);
    expect(check.ok).toBe(false);
    expect(check.ok ? '' : check.reason).toContain(reason);
  });

  it('takes plain http only for a loopback host listed by name (a test stand-in)', () => {
    expect(checkOutboundUrl('http://127.0.0.1:8080/org/', ['127.0.0.1']).ok).toBe(true);
    expect(checkOutboundUrl('http://10.0.0.1/org/', ['10.0.0.1']).ok).toBe(false);
    expect(checkOutboundUrl('http://localhost/org/', ['*.localhost']).ok).toBe(false);
  });
});

describe('TaskCompleted', () => {
  const target = {
    planUrl: 'https://dev.azure.com/contoso',
    projectId: 'p',
    hubName: 'build',
    planId: 'plan',
    jobId: 'job',
    timelineId: 'tl',
    taskInstanceId: 'task',
    authToken: 'secret',
  };
  it('goes to the plan events endpoint, with or without the trailing slash of PlanUrl', () => {
    const expected =
      'https://dev.azure.com/contoso/p/_apis/distributedtask/hubs/build/plans/plan/events?api-version=2.0-preview.1';
    expect(taskEventsUrl(target)).toBe(expected);
    expect(taskEventsUrl({ ...target, planUrl: `${target.planUrl}/` })).toBe(expected);
  });
  it('says succeeded or failed for the task and job, with the AuthToken as bearer', () => {
    const request = toTaskCompletedRequest(target, false);
    expect(JSON.parse(request.body)).toEqual({
      name: 'TaskCompleted',
      taskId: 'task',
      jobId: 'job',
      result: 'failed',
    });
    expect(request.headers.authorization).toBe('Bearer secret');
  });
});

describe('answers', () => {
  const at = '2026-03-14T09:00:00.000000000Z' as Instant;
  it.each([
    [200, 'done'],
    [204, 'done'],
    [undefined, 'retry'],
    [408, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
    [400, 'refused'],
    [401, 'refused'],
    [404, 'refused'],
    [422, 'refused'],
  ] as const)('HTTP %s is %s', (status, outcome) => {
    expect(classifyAnswer({ at, durationMs: 1, ...(status === undefined ? {} : { status }) })).toBe(
      outcome,
    );
  });
});

describe('GitHub environments', () => {
  it('fills {sha} and {ref}, cutting the ref to a tag', () => {
    const values = { sha: 'abc123', ref: 'refs/heads/feature/x' };
    expect(fillTemplate('contoso.azurecr.io/web:{sha}', values)).toBe(
      'contoso.azurecr.io/web:abc123',
    );
    expect(fillTemplate('contoso.azurecr.io/web:{ref}', values)).toBe(
      'contoso.azurecr.io/web:feature-x',
    );
  });
  it('stores owner and repository case-insensitively, in an id Cosmos accepts', () => {
    const id = githubEnvironmentId('Contoso', 'Web', 'prod/eu');
    expect(id).toBe(githubEnvironmentId('contoso', 'web', 'prod/eu'));
    expect(id).not.toMatch(/[/\\?#]/);
    expect(id).not.toBe(githubEnvironmentId('contoso', 'web', 'Prod/eu'));
  });
});
