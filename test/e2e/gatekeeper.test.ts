// The Gatekeeper external data provider over HTTP, through the real registrations: the response
// shape and content type, the body limit, tokens in the URL, a real store outage. Every kind of image
// key, batches and bad input are checked at the handler: src/http/gatekeeper-handler.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import { aDigest, aPushEvent } from '../support/fixtures';
import {
  ADMIN_TOKEN,
  REGIONS,
  useAppBehindFaults,
  READ_TOKEN,
  WEBHOOK_TOKEN,
} from '../support/app-host';

const REGISTRY = 'contoso.azurecr.io';
const REPO = 'team/web';

const { app, proxy } = useAppBehindFaults(11);

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
