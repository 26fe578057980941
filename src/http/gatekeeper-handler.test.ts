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

const REPO = 'team/web';
const D1 = aDigest();
const LATEST = aDigest();

interface ProviderResponse {
  apiVersion: string;
  kind: string;
  response: { idempotent: boolean; items: Item[]; systemError?: string };
}

/**
 * A gate of its own for each test (so no test depends on another's pushes), with web:1.2 at D1
 * in westus and eastus and latest in westus only; `ask` calls the handler as Gatekeeper does.
 */
async function gate() {
  const deps = handlerDeps({ defaultRegions: ['westus', 'eastus', 'canadacentral', 'westeurope'] });
  const webhook = makeAcrWebhookHandler(deps);
  const handler = makeGatekeeperHandler(deps);
  const app = {
    post: async (path: string, json: unknown) => {
      const region = path.split('/').at(-1) ?? '';
      const answer = await call(webhook, { url: path, params: { region }, token: 'webhook', json });
      expect(answer.status).toBe(202);
    },
  };
  const ask = async (
    region: string,
    keys: unknown,
    options: { token?: string | null; body?: string; contentType?: string } = {},
  ) => {
    const token = options.token === undefined ? TOKENS.read : options.token;
    const query = token === null ? '' : `?token=${encodeURIComponent(token)}`;
    const answer = await call(handler, {
      method: 'POST',
      url: `/api/gatekeeper/${encodeURIComponent(region)}${query}`,
      params: { region },
      headers: { 'content-type': options.contentType ?? 'application/json' },
      rawBody:
        options.body ??
        JSON.stringify({
          apiVersion: 'externaldata.gatekeeper.sh/v1beta1',
          kind: 'ProviderRequest',
          request: { keys },
        }),
    });
    return {
      status: answer.status,
      body: answer.body as unknown as ProviderResponse & Record<string, unknown>,
    };
  };
  const itemsOf = async (region: string, keys: string[]) => {
    const { status, body } = await ask(region, keys);
    expect(status).toBe(200);
    return new Map(body.response.items.map((i) => [i.key, i]));
  };
  const push = (region: string, tag: string, digest: string, second: number) =>
    app.post(
      `/api/webhooks/acr/${region}`,
      aPushEvent({
        repository: REPO,
        tag,
        digest,
        timestamp: `2026-03-14T09:00:${String(second).padStart(2, '0')}.5Z`,
      }),
    );
  await push('westus', '1.2', D1, 1);
  await push('eastus', '1.2', D1, 2);
  await push('westus', 'latest', LATEST, 3);
  return { app, ask, itemsOf };
}

