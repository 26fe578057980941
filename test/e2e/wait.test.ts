// The long-poll: GET /api/replications/{registry}/{*reference}?wait=N over HTTP.
import { describe, expect, it } from 'vitest';
import { aDigest, aPushEvent } from '../support/fixtures';
import { REGIONS, useApp } from '../support/app-host';

const app = useApp();

const REGISTRY = 'contoso.azurecr.io';
const hook = (region: string, body: unknown) => app.post(`/api/webhooks/acr/${region}`, body);

describe('GET /api/replications/…?wait=N', () => {
  it('answers within a second of the completing webhook', async () => {
    const digest = aDigest();
    const waiting = app
      .call(`/api/replications/${REGISTRY}/public/products/web:wait-1?wait=30`)
      .then(async (response) => ({
        at: Date.now(),
        response,
        body: (await response.json()) as { status: string },
      }));
    let completedAt = 0;
    for (const [i, region] of REGIONS.entries()) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      const response = await hook(
        region,
        aPushEvent({ tag: 'wait-1', digest, timestamp: `2026-03-14T09:00:0${i}Z` }),
      );
      expect(response.status).toBe(202);
      completedAt = Date.now();
    }
    const answer = await waiting;
    expect(answer.response.status).toBe(200);
    expect(answer.response.headers.get('x-acr-gate-wait')).toBe('settled');
    expect(answer.body.status).toBe('replicated');
    // Generous: the benchmark measures the real figure; here we only show it is not a poll interval.
    expect(answer.at - completedAt).toBeLessThan(1000);
  });

  it('returns the current status when the time is up', async () => {
    await hook('westus', aPushEvent({ tag: 'slow' }));
    const started = Date.now();
    const response = await app.call(
      `/api/replications/${REGISTRY}/public/products/web:slow?wait=1`,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-acr-gate-wait')).toBe('timeout');
    expect(((await response.json()) as { status: string }).status).toBe('replicating');
  });

  it('waits for a tag that has not arrived yet, and answers 404 if it never does', async () => {
    const digest = aDigest();
    const waiting = app.call(`/api/replications/${REGISTRY}/public/products/web:later?wait=20`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const [i, region] of REGIONS.entries()) {
      await hook(
        region,
        aPushEvent({ tag: 'later', digest, timestamp: `2026-03-14T09:00:0${i}Z` }),
      );
    }
    expect(((await (await waiting).json()) as { status: string }).status).toBe('replicated');

    const never = await app.call(
      `/api/replications/${REGISTRY}/public/products/web:never?wait=0.5`,
    );
    expect(never.status).toBe(404);
  });

  it('fails fast with 409 when the tag has moved past the pinned digest', async () => {
    const [old, next] = [aDigest(), aDigest()];
    await hook(
      'westus',
      aPushEvent({ tag: 'moved', digest: old, timestamp: '2026-03-14T09:00:00Z' }),
    );
    await hook(
      'westus',
      aPushEvent({ tag: 'moved', digest: next, timestamp: '2026-03-14T09:10:00Z' }),
    );
    const started = Date.now();
    const response = await app.call(
      `/api/replications/${REGISTRY}/public/products/web:moved?wait=30&digest=${old}`,
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(response.status).toBe(409);
    const problem = (await response.json()) as { title: string; digest: string };
    expect(problem).toMatchObject({
      status: 409,
      title: 'Digest moved',
      digest: next,
      current: { digest: next, tag: 'moved' },
    });
  });

  it('waits for a pinned digest that has not arrived yet', async () => {
    const [old, next] = [aDigest(), aDigest()];
    for (const [i, region] of REGIONS.entries()) {
      await hook(
        region,
        aPushEvent({ tag: 'pinned', digest: old, timestamp: `2026-03-14T09:00:0${i}Z` }),
      );
    }
    const waiting = app.call(
      `/api/replications/${REGISTRY}/public/products/web:pinned?wait=20&digest=${next}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const [i, region] of REGIONS.entries()) {
      await hook(
        region,
        aPushEvent({ tag: 'pinned', digest: next, timestamp: `2026-03-14T10:00:0${i}Z` }),
      );
    }
    const response = await waiting;
    expect(await response.json()).toMatchObject({ status: 'replicated', digest: next });
  });

  it('refuses a wait over 200 seconds, naming the parameter', async () => {
    const response = await app.call(`/api/replications/${REGISTRY}/public/products/web:x?wait=201`);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { errors: { field: string }[] }).errors[0]?.field).toBe(
      'query.wait',
    );
  });
});
