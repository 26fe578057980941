// The Event Grid handlers called directly: HttpRequest in, HttpResponseInit out, in-memory store.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  aCloudEvent,
  aValidationEvent,
  anEventGridEvent,
  DELETED,
} from '../../test/support/event-grid-events';
import { aDeleteEvent, aDigest, aPushEvent } from '../../test/support/fixtures';
import {
  call,
  expectProblem,
  handlerDeps,
  REGISTRY,
  TOKENS,
  type Call,
} from '../../test/support/handler-harness';
import { makeEventGridHandler, makeEventGridOptionsHandler } from './eventgrid-handler';
import { makeStatusHandler } from './replication-handlers';

type Deps = ReturnType<typeof handlerDeps>;
type Result = { id: string; outcome: string; region?: string; reason?: string };

const URL = '/api/webhooks/eventgrid';
const delivery = (json: unknown, extra: Partial<Call> = {}): Call => ({
  url: URL,
  token: 'webhook',
  json,
  ...extra,
});
const deliver = (deps: Deps, json: unknown, extra: Partial<Call> = {}) =>
  call(makeEventGridHandler(deps), delivery(json, extra));

const status = async (deps: Deps, tag: string) => {
  const reference = `public/products/web:${tag}`;
  return call(makeStatusHandler(deps), {
    url: `/api/replications/${REGISTRY}/${reference}`,
    params: { registry: REGISTRY, reference },
    token: 'read',
  });
};
const results = (body: Record<string, unknown>) => body.results as Result[];

describe('POST /api/webhooks/eventgrid', () => {
  it('records a batch of every region as one replicated round; the same batch again changes nothing', async () => {
    const deps = handlerDeps();
    const digest = aDigest();
    const batch = deps.defaultRegions.map((region, i) =>
      anEventGridEvent(
        aPushEvent({ tag: 'batch', digest, timestamp: `2026-03-14T10:00:0${i}.5Z` }),
        region,
      ),
    );
    const first = await deliver(deps, batch);
    expect(first.status).toBe(200);
    expect(results(first.body).map((r) => [r.id, r.outcome, r.region])).toEqual(
      batch.map((e, i) => [e.id, 'recorded', deps.defaultRegions[i]]),
    );
    expect(first.body.rejected).toBeUndefined();
    expect((await status(deps, 'batch')).body).toMatchObject({ digest, status: 'replicated' });
    const again = await deliver(deps, batch);
    expect(results(again.body).map((r) => r.outcome)).toEqual(['unchanged', 'unchanged']);
    expect(again.logs.join('\n')).toMatch(/already known/);
  });

  it('takes a single CloudEvent and a CloudEvents batch, the media type with parameters', async () => {
    const deps = handlerDeps();
    const digest = aDigest();
    const [west, east] = ['westus', 'eastus'].map((region) =>
      aCloudEvent(aPushEvent({ tag: 'ce', digest }), region),
    );
    const single = await deliver(deps, west, {
      headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
    });
    expect(results(single.body)).toEqual([
      expect.objectContaining({ id: west!.id, outcome: 'recorded', region: 'westus' }),
    ]);
    expect((await status(deps, 'ce')).body).toMatchObject({ missingRegions: ['eastus'] });
    const batch = await deliver(deps, [east], {
      headers: { 'content-type': 'application/cloudevents-batch+json' },
    });
    expect(results(batch.body)[0]).toMatchObject({ outcome: 'recorded', region: 'eastus' });
    expect((await status(deps, 'ce')).body).toMatchObject({ digest, status: 'replicated' });
  });

  // Moved down from test/e2e/eventgrid.test.ts.
  it('records an ImageDeleted as the delete of the manifest in its region', async () => {
    const deps = handlerDeps({ defaultRegions: ['westus'] });
    const digest = aDigest();
    await deliver(deps, [anEventGridEvent(aPushEvent({ tag: 'doomed', digest }), 'westus')]);
    const gone = await deliver(deps, [
      anEventGridEvent(
        aDeleteEvent({ digest, timestamp: '2026-03-14T12:00:00Z' }),
        'westus',
        DELETED,
      ),
    ]);
    expect(results(gone.body)[0]).toMatchObject({ outcome: 'recorded', region: 'westus' });
    expect((await status(deps, 'doomed')).body.status).toBe('deleted');
  });

  it('normalises the region of data.location (WestUS is westus)', async () => {
    const deps = handlerDeps();
    const answer = await deliver(deps, [anEventGridEvent(aPushEvent({ tag: 'case' }), 'WestUS')]);
    expect(results(answer.body)[0]).toMatchObject({ outcome: 'recorded', region: 'westus' });
  });

  // Moved down from test/e2e/eventgrid.test.ts.
  it('acknowledges chart, storage and connected-registry events without recording them', async () => {
    const deps = handlerDeps();
    const chart = {
      ...anEventGridEvent(
        aPushEvent({ tag: 'chart' }),
        'westus',
        'Microsoft.ContainerRegistry.ChartPushed',
      ),
      data: {
        id: 'c1',
        timestamp: '2026-03-14T10:00:00Z',
        action: 'chart_push',
        location: 'westus',
      },
    };
    const blob = {
      id: randomUUID(),
      topic: '/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/z',
      subject: '/blobServices/default/containers/c/blobs/b',
      eventType: 'Microsoft.Storage.BlobCreated',
      eventTime: '2026-03-14T10:00:00Z',
      data: { url: 'https://z.blob.core.windows.net/c/b' },
      dataVersion: '',
    };
    const connected = anEventGridEvent(aPushEvent({ tag: 'on-prem' }), 'westus');
    connected.data.connectedRegistry = { name: 'factory-floor' };
    const answer = await deliver(deps, [chart, blob, connected]);
    expect(answer.status).toBe(200);
    expect(results(answer.body).map((r) => r.outcome)).toEqual(['ignored', 'ignored', 'ignored']);
    expect(results(answer.body)[2]?.reason).toMatch(/connected registry/);
    expect(await deps.store.tags.anyInRegistry(REGISTRY)).toBe(false);
  });

  it('answers the subscription validation event with its code, and records nothing', async () => {
    const deps = handlerDeps();
    const code = randomUUID().toUpperCase();
    const answer = await deliver(deps, [aValidationEvent(code)], {
      headers: { 'aeg-event-type': 'SubscriptionValidation' },
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ validationResponse: code });
    const invalid = aValidationEvent(code);
    delete (invalid.data as Partial<typeof invalid.data>).validationCode;
    const refused = expectProblem(await deliver(deps, [invalid]), 400);
    expect(refused.errors).toEqual([expect.objectContaining({ field: '[0].data.validationCode' })]);
  });
});