describe('POST /api/gatekeeper/{region}: every kind of key, batches and bad input', () => {
  it('names what is missing in a region the image has not reached', async () => {
    const { itemsOf } = await gate();
    const items = await itemsOf('westeurope', [`${REGISTRY}/${REPO}:1.2`, `${REGISTRY}/${REPO}`]);
    expect(items.get(`${REGISTRY}/${REPO}:1.2`)?.error).toBe(
      `${REGISTRY}/${REPO}:1.2 (now ${D1}): it has not reached westeurope yet`,
    );
    expect(items.get(`${REGISTRY}/${REPO}`)?.error).toContain('has not reached westeurope');
    // eastus has 1.2 but not latest.
    const east = await itemsOf('eastus', [`${REGISTRY}/${REPO}:1.2`, `${REGISTRY}/${REPO}`]);
    expect(east.get(`${REGISTRY}/${REPO}:1.2`)?.error).toBe('');
    expect(east.get(`${REGISTRY}/${REPO}`)?.error).toContain('has not reached eastus');
  });

  it('checks a tag at its current digest, and a digest as given', async () => {
    const { app, itemsOf } = await gate();
    const repo = 'team/moved';
    const old = aDigest();
    const fresh = aDigest();
    for (const [region, digest, second] of [
      ['westus', old, 1],
      ['eastus', old, 2],
      ['westus', fresh, 5],
    ] as const) {
      await app.post(
        `/api/webhooks/acr/${region}`,
        aPushEvent({
          repository: repo,
          tag: '2.0',
          digest,
          timestamp: `2026-03-14T09:00:0${second}.5Z`,
        }),
      );
    }
    const items = await itemsOf('eastus', [
      `${REGISTRY}/${repo}:2.0`,
      `${REGISTRY}/${repo}@${old}`,
      `${REGISTRY}/${repo}:2.0@${old}`,
      `${REGISTRY}/${repo}@${fresh}`,
    ]);
    // eastus still has the old digest: the tag (now the fresh one) may not run there yet.
    expect(items.get(`${REGISTRY}/${repo}:2.0`)?.error).toBe(
      `${REGISTRY}/${repo}:2.0 (now ${fresh}): eastus still has ${old}`,
    );
    expect(items.get(`${REGISTRY}/${repo}@${old}`)?.error).toBe('');
    expect(items.get(`${REGISTRY}/${repo}:2.0@${old}`)?.error).toBe('');
    // A digest's own status: eastus has never had this manifest.
    expect(items.get(`${REGISTRY}/${repo}@${fresh}`)?.error).toBe(
      `${REGISTRY}/${repo}@${fresh}: it has not reached eastus yet`,
    );
  });

  it('lets the policy decide about registries the gate does not track', async () => {
    const { itemsOf } = await gate();
    const keys = ['nginx', 'nginx:1.27', 'docker.io/library/redis:7', 'ghcr.io/acme/tool:1'];
    const items = await itemsOf('westus', keys);
    for (const key of keys) {
      expect(items.get(key)?.error, key).toBe('');
      expect(items.get(key)?.value, key).toMatchObject({ tracked: false });
      expect(String(items.get(key)?.value?.message)).toContain('not tracked by the gate');
    }
  });

  it('answers a malformed reference, or an unknown image, on its own item', async () => {
    const { ask } = await gate();
    const keys = [
      `${REGISTRY}/Team/Web:1.2`,
      `${REGISTRY}/${REPO}@sha256:short`,
      `${REGISTRY}/${REPO}:`,
      '',
      'x'.repeat(5000),
      `${REGISTRY}/${REPO}:never-pushed`,
      `${REGISTRY}/${REPO}:1.2`,
    ];
    const { status, body } = await ask('westus', keys);
    expect(status).toBe(200);
    const errors = body.response.items.map((i) => i.error);
    expect(errors.slice(0, 5).every((e) => e.startsWith('invalid image reference: '))).toBe(true);
    expect(errors[0]).toContain('repository');
    expect(errors[1]).toContain('digest');
    expect(errors[2]).toContain('tag');
    expect(errors[5]).toBe(`${REGISTRY}/${REPO}:never-pushed: no region has reported this image`);
    expect(errors[6]).toBe('');
  });

  it('answers each distinct key once, in the order first given', async () => {
    const { ask } = await gate();
    const a = `${REGISTRY}/${REPO}:1.2`;
    const b = `${REGISTRY}/${REPO}`;
    const { body } = await ask('westus', [a, b, a, a, b, `${REGISTRY}/${REPO}:latest`]);
    expect(body.response.items.map((i) => i.key)).toEqual([a, b, `${REGISTRY}/${REPO}:latest`]);
  });

  it('answers a batch of 100 keys, each correctly', async () => {
    const { app, ask } = await gate();
    const repo = 'team/batch';
    const digests: string[] = [];
    for (let i = 0; i < 50; i++) {
      const digest = aDigest();
      digests.push(digest);
      await app.post(
        '/api/webhooks/acr/westus',
        aPushEvent({ repository: repo, tag: `v${i}`, digest }),
      );
    }
    const keys = digests.flatMap((d, i) => [
      `${REGISTRY}/${repo}:v${i}`,
      `${REGISTRY}/${repo}@${d}`,
    ]);
    expect(keys).toHaveLength(100);
    const west = await ask('westus', keys);
    expect(west.body.response.items).toHaveLength(100);
    expect(west.body.response.items.filter((i) => i.error !== '')).toEqual([]);
    const east = await ask('eastus', keys);
    expect(east.body.response.items.map((i) => i.key)).toEqual(keys);
    expect(east.body.response.items.every((i) => i.error.includes('not reached eastus'))).toBe(
      true,
    );
  });

  it('refuses bad requests with a 400 or 415 naming the field, never a 5xx', async () => {
    const { ask } = await gate();
    const named = async (
      answer: Promise<{ status: number; body: Record<string, unknown> }>,
      field: string,
    ) => {
      const { status, body } = await answer;
      return { status, has: String(body.detail).includes(field) };
    };
    expect(await named(ask('East US', []), 'path.region')).toEqual({ status: 400, has: true });
    expect(await named(ask('westus', 'not-a-list'), 'request.keys')).toEqual({
      status: 400,
      has: true,
    });
    expect(await named(ask('westus', [1, 2]), 'request.keys')).toEqual({ status: 400, has: true });
    expect(await named(ask('westus', [], { body: '{"kind":"Other"}' }), 'kind')).toEqual({
      status: 400,
      has: true,
    });
    expect((await ask('westus', [], { body: '{' })).status).toBe(400);
    expect((await ask('westus', [], { contentType: 'text/plain' })).status).toBe(415);
    // No keys at all (Go's omitempty drops an empty list): an empty answer.
    const empty = await ask('westus', [], {
      body: '{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{}}',
    });
    expect(empty.status).toBe(200);
    expect(empty.body.response.items).toEqual([]);
  });
});
