// Everything a 4-region round costs in Cosmos DB, from its first webhook until the "replicated"
// event's delivery to one subscriber is recorded: arrivals, completion, event, delivery and outcome.
import { makeDeliverer, type DeliveryReport } from '../src/app/deliver-events';
import { recordArrival } from '../src/app/record-arrival';
import type { NewDelivery } from '../src/app/update-tag';
import { sendDelivery } from '../src/events/send-delivery';
import { REPLICATED_EVENT_TYPE } from '../src/events/event-types';
import { startReceiver } from '../test/support/receiver';
import { measured, prepareDatabase, settingsFor, type BenchEnv } from './support/bench-env';
import { totalRequests } from './support/counting-proxy';
import { mean, round } from './support/stats';
import {
  FOUR_REGIONS,
  aSubscription,
  anAppInstance,
  anArrival,
  digestOf,
} from './support/workload';

export interface EndToEndResult {
  rounds: number;
  /** Every request from the first webhook until the delivery's outcome is stored, per webhook. */
  roundTripsPerWebhook: number;
  /** The same per round, by operation (mean). */
  byOperation: Record<string, number>;
  delivered: number;
}

const REGISTRY = 'endtoend.azurecr.io';
const REPOSITORY = 'bench/end-to-end';

export async function measureEndToEnd(env: BenchEnv): Promise<EndToEndResult> {
  const database = 'bench-end-to-end';
  await prepareDatabase(env, database);
  const receiver = await startReceiver(() => ({ status: 200 }));
  try {
    const app = anAppInstance(settingsFor(env, database), FOUR_REGIONS);
    const deliverer = makeDeliverer({
      store: app.store,
      clock: app.clock,
      retryScheduleMs: [1_000],
      timeoutMs: 5_000,
      send: sendDelivery,
    });
    // As src/main.ts wires it: first attempts go out at once, from what the write stored.
    const sending: Promise<DeliveryReport>[] = [];
    app.onNewDeliveries = (deliveries: NewDelivery[]) => {
      sending.push(deliverer.deliverClaimed(deliveries));
    };
    app.firstAttemptLeaseMs = 35_000;
    // One subscription, to the replicated events, as the target states it.
    await app.store.subscriptions.create({
      ...aSubscription(),
      url: receiver.url,
      types: [REPLICATED_EVENT_TYPE],
    });

    const round = async (tag: string) => {
      const t0 = Date.UTC(2026, 2, 14, 9, 0, 0);
      const digest = digestOf(`${tag}/a`);
      for (const [i, region] of FOUR_REGIONS.entries()) {
        const a = anArrival({
          registry: REGISTRY,
          repository: REPOSITORY,
          tag,
          digest,
          region,
          atMs: t0 + i * 1000,
        });
        await recordArrival(app, a.intent, a.region, a.body);
      }
      // Until the outcome of the first attempt is stored.
      await Promise.all(sending.splice(0));
    };
    await round('warm');
    const rounds = env.quick ? 8 : 30;
    const perRound: number[] = [];
    const totals: Record<string, number> = {};
    for (let i = 0; i < rounds; i++) {
      const { counts } = await measured(env, () => round(`e2e-${i}`));
      perRound.push(totalRequests(counts));
      for (const [op, c] of Object.entries(counts)) totals[op] = (totals[op] ?? 0) + c.requests;
    }
    return {
      rounds,
      roundTripsPerWebhook: mean(perRound) / FOUR_REGIONS.length,
      byOperation: Object.fromEntries(
        Object.entries(totals).map(([op, n]) => [op, round3(n / rounds)]),
      ),
      delivered: receiver.received.length,
    };
  } finally {
    await receiver.close();
  }
}

const round3 = (n: number): number => round(n, 3);
