// The event feed, event and redelivery handlers called directly over the in-memory store.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { DeliveryRecord } from '../app/ports';
import { aDigest, aPushEvent } from '../../test/support/fixtures';
import { call, expectProblem, handlerDeps, type Call } from '../../test/support/handler-harness';
import { makeEventFeedHandler, makeGetEventHandler, makeRedeliverHandler } from './event-handlers';
import { makeCreateSubscriptionHandler } from './subscription-handlers';
import { makeAcrWebhookHandler } from './webhook-handler';

type Deps = ReturnType<typeof handlerDeps>;

/** A replicated round in one region: an arrived and a replicated event. */
async function replicate(deps: Deps, tag: string) {
  const answer = await call(makeAcrWebhookHandler(deps), {
    url: '/api/webhooks/acr/westus',
    params: { region: 'westus' },
    token: 'webhook',
    json: aPushEvent({ tag, digest: aDigest() }),
  });
  expect(answer.body).toMatchObject({ status: 'replicated' });
}

const feed = (query = '', token = 'read'): Call => ({ url: `/api/events${query}`, token });
type FeedBody = { events: { id: string; type: string; subject: string }[]; cursor: string | null };

describe('GET /api/events', () => {
  it('pages through the feed with the cursor it returns, keeping it on an empty page', async () => {
    const deps = handlerDeps({ defaultRegions: ['westus'] });
    await replicate(deps, 'a');
    await replicate(deps, 'b');
    const handler = makeEventFeedHandler(deps);
    const first = (await call(handler, feed('?limit=3'))).body as FeedBody;
    expect(first.events).toHaveLength(3);
    const rest = (await call(handler, feed(`?after=${first.cursor}`))).body as FeedBody;
    expect(rest.events).toHaveLength(1);
    const all = [...first.events, ...rest.events];
    expect(new Set(all.map((e) => e.id)).size).toBe(4);
    expect(all.filter((e) => e.type === 'acrgate.tag.replicated').map((e) => e.subject)).toEqual([
      'public/products/web:a',
      'public/products/web:b',
    ]);
    const empty = (await call(handler, feed(`?after=${rest.cursor}`))).body as FeedBody;
    expect(empty).toEqual({ events: [], cursor: rest.cursor });
  });

  it('400s a cursor it did not return and a bad limit, naming the field', async () => {
    const handler = makeEventFeedHandler(handlerDeps());
    const cursor = expectProblem(await call(handler, feed('?after=bm9wZQ')), 400);
    expect(cursor.errors).toEqual([expect.objectContaining({ field: 'query.after' })]);
    expect(cursor).toMatchObject({
      title: 'Invalid query',
      detail: 'query.after: is not a cursor this API returned',
    });
    const limit = expectProblem(await call(handler, feed('?limit=101')), 400);
    expect(limit.errors).toEqual([expect.objectContaining({ field: 'query.limit' })]);
  });

  it('answers a forged cursor 400 even while the store is unavailable (503 for a good one)', async () => {
    const deps = handlerDeps({ defaultRegions: ['westus'] });
    await replicate(deps, 'a');
    const handler = makeEventFeedHandler(deps);
    const { cursor } = (await call(handler, feed('?limit=1'))).body as FeedBody;
    deps.store.setUnavailable(true);
    expectProblem(await call(handler, feed('?after=bm9wZQ')), 400);
    expectProblem(await call(handler, feed(`?after=${cursor}`)), 503);
  });

  it('reads with read or admin tokens; 403 for a webhook token', async () => {
    const handler = makeEventFeedHandler(handlerDeps());
    expect((await call(handler, feed('', 'admin'))).status).toBe(200);
    expectProblem(await call(handler, feed('', 'webhook')), 403);
    expectProblem(await call(handler, { url: '/api/events' }), 401);
  });
});

describe('GET /api/events/{id} and POST /api/events/{id}/redeliver', () => {
  it('shows an event with its deliveries, and restarts them on an admin request', async () => {
    const deps = handlerDeps({ defaultRegions: ['westus'] });
    const created = await call(makeCreateSubscriptionHandler(deps), {
      url: '/api/subscriptions',
      token: 'admin',
      json: { url: 'https://hooks.example.com/x' },
    });
    expect(created.status).toBe(201);
    await replicate(deps, 'a');
    const events = ((await call(makeEventFeedHandler(deps), feed())).body as FeedBody).events;
    const replicated = events.find((e) => e.type === 'acrgate.tag.replicated');
    if (!replicated) throw new Error('no replicated event');
    const at = (method: string, id: string, token = 'read'): Call => ({
      method,
      url: `/api/events/${id}`,
      params: { id },
      token,
    });
    const shown = await call(makeGetEventHandler(deps), at('GET', replicated.id));
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({
      event: { id: replicated.id },
      deliveries: [{ subscriptionId: created.body.id, state: 'pending' }],
    });

    const sent: DeliveryRecord[][] = [];
    const redeliver = makeRedeliverHandler({ ...deps, deliverNow: (d) => sent.push(d) });
    expectProblem(await call(redeliver, at('POST', replicated.id, 'read')), 403);
    const again = await call(redeliver, at('POST', replicated.id, 'admin'));
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ id: replicated.id, deliveries: [{ state: 'pending' }] });
    expect(sent).toHaveLength(1);

    const unknown = randomUUID();
    expectProblem(await call(makeGetEventHandler(deps), at('GET', unknown)), 404);
    expectProblem(await call(redeliver, at('POST', unknown, 'admin')), 404);
    const bad = expectProblem(await call(makeGetEventHandler(deps), at('GET', 'x')), 400);
    expect(bad.errors).toEqual([expect.objectContaining({ field: 'path.id' })]);
  });
});

describe('GET /api/events (moved down from test/e2e/events.test.ts)', () => {
  it('pages through every event once with a cursor', async () => {
    const deps = handlerDeps({ defaultRegions: ['westus'] });
    const ids: string[] = [];
    for (const tag of ['feed-1', 'feed-2', 'feed-3']) {
      const answer = await call(makeAcrWebhookHandler(deps), {
        url: '/api/webhooks/acr/westus',
        params: { region: 'westus' },
        token: 'webhook',
        json: aPushEvent({ repository: 'feed/app', tag }),
      });
      ids.push(answer.body.eventId as string);
    }
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 50; page++) {
      const query: string = cursor ? `?limit=2&after=${cursor}` : '?limit=2';
      const body = (await call(makeEventFeedHandler(deps), feed(query))).body as FeedBody;
      if (body.events.length === 0) break;
      seen.push(...body.events.map((e) => e.id));
      cursor = body.cursor;
    }
    // Events recorded in the same millisecond are ordered by id, not by completion: the feed
    // promises each event once, in recorded order at millisecond resolution.
    const ours = seen.filter((id) => ids.includes(id));
    expect([...ours].sort()).toEqual([...ids].sort());
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('rejects a cursor it did not issue', async () => {
    const response = await call(makeEventFeedHandler(handlerDeps()), feed('?after=not-a-cursor'));
    expect(response.status).toBe(400);
  });
});
