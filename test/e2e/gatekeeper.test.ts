// The Gatekeeper external data provider over HTTP: Gatekeeper's documented shapes, every kind of image key, batches and bad input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aDigest, aPushEvent } from '../support/fixtures';
import {
  ADMIN_TOKEN,
  REGIONS,
  startApp,
  READ_TOKEN,
  WEBHOOK_TOKEN,
  type RunningApp,
} from '../support/app-host';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy';

const REGISTRY = 'contoso.azurecr.io';
const REPO = 'team/web';

let app: RunningApp;
let proxy: FaultProxy;
beforeAll(async () => {
  app = await startApp(
    {},
    {
      cosmosVia: async (target) => {
        proxy = await startFaultProxy({ target, seed: 11 });
        return proxy.endpoint;
      },
    },
  );
});
afterAll(async () => {
  await app?.stop();
  await proxy?.close();
});

interface Item {
  key: string;
  value?: Record<string, unknown>;
  error: string;
}
interface ProviderResponse {
  apiVersion: string;
  kind: string;
  response: { idempotent: boolean; items: Item[]; systemError?: string };
}

/** As Gatekeeper calls it: a POST with no Authorization header, the token in the URL. */
async function ask(
  region: string,
  keys: unknown,
  options: { token?: string | null; body?: string; contentType?: string } = {},
) {
  const token = options.token === undefined ? READ_TOKEN : options.token;
  const query = token === null ? '' : `?token=${encodeURIComponent(token)}`;
  const response = await app.call(`/api/gatekeeper/${region}${query}`, {
    method: 'POST',
    token: null,
    headers: { 'content-type': options.contentType ?? 'application/json' },
    body:
      options.body ??
      JSON.stringify({
        apiVersion: 'externaldata.gatekeeper.sh/v1beta1',
        kind: 'ProviderRequest',
        request: { keys },
      }),
  });
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get('content-type') ?? '',
    body: JSON.parse(text) as ProviderResponse & Record<string, unknown>,
  };
}

const itemsOf = async (region: string, keys: string[]) => {
  const { status, body } = await ask(region, keys);
  expect(status).toBe(200);
  return new Map(body.response.items.map((i) => [i.key, i]));
};

async function push(region: string, tag: string | undefined, digest: string, second = 0) {
  const response = await app.post(
    `/api/webhooks/acr/${region}`,
    aPushEvent({
      repository: REPO,
      tag,
      digest,
      timestamp: `2026-03-14T09:00:${String(second).padStart(2, '0')}.5Z`,
    }),
  );
  expect(response.status).toBe(202);
}

const D1 = aDigest();
const LATEST = aDigest();

describe('POST /api/gatekeeper/{region}', () => {
  beforeAll(async () => {
    // web:1.2 at D1 reached westus and eastus; latest reached westus only.
    await push('westus', '1.2', D1, 1);
    await push('eastus', '1.2', D1, 2);
    await push('westus', 'latest', LATEST, 3);
  });

  it("answers Gatekeeper's ProviderResponse, one item per key, errors empty where the image is", async () => {
    const keys = [
      `${REGISTRY}/${REPO}:1.2`,
      `${REGISTRY}/${REPO}@${D1}`,
      `${REGISTRY}/${REPO}:1.2@${D1}`,
      `${REGISTRY}/${REPO}`,
      `${REGISTRY}/${REPO}:latest`,
    ];
    const { status, type, body } = await ask('westus', keys);
    expect(status).toBe(200);
    expect(type).toMatch(/^application\/json/);
    expect(body.apiVersion).toBe('externaldata.gatekeeper.sh/v1beta1');
    expect(body.kind).toBe('ProviderResponse');
    expect(body.response.idempotent).toBe(true);
    expect(body.response).not.toHaveProperty('systemError');
    expect(body.response.items.map((i) => [i.key, i.error])).toEqual(keys.map((k) => [k, '']));
    expect(body.response.items[0]?.value).toMatchObject({
      tracked: true,
      registry: REGISTRY,
      repository: REPO,
      tag: '1.2',
      digest: D1,
      region: 'westus',
      status: 'arrived',
    });
    // A bare reference is :latest.
    expect(body.response.items[3]?.value).toMatchObject({ tag: 'latest', digest: LATEST });
  });

  it('names what is missing in a region the image has not reached', async () => {
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
    const keys = ['nginx', 'nginx:1.27', 'docker.io/library/redis:7', 'ghcr.io/acme/tool:1'];
    const items = await itemsOf('westus', keys);
    for (const key of keys) {
      expect(items.get(key)?.error, key).toBe('');
      expect(items.get(key)?.value, key).toMatchObject({ tracked: false });
      expect(String(items.get(key)?.value?.message)).toContain('not tracked by the gate');
    }
  });

  it('answers a malformed reference, or an unknown image, on its own item', async () => {
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
    const a = `${REGISTRY}/${REPO}:1.2`;
    const b = `${REGISTRY}/${REPO}`;
    const { body } = await ask('westus', [a, b, a, a, b, `${REGISTRY}/${REPO}:latest`]);
    expect(body.response.items.map((i) => i.key)).toEqual([a, b, `${REGISTRY}/${REPO}:latest`]);
  });

  it('answers a batch of 100 keys, each correctly', async () => {
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

  it('takes 1,000 keys, refuses 10,000 with a 413 problem', async () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => `${REGISTRY}/team/many:t${i}`);
    const thousand = await ask('westus', many(1000));
    expect(thousand.status).toBe(200);
    expect(thousand.body.response.items).toHaveLength(1000);
    const tenThousand = await ask('westus', many(10_000));
    expect(tenThousand.status).toBe(413);
    expect(tenThousand.type).toMatch(/^application\/problem\+json/);
    expect(tenThousand.body.detail).toContain('request.keys');
  });

  it('takes the read token in the URL or the header, and nothing else', async () => {
    const key = [`${REGISTRY}/${REPO}:1.2`];
    expect((await ask('westus', key, { token: ADMIN_TOKEN })).status).toBe(200);
    expect((await ask('westus', key, { token: null })).status).toBe(401);
    // A webhook token delivers arrivals only.
    expect((await ask('westus', key, { token: WEBHOOK_TOKEN })).status).toBe(403);
    expect((await ask('westus', key, { token: 'not-a-token-at-all' })).status).toBe(401);
    const viaHeader = await app.call('/api/gatekeeper/westus', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ request: { keys: key } }),
    });
    expect(viaHeader.status).toBe(200);
  });

  it('refuses bad requests with a 400 or 415 naming the field, never a 5xx', async () => {
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

  it('answers systemError, not a failure, when the store cannot be reached', async () => {
    proxy.setFaults({ rate: 1, kinds: ['503'] });
    try {
      const { status, body } = await ask('westus', [`${REGISTRY}/${REPO}:1.2`, 'nginx']);
      expect(status).toBe(200);
      expect(body.response.systemError).toContain('could not be reached');
      expect(body.response.items).toEqual([]);
    } finally {
      proxy.setFaults({ rate: 0 });
    }
  });
});

it('uses the regions of the test app', () => {
  expect(REGIONS).toEqual(expect.arrayContaining(['westus', 'eastus', 'westeurope']));
});