describe('POST /api/webhooks/eventgrid with invalid events', () => {
  it('records the valid events of a batch, and names the invalid ones by index in a 200 and an alert', async () => {
    const deps = handlerDeps();
    const digest = aDigest();
    const west = anEventGridEvent(aPushEvent({ tag: 'half-valid', digest }), 'westus');
    const broken = anEventGridEvent(aPushEvent({ tag: 'half-valid' }), 'canadacentral');
    (broken.data.target as Record<string, unknown>).digest = 'md5:nope';
    const east = anEventGridEvent(aPushEvent({ tag: 'half-valid', digest }), 'eastus');
    const answer = await deliver(deps, [west, broken, east]);
    // Event Grid drops (or dead-letters) a whole batch answered 400, the valid events with it.
    expect(answer.status).toBe(200);
    expect(results(answer.body).map((r) => [r.id, r.outcome])).toEqual([
      [west.id, 'recorded'],
      [east.id, 'recorded'],
    ]);
    expect(answer.body.rejected).toEqual([
      {
        index: 1,
        id: broken.id,
        type: broken.eventType,
        errors: [expect.objectContaining({ field: '[1].data.target.digest' })],
      },
    ]);
    expect((await status(deps, 'half-valid')).body).toMatchObject({ digest, status: 'replicated' });
    const alerts = answer.logs.filter((line) => line.includes('ALERT'));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatch(/^error ALERT .*\[1\].*\[1\]\.data\.target\.digest/);
    expect(alerts[0]).toContain(broken.id);
  });

  it('keeps what a refused event says about itself out of the alert unless it is plain text', async () => {
    const deps = handlerDeps();
    const good = anEventGridEvent(aPushEvent({ tag: 'forged' }), 'westus');
    const forged = {
      ...anEventGridEvent(aPushEvent({ tag: 'forged' }), 'westus'),
      id: 'x\nerror ALERT forged line',
      data: 'not an object',
    };
    const answer = await deliver(deps, [good, forged]);
    expect(answer.status).toBe(200);
    expect(answer.body.rejected).toEqual([
      {
        index: 1,
        type: forged.eventType,
        errors: [expect.objectContaining({ field: '[1].data' })],
      },
    ]);
    const alerts = answer.logs.filter((line) => line.includes('ALERT'));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).not.toContain('\n');
    expect(alerts[0]).toContain('id ?');
  });

  it('refuses, as a 400 that stores nothing, a delivery none of whose events is valid', async () => {
    const deps = handlerDeps();
    const one = anEventGridEvent(aPushEvent({ tag: 'none-valid' }), 'westus');
    (one.data.target as Record<string, unknown>).digest = 'md5:nope';
    const two = anEventGridEvent(aPushEvent({ tag: 'none-valid' }), 'not a region');
    const problem = expectProblem(await deliver(deps, [one, two]), 400);
    expect(problem.detail).toMatch(/^\[0\]\.data\.target\.digest: /);
    expect((problem.errors as { field: string }[]).map((e) => e.field)).toEqual([
      '[0].data.target.digest',
      '[1].data.location',
    ]);
    expect(await deps.store.tags.anyInRegistry(REGISTRY)).toBe(false);
  });

  it('counts an event stamped far ahead of the clock as invalid, not the whole batch', async () => {
    const deps = handlerDeps({ defaultRegions: ['westus'] });
    const good = anEventGridEvent(aPushEvent({ tag: 'skewed' }), 'westus');
    const future = anEventGridEvent(
      aPushEvent({ tag: 'future', timestamp: '9999-12-31T23:59:59Z' }),
      'westus',
    );
    const answer = await deliver(deps, [good, future]);
    expect(answer.status).toBe(200);
    expect(results(answer.body).map((r) => r.id)).toEqual([good.id]);
    expect(answer.body.rejected).toEqual([
      expect.objectContaining({
        index: 1,
        errors: [expect.objectContaining({ field: '[1].data.timestamp' })],
      }),
    ]);
    expect((await status(deps, 'skewed')).body.status).toBe('replicated');
    expect((await status(deps, 'future')).status).toBe(404);
    // Alone, it is a 400 naming the field.
    const alone = expectProblem(await deliver(deps, [future]), 400);
    expect(alone.errors).toEqual([expect.objectContaining({ field: '[0].data.timestamp' })]);
  });

  // Moved down from test/e2e/eventgrid.test.ts.
  it('names the field of a single CloudEvent without an index, and of a broken envelope with one', async () => {
    const deps = handlerDeps();
    const noRegion = aCloudEvent(aPushEvent(), 'westus');
    delete noRegion.data.location;
    const single = expectProblem(
      await deliver(deps, noRegion, {
        headers: { 'content-type': 'application/cloudevents+json' },
      }),
      400,
    );
    expect(single.errors).toEqual([expect.objectContaining({ field: 'data.location' })]);
    const envelope = expectProblem(
      await deliver(deps, [{ ...anEventGridEvent(aPushEvent(), 'westus'), id: 7 }]),
      400,
    );
    expect((envelope.errors as { field: string }[])[0]?.field).toBe('[0].id');
    const mismatch = anEventGridEvent(aPushEvent(), 'westus', DELETED);
    const action = expectProblem(await deliver(deps, [mismatch]), 400);
    expect(action.errors).toEqual([expect.objectContaining({ field: '[0].data.action' })]);
    const notObject = { ...anEventGridEvent(aPushEvent(), 'westus'), data: 'push' };
    const data = expectProblem(await deliver(deps, [notObject]), 400);
    expect(data.errors).toEqual([expect.objectContaining({ field: '[0].data' })]);
  });

  it('refuses a body that is not a list of events, an empty list, and other media types', async () => {
    const deps = handlerDeps();
    for (const body of [{ not: 'an array' }, [], 'push']) {
      const problem = expectProblem(await deliver(deps, body), 400);
      expect(problem.errors).toEqual([expect.objectContaining({ field: '(body)' })]);
    }
    const text = await deliver(deps, undefined, {
      headers: { 'content-type': 'text/plain' },
      rawBody: '[]',
    });
    expect(expectProblem(text, 415).errors).toEqual([
      expect.objectContaining({ field: 'content-type' }),
    ]);
    const malformed = await deliver(deps, undefined, {
      headers: { 'content-type': 'application/json' },
      rawBody: '[{',
    });
    expectProblem(malformed, 400);
  });

  it('acknowledges nothing while the store is down: 503 with retry-after, so Event Grid retries', async () => {
    const deps = handlerDeps();
    deps.store.setUnavailable(true);
    const answer = await deliver(deps, [anEventGridEvent(aPushEvent({ tag: 'lost' }), 'westus')]);
    expectProblem(answer, 503);
    expect(answer.headers.get('retry-after')).toBe('5');
  });
});

