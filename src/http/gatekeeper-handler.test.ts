// The Gatekeeper external data provider called directly over the in-memory store.
import { describe, expect, it } from 'vitest';
import { aDigest, aPushEvent } from '../../test/support/fixtures';
import {
  call,
  expectProblem,
  handlerDeps,
  REGISTRY,
  TOKENS,
  type Call,
} from '../../test/support/handler-harness';
import { makeGatekeeperHandler, MAX_PROVIDER_KEYS } from './gatekeeper-handler';
import { makeAcrWebhookHandler } from './webhook-handler';

const ask = (region: string, keys: unknown, extra: Partial<Call> = {}): Call => ({
  url: `/api/gatekeeper/${region}`,
  params: { region },
  token: 'read',
  json: {
    apiVersion: 'externaldata.gatekeeper.sh/v1beta1',
    kind: 'ProviderRequest',
    request: { keys },
  },
  ...extra,
});

type Item = { key: string; error: string; value?: Record<string, unknown> };
const items = (body: Record<string, unknown>) => (body.response as { items: Item[] }).items;

describe('POST /api/gatekeeper/{region}', () => {
  it('says per image whether it is in the region: arrived, not yet, untracked', async () => {
    const deps = handlerDeps();
    const digest = aDigest();
    await call(makeAcrWebhookHandler(deps), {
      url: '/api/webhooks/acr/westus',
      params: { region: 'westus' },
      token: 'webhook',
      json: aPushEvent({ repository: 'team/api', tag: '1.2', digest }),
    });
    const handler = makeGatekeeperHandler(deps);
    const keys = [
      `${REGISTRY}/team/api:1.2`,
      `${REGISTRY}/team/api@${digest}`,
      'docker.io/nginx:1',
    ];
    const west = await call(handler, ask('westus', keys));
    expect(west.status).toBe(200);
    expect(west.body).toMatchObject({
      apiVersion: 'externaldata.gatekeeper.sh/v1beta1',
      kind: 'ProviderResponse',
      response: { idempotent: true },
    });
    const [byTag, byDigest, other] = items(west.body);
    expect(byTag).toMatchObject({ key: keys[0], error: '', value: { tracked: true } });
    expect(byDigest).toMatchObject({ key: keys[1], error: '', value: { tracked: true } });
    expect(other).toMatchObject({ key: 'docker.io/nginx:1', error: '', value: { tracked: false } });
    const east = await call(handler, ask('eastus', keys.slice(0, 1)));
    expect(items(east.body)[0]?.error).not.toBe('');
  });

  it('takes the read token from ?token (Gatekeeper sends no headers); the header wins', async () => {
    const handler = makeGatekeeperHandler(handlerDeps());
    const byQuery = await call(
      handler,
      ask('westus', [], { url: `/api/gatekeeper/westus?token=${TOKENS.read}`, token: undefined }),
    );
    expect(byQuery.status).toBe(200);
    const headerWins = await call(
      handler,
      ask('westus', [], { url: `/api/gatekeeper/westus?token=${TOKENS.read}`, token: 'webhook' }),
    );
    expectProblem(headerWins, 403);
    expectProblem(await call(handler, ask('westus', [], { token: undefined })), 401);
    expectProblem(
      await call(
        handler,
        ask('westus', [], { url: '/api/gatekeeper/westus?token=wrong', token: undefined }),
      ),
      401,
    );
  });

  it('413s more keys than allowed and 400s a bad body naming the field', async () => {
    const handler = makeGatekeeperHandler(handlerDeps());
    const many = Array.from({ length: MAX_PROVIDER_KEYS + 1 }, (_, i) => `r.io/a:${i}`);
    const tooMany = expectProblem(await call(handler, ask('westus', many)), 413);
    expect(tooMany.errors).toEqual([expect.objectContaining({ field: 'request.keys' })]);
    const bad = expectProblem(await call(handler, ask('westus', 'not-a-list')), 400);
    expect(bad.errors).toEqual([expect.objectContaining({ field: 'request.keys' })]);
  });

  it('answers a store outage inside the protocol, as systemError, not as a 503', async () => {
    const deps = handlerDeps();
    deps.store.setUnavailable(true);
    const answer = await call(makeGatekeeperHandler(deps), ask('westus', [`${REGISTRY}/a:1`]));
    expect(answer.status).toBe(200);
    const response = answer.body.response as { items: unknown[]; systemError?: unknown };
    expect(response.items).toEqual([]);
    expect(response.systemError).toMatch(/could not be reached/);
  });
});
