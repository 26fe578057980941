// The Event Grid topic sink, wired by settings, and the first attempt that goes out without the timer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aDigest, aPushEvent } from '../support/fixtures';
import { ADMIN_TOKEN, REGIONS, useApp } from '../support/app-host';
import { startReceiver, type Receiver } from '../support/receiver';

let topic: Receiver;
beforeAll(async () => {
  // A loopback stand-in for the topic endpoint: Event Grid answers 200 to an accepted batch.
  topic = await startReceiver(() => ({ status: 200 }));
});
afterAll(async () => {
  await topic?.close();
});
const app = useApp(() => ({
  EVENTGRID_TOPIC_ENDPOINT: topic.url.replace(/\/hook$/, '/api/events'),
  EVENTGRID_TOPIC_KEY: 'topic-key-for-tests',
}));

describe('EVENTGRID_TOPIC_ENDPOINT and EVENTGRID_TOPIC_KEY', () => {
  it('publish each replicated event to the topic at once, without waiting for the timer', async () => {
    const digest = aDigest();
    let eventId = '';
    for (const [i, region] of REGIONS.entries()) {
      const response = await app.post(
        `/api/webhooks/acr/${region}`,
        aPushEvent({ tag: 'to-topic', digest, timestamp: `2026-03-14T09:00:0${i}Z` }),
      );
      eventId = ((await response.json()) as { eventId: string | null }).eventId ?? eventId;
    }
    // No runTimer here: only the immediate first attempt can deliver it.
    for (let i = 0; i < 50 && topic.received.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(topic.received).toHaveLength(1);
    const [request] = topic.received;
    expect(request?.path).toMatch(/^\/api\/events\?api-version=/);
    expect(request?.headers['aeg-sas-key']).toBe('topic-key-for-tests');
    expect(request?.headers['content-type']).toMatch(/^application\/cloudevents-batch\+json/);
    const batch = JSON.parse(request?.body ?? '[]') as Record<string, unknown>[];
    expect(batch).toHaveLength(1);
    expect(batch[0]).toMatchObject({
      id: eventId,
      type: 'acrgate.tag.replicated',
      source: '/registries/contoso.azurecr.io',
      subject: 'public/products/web:to-topic',
      data: { digest, tag: 'to-topic' },
    });

    const page = await app.call(`/api/events/${eventId}`, { token: ADMIN_TOKEN });
    const { deliveries } = (await page.json()) as {
      deliveries: { subscriptionId: string; state: string }[];
    };
    expect(deliveries).toEqual([
      expect.objectContaining({ subscriptionId: 'eventgrid-topic', state: 'delivered' }),
    ]);
  });
});