describe('POST /api/webhooks/eventgrid authentication', () => {
  const body = () => [anEventGridEvent(aPushEvent({ tag: 'unauthorised' }), 'westus')];

  // Moved down from test/e2e/eventgrid.test.ts.
  it('takes only the webhook token: 401 without or with a wrong one, 403 for read and admin', async () => {
    const deps = handlerDeps();
    expectProblem(await deliver(deps, body(), { token: undefined }), 401);
    expectProblem(await deliver(deps, body(), { token: 'not-the-webhook-token-123' }), 401);
    expectProblem(await deliver(deps, body(), { token: 'read' }), 403);
    expectProblem(await deliver(deps, body(), { token: 'admin' }), 403);
    const wrongQuery = await deliver(deps, body(), {
      token: undefined,
      url: `${URL}?token=not-the-webhook-token-123`,
    });
    expectProblem(wrongQuery, 401);
    expect(await deps.store.tags.anyInRegistry(REGISTRY)).toBe(false);
  });

  // Moved down from test/e2e/eventgrid.test.ts.
  it('takes the token as ?token= instead of the header; the header wins when both are sent', async () => {
    const deps = handlerDeps();
    const byQuery = await deliver(deps, body(), {
      token: undefined,
      url: `${URL}?token=${encodeURIComponent(TOKENS.webhook)}`,
    });
    expect(byQuery.status).toBe(200);
    const headerWins = await deliver(deps, body(), {
      token: 'not-the-webhook-token-123',
      url: `${URL}?token=${encodeURIComponent(TOKENS.webhook)}`,
    });
    expectProblem(headerWins, 401);
  });

  // Moved down from test/e2e/eventgrid.test.ts.
  it('authenticates the validation handshake too', async () => {
    const deps = handlerDeps();
    const answer = await deliver(deps, [aValidationEvent('ABC')], { token: undefined });
    expectProblem(answer, 401);
    expect(answer.body.validationResponse).toBeUndefined();
  });
});

