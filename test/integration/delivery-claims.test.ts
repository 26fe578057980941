// Several instances delivering at once never send the same attempt twice: claims are conditional writes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDeliverer } from '../../src/app/deliver-events';
import { createSubscription } from '../../src/app/manage-subscriptions';
import { publishOutbox } from '../../src/app/publish-events';
import { sendDelivery } from '../../src/events/send-delivery';
import { toReplicatedEvent } from '../../src/events/replicated-event';
import { applyPush, emptyTagState, evaluate } from '../../src/replication/tag-state';
import { toInstant, type Instant } from '../../src/replication/timestamp';
import { systemClock } from '../../src/main';
import { anInstance, cosmosSettings, freshDatabase, useEmbeddedCosmos } from '../support/cosmos';
import { startReceiver, type Receiver } from '../support/receiver';

const cosmos = useEmbeddedCosmos();
let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver(() => ({ status: 200 }));
});
afterAll(async () => {
  await receiver.close();
});

describe('delivery claims', () => {
  it('sends each due delivery once when five instances race for it', async () => {
    const settings = cosmosSettings(cosmos.endpoint, cosmos.key, freshDatabase());
    const instances = Array.from({ length: 5 }, () => anInstance(settings, ['westus']));
    const first = instances[0]!;
    await createSubscription(first, {
      url: `${receiver.url}/claims`,
      format: 'cloudevents',
      filter: {},
      headers: {},
      types: [],
    });

    // Ten completed tags, published without sending: their deliveries are all due.
    for (let i = 0; i < 10; i++) {
      const state = applyPush(
        emptyTagState({ registry: 'contoso.azurecr.io', repository: 'claims', tag: `t${i}` }),
        {
          region: 'westus',
          digest: `sha256:${String(i).repeat(64)}`,
          timestamp: toInstant('2026-03-14T09:00:00Z') as Instant,
        },
      );
      const record = {
        state,
        evaluation: evaluate(state, ['westus']),
        outbox: [toReplicatedEvent(state, evaluate(state, ['westus']))],
        updatedAt: systemClock.now(),
      };
      const saved = await first.store.tags.save(record, 'absent');
      if (!saved.ok) throw new Error('setup failed');
      await publishOutbox(first, { record, etag: saved.etag });
    }

    const deliverers = instances.map((deps) =>
      makeDeliverer({ ...deps, retryScheduleMs: [1000], timeoutMs: 2000, send: sendDelivery }),
    );
    const reports = await Promise.all(deliverers.map((d) => d.deliverDue()));
    const attempted = reports.reduce((sum, r) => sum + r.attempted, 0);

    expect(attempted).toBe(10);
    // Only this test's receiver path: the other test sends to the same receiver.
    const ids = receiver.received
      .filter((r) => r.path === '/hook/claims')
      .map((r) => r.headers['webhook-id']);
    expect(ids).toHaveLength(10);
    expect(new Set(ids).size).toBe(10);
  });

  it('stamps each attempt with the injected clock, not the wall clock', async () => {
    const settings = cosmosSettings(cosmos.endpoint, cosmos.key, freshDatabase());
    const clock = { now: () => toInstant('2031-05-06T07:08:09.123Z') as Instant };
    const deps = { ...anInstance(settings, ['westus']), clock };
    await createSubscription(deps, {
      url: `${receiver.url}/clock`,
      format: 'cloudevents',
      filter: {},
      headers: {},
      types: [],
    });
    const state = applyPush(
      emptyTagState({ registry: 'contoso.azurecr.io', repository: 'clock', tag: 'v1' }),
      {
        region: 'westus',
        digest: `sha256:${'c'.repeat(64)}`,
        timestamp: toInstant('2026-03-14T09:00:00Z') as Instant,
      },
    );
    const record = {
      state,
      evaluation: evaluate(state, ['westus']),
      outbox: [toReplicatedEvent(state, evaluate(state, ['westus']))],
      updatedAt: clock.now(),
    };
    const saved = await deps.store.tags.save(record, 'absent');
    if (!saved.ok) throw new Error('setup failed');
    await publishOutbox(deps, { record, etag: saved.etag });

    const deliverer = makeDeliverer({
      ...deps,
      retryScheduleMs: [1000],
      timeoutMs: 2000,
      send: sendDelivery,
    });
    expect((await deliverer.deliverDue()).delivered).toBe(1);
    const got = receiver.received.filter((r) => r.path === '/hook/clock');
    expect(got).toHaveLength(1);
    // Standard Webhooks: seconds since the epoch of the clock's 2031-05-06T07:08:09Z.
    expect(got[0]?.headers['webhook-timestamp']).toBe(String(Date.UTC(2031, 4, 6, 7, 8, 9) / 1000));
  });
});
