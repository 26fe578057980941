// The health handler called directly: no token, the store's reachability in the answer.
import { describe, expect, it } from 'vitest';
import { call, handlerDeps } from '../../test/support/handler-harness';
import { makeHealthHandler } from './health-handler';

describe('GET /api/health', () => {
  it('answers 200 without a token while the store answers, 503 when it does not', async () => {
    const deps = handlerDeps();
    const handler = makeHealthHandler(deps);
    const healthy = await call(handler, { url: '/api/health' });
    expect(healthy.status).toBe(200);
    expect(healthy.body).toMatchObject({ status: 'healthy', store: { status: 'reachable' } });
    deps.store.setUnavailable(true);
    const unhealthy = await call(handler, { url: '/api/health' });
    expect(unhealthy.status).toBe(503);
    expect(unhealthy.body).toEqual({ status: 'unhealthy', store: { status: 'unreachable' } });
    expect(unhealthy.logs.join('\n')).toMatch(/health: store unreachable/);
  });
});