describe('OPTIONS /api/webhooks/eventgrid (CloudEvents abuse protection)', () => {
  const options = (extra: Partial<Call>) =>
    call(makeEventGridOptionsHandler(handlerDeps()), { method: 'OPTIONS', url: URL, ...extra });
  const origin = { 'webhook-request-origin': 'eventgrid.azure.net' };

  it('allows the origin for a webhook token in the header or in ?token=', async () => {
    for (const extra of [
      { token: 'webhook' },
      { url: `${URL}?token=${encodeURIComponent(TOKENS.webhook)}` },
    ]) {
      const answer = await options({ ...extra, headers: origin });
      expect(answer.status).toBe(200);
      expect(answer.headers.get('webhook-allowed-origin')).toBe('eventgrid.azure.net');
      expect(answer.headers.get('webhook-allowed-rate')).toBe('*');
    }
  });

  // Moved down from test/e2e/eventgrid.test.ts.
  it('refuses without a token, with a wrong one, and without a plain origin', async () => {
    const none = await options({ headers: origin });
    expectProblem(none, 401);
    expect(none.headers.get('webhook-allowed-origin')).toBeNull();
    expectProblem(
      await options({ url: `${URL}?token=wrong-token-0123456789`, headers: origin }),
      401,
    );
    const origins: Record<string, string>[] = [
      {},
      { 'webhook-request-origin': 'evil.example/x' },
      { 'webhook-request-origin': 'a b' },
    ];
    for (const headers of origins) {
      const problem = expectProblem(await options({ token: 'webhook', headers }), 400);
      expect(problem.errors).toEqual([
        expect.objectContaining({ field: 'webhook-request-origin' }),
      ]);
    }
  });
});
