// Webhooks while Cosmos DB throttles, fails, stalls and drops connections: nothing acknowledged is lost, one event per round.
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
} from '../support/arrival-ledger';
import { ALL_FAULTS } from '../support/fault-proxy';

const REGISTRY = 'contoso.azurecr.io';
const REPOSITORIES = ['faults/web', 'faults/api', 'faults/jobs/worker', 'faults/db'];
const TAGS_PER_REPOSITORY = 6;

const { app, proxy } = useAppBehindFaults(20260314);

it('acknowledges only what it stored, answers 503 problem+json otherwise, and emits one event per (tag, digest)', async () => {
  expect((await app.call('/api/health')).status).toBe(200); // the container exists before faults

  const plan = planArrivals({
    seed: 7,
    registry: REGISTRY,
    repositories: REPOSITORIES,
    tagsPerRepository: TAGS_PER_REPOSITORY,
    regions: REGIONS,
    duplicates: 160,
  });
  const ledger = makeArrivalLedger();
  const reads: Answer[] = [];
  proxy.setFaults({ rate: 0.2, kinds: ALL_FAULTS, delayMs: 150, retryAfterMs: 20 });
  await inPool(plan, 16, async (arrival, i) => {
    ledger.record(arrival, await sendArrival(app, arrival));
    if (i % 6 === 0) {
      const path = `/api/replications/${REGISTRY}/${arrival.repository}:${arrival.tag}`;
      reads.push(await toAnswer(await app.call(path, { signal: AbortSignal.timeout(HANG_MS) })));
    }
  });
  proxy.setFaults({ rate: 0 });
  const injected = { ...proxy.stats.injected };

  // Every kind of fault happened, and some reached the client as 503.
  for (const kind of ALL_FAULTS) expect(injected[kind], kind).toBeGreaterThan(0);
  const answers = ledger.answers().map((a) => a.answer);
  const unavailable = answers.filter((a) => a.status === 503);
  expect(answers).toHaveLength(plan.length);
  expect(unavailable.length).toBeGreaterThan(0);
  // Nothing but 202 and 503 (no hang, no 500); every 503 is problem+json.
  expect(new Set(answers.map((a) => a.status))).toEqual(new Set([202, 503]));
  expect(unavailable.filter((a) => !a.problem)).toEqual([]);
  expect(reads.filter((r) => ![200, 404, 503].includes(r.status ?? 0))).toEqual([]);
  expect(reads.filter((r) => r.status === 503 && !r.problem)).toEqual([]);

  // Every acknowledged arrival is stored, read straight from the server.
  const during = audit(ledger, await readStoredState(app.cosmos, app.database), REGIONS);
  expect(during.acknowledged).toBeGreaterThan(0);
  expect(during.lost).toEqual([]);

  // Re-sent as Event Grid or reconciliation would; the sweep publishes outboxes a failed publish left.
  await resendUnacknowledged(app, ledger);
  expect(ledger.unacknowledged()).toEqual([]);
  await app.host.runTimer('sweepRounds');

  const state = await readStoredState(app.cosmos, app.database);
  const after = audit(ledger, state, REGIONS);
  console.info(
    `faults: ${plan.length} webhooks, injected ${JSON.stringify(injected)}; ` +
      `${during.acknowledged} arrivals acknowledged, ${unavailable.length} answers 503, ` +
      `${during.storedUnacknowledged} never-acknowledged arrival(s) stored all the same, ` +
      `${during.pendingOutboxes} outbox(es) left for the sweep`,
  );
  expect(after.eventsExpected).toBe(REPOSITORIES.length * TAGS_PER_REPOSITORY);
  expectSettled(after);

  // The status API agrees: replicated, naming the one event.
  const eventIds = new Set(state.events.map((e) => e.id));
  for (const item of state.tags.values()) {
    const response = await app.call(
      `/api/replications/${REGISTRY}/${item.repository}:${item.tag ?? ''}`,
    );
    const body = (await response.json()) as { status: string; eventId: string | null };
    expect(body.status).toBe('replicated');
    expect(eventIds.has(body.eventId ?? '')).toBe(true);
  }
});
