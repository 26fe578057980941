// The longer fault run: two rounds per tag (a push, then a re-push) while Cosmos DB fails 30 % of requests.
import { expect, it } from 'vitest';
import { REGIONS, useAppBehindFaults } from '../support/app-host';
import {
  audit,
  expectSettled,
  HANG_MS,
  inPool,
  makeArrivalLedger,
  planArrivals,
  readStoredState,
  resendUnacknowledged,
  sendArrival,
  toAnswer,
  type Answer,
  type Arrival,
  type ArrivalLedger,
} from '../support/arrival-ledger';
import { ALL_FAULTS } from '../support/fault-proxy';

const REGISTRY = 'fabrikam.azurecr.io';
const REPOSITORIES = ['chaos/web', 'chaos/api', 'chaos/jobs/worker', 'chaos/db', 'chaos/ui', 'ops'];
const TAGS_PER_REPOSITORY = 10;

const { app, proxy } = useAppBehindFaults(424242);

/** Sends a plan under faults, with status and event-feed reads mixed in; returns the reads' answers. */
async function underFaults(plan: Arrival[], ledger: ArrivalLedger): Promise<Answer[]> {
  const reads: Answer[] = [];
  proxy.setFaults({ rate: 0.3, kinds: ALL_FAULTS, delayMs: 500, retryAfterMs: 50 });
  await inPool(plan, 24, async (arrival, i) => {
    ledger.record(arrival, await sendArrival(app, arrival));
    if (i % 5 === 0) {
      const path =
        i % 10 === 0
          ? '/api/events?limit=20'
          : `/api/replications/${REGISTRY}/${arrival.repository}:${arrival.tag}`;
      reads.push(await toAnswer(await app.call(path, { signal: AbortSignal.timeout(HANG_MS) })));
    }
  });
  proxy.setFaults({ rate: 0 });
  return reads;
}

it('loses nothing acknowledged and emits one event per round across a push and a re-push', async () => {
  expect((await app.call('/api/health')).status).toBe(200);
  const ledger = makeArrivalLedger();
  const plan = (hour: string, seed: number, tagsPerRepository: number) =>
    planArrivals({
      seed,
      registry: REGISTRY,
      repositories: REPOSITORIES,
      tagsPerRepository,
      regions: REGIONS,
      duplicates: 400,
      hour,
    });

  // Round one: a push of every tag; the failed arrivals are re-sent before the re-push.
  const first = plan('09', 1, TAGS_PER_REPOSITORY);
  const firstReads = await underFaults(first, ledger);
  const firstAudit = audit(ledger, await readStoredState(app.cosmos, app.database), REGIONS);
  await resendUnacknowledged(app, ledger);

  // Round two: half of the tags re-pushed with a new digest, an hour later.
  const second = plan('10', 2, TAGS_PER_REPOSITORY / 2);
  const secondReads = await underFaults(second, ledger);
  const secondAudit = audit(ledger, await readStoredState(app.cosmos, app.database), REGIONS);
  await resendUnacknowledged(app, ledger);
  await app.host.runTimer('sweepRounds');

  const final = audit(ledger, await readStoredState(app.cosmos, app.database), REGIONS);
  const answers = ledger.answers().map((a) => a.answer);
  const reads = [...firstReads, ...secondReads];
  console.info(
    [
      `long fault run (30 % faults): ${first.length + second.length} webhooks and ${reads.length} reads under faults,`,
      `${answers.length} webhooks in all with re-sends; injected ${JSON.stringify(proxy.stats.injected)};`,
      `${answers.filter((a) => a.status === 503).length} answers 503;`,
      `${firstAudit.storedUnacknowledged + secondAudit.storedUnacknowledged} arrivals answered 503 were stored all the same;`,
      `acknowledged ${final.acknowledged}, stored ${final.stored};`,
      `events expected ${final.eventsExpected}, emitted ${final.eventsEmitted};`,
      `${firstAudit.pendingOutboxes + secondAudit.pendingOutboxes} outbox(es) left for the sweep`,
    ].join(' '),
  );

  expect(new Set(answers.map((a) => a.status))).toEqual(new Set([202, 503]));
  expect(answers.filter((a) => a.status === 503 && !a.problem)).toEqual([]);
  expect(reads.filter((r) => ![200, 404, 503].includes(r.status ?? 0))).toEqual([]);
  expect(reads.filter((r) => r.status === 503 && !r.problem)).toEqual([]);
  expect(firstAudit.lost).toEqual([]);
  expect(secondAudit.lost).toEqual([]);
  expect(ledger.unacknowledged()).toEqual([]);
  expect(final.eventsExpected).toBe(REPOSITORIES.length * TAGS_PER_REPOSITORY * 1.5);
  expectSettled(final);
});
