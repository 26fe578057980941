// The books of a fault run: every arrival sent and every answer, audited against what Cosmos DB stored.
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import type { RunningApp } from './app-host';
import { directClient } from './cosmos';
import { seededRandom } from './fault-proxy';
import { aPushEvent } from './fixtures';

export interface Arrival {
  registry: string;
  repository: string;
  tag: string;
  digest: string;
  region: string;
  /** ACR's event timestamp. */
  timestamp: string;
}

/** One answer of the app; `status` null when none came (a dropped connection or a hang). */
export interface Answer {
  status: number | null;
  /** The body is problem+json whose `status` matches the answer's. */
  problem: boolean;
}

export const tagKeyOf = (a: { registry: string; repository: string; tag: string }): string =>
  `${a.registry}/${a.repository}:${a.tag}`;
const roundKeyOf = (a: Arrival): string => `${tagKeyOf(a)}@${a.digest}`;
const arrivalKeyOf = (a: Arrival): string => `${roundKeyOf(a)}#${a.region}`;

/** A digest that depends only on its name, so a seeded run sends the same webhooks. */
export const digestOf = (name: string): string =>
  `sha256:${createHash('sha256').update(name).digest('hex')}`;

/** Region i reports the push i seconds after it was taken, on the given day and hour. */
export function anArrival(
  tag: Omit<Arrival, 'region' | 'timestamp'>,
  region: string,
  regions: readonly string[],
  hour = '09',
): Arrival {
  const i = Math.max(0, regions.indexOf(region));
  return { ...tag, region, timestamp: `2026-03-14T${hour}:00:${String(i).padStart(2, '0')}.5Z` };
}

export const toWebhookBody = (a: Arrival): Record<string, unknown> =>
  aPushEvent({
    registry: a.registry,
    repository: a.repository,
    tag: a.tag,
    digest: a.digest,
    timestamp: a.timestamp,
  });

/** Every tag × region once, plus `duplicates` extra copies of randomly chosen ones, shuffled by seed. */
export function planArrivals(options: {
  seed: number;
  registry: string;
  repositories: readonly string[];
  tagsPerRepository: number;
  regions: readonly string[];
  duplicates: number;
  /** The hour of the push: another hour is a re-push, with another digest. */
  hour?: string;
}): Arrival[] {
  const random = seededRandom(options.seed);
  const unique: Arrival[] = [];
  for (const repository of options.repositories) {
    for (let n = 0; n < options.tagsPerRepository; n++) {
      const tag = `tag-${n}`;
      const digest = digestOf(`${options.registry}/${repository}:${tag}@${options.hour ?? '09'}`);
      for (const region of options.regions) {
        unique.push(
          anArrival(
            { registry: options.registry, repository, tag, digest },
            region,
            options.regions,
            options.hour,
          ),
        );
      }
    }
  }
  const all = [...unique];
  for (let i = 0; i < options.duplicates; i++) {
    const copy = unique[Math.floor(random() * unique.length)];
    if (copy) all.push(copy);
  }
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [all[i], all[j]] = [all[j] as Arrival, all[i] as Arrival];
  }
  return all;
}

/** Far above any answer under faults; only a hang reaches it. */
export const HANG_MS = 25_000;

/** Posts one arrival's webhook; no answer within HANG_MS counts as none. */
export async function sendArrival(
  app: Pick<RunningApp, 'call'>,
  arrival: Arrival,
): Promise<Answer> {
  try {
    return await toAnswer(
      await app.call(`/api/webhooks/acr/${arrival.region}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(toWebhookBody(arrival)),
        signal: AbortSignal.timeout(HANG_MS),
      }),
    );
  } catch {
    return { status: null, problem: false };
  }
}

/** Re-sends what was never acknowledged, as Event Grid or reconciliation would; a few rounds at most. */
export async function resendUnacknowledged(
  app: Pick<RunningApp, 'call'>,
  ledger: ArrivalLedger,
): Promise<void> {
  for (let round = 0; round < 5 && ledger.unacknowledged().length > 0; round++) {
    await inPool(ledger.unacknowledged(), 8, async (a) =>
      ledger.record(a, await sendArrival(app, a)),
    );
  }
}

/** Reads an answer: its status, and whether the body is problem+json that agrees with it. */
export async function toAnswer(response: Response): Promise<Answer> {
  const type = response.headers.get('content-type') ?? '';
  const text = await response.text();
  let problem = false;
  if (type.startsWith('application/problem+json')) {
    try {
      problem = (JSON.parse(text) as { status?: unknown }).status === response.status;
    } catch {
      problem = false;
    }
  }
  return { status: response.status, problem };
}

export interface ArrivalLedger {
  record(arrival: Arrival, answer: Answer): void;
  answers(): { arrival: Arrival; answer: Answer }[];
  /** Distinct arrivals answered 2xx at least once. */
  acknowledged(): Arrival[];
  /** Distinct arrivals sent and never answered 2xx: what reconciliation would deliver again. */
  unacknowledged(): Arrival[];
  /** (tag, digest) rounds with every required region acknowledged: each owes exactly one event. */
  completeRounds(regions: readonly string[]): Set<string>;
}

export function makeArrivalLedger(): ArrivalLedger {
  const sent = new Map<string, { arrival: Arrival; acknowledged: boolean }>();
  const log: { arrival: Arrival; answer: Answer }[] = [];
  const ok = (a: Answer) => a.status !== null && a.status >= 200 && a.status < 300;
  return {
    record(arrival, answer) {
      log.push({ arrival, answer });
      const key = arrivalKeyOf(arrival);
      const entry = sent.get(key) ?? { arrival, acknowledged: false };
      entry.acknowledged ||= ok(answer);
      sent.set(key, entry);
    },
    answers: () => log,
    acknowledged: () => [...sent.values()].filter((e) => e.acknowledged).map((e) => e.arrival),
    unacknowledged: () => [...sent.values()].filter((e) => !e.acknowledged).map((e) => e.arrival),
    completeRounds(regions) {
      const arrived = new Map<string, Set<string>>();
      for (const { arrival, acknowledged } of sent.values()) {
        if (!acknowledged) continue;
        const key = roundKeyOf(arrival);
        arrived.set(key, (arrived.get(key) ?? new Set()).add(arrival.region));
      }
      return new Set(
        [...arrived].filter(([, got]) => regions.every((r) => got.has(r))).map(([key]) => key),
      );
    },
  };
}

interface StoredTagItem {
  registry: string;
  repository: string;
  tag: string | null;
  status: string;
  digest: string | null;
  observations: Record<string, Record<string, { firstSeen?: string; lastSeen?: string }>>;
  completions: { digest: string; eventId: string }[];
  outboxSize?: number;
}

interface StoredEventItem {
  id: string;
  event: {
    type: string;
    data: { registry: string; repository: string; tag: string | null; digest: string };
  };
}

export interface StoredState {
  tags: Map<string, StoredTagItem>;
  events: StoredEventItem[];
  /** Size of every item as JSON, to compare memory growth with. */
  bytes: number;
}

/** Reads straight from the embedded server (not through the fault proxy). */
export async function readStoredState(
  cosmos: { endpoint: string; key: string },
  database: string,
): Promise<StoredState> {
  const client = directClient(cosmos);
  try {
    const container = client.database(database).container('replication');
    const { resources: tagItems } = await container.items
      .query<StoredTagItem>("SELECT * FROM c WHERE c.type = 'tag'")
      .fetchAll();
    const { resources: events } = await container.items
      .query<StoredEventItem>("SELECT * FROM c WHERE c.type = 'event'")
      .fetchAll();
    const tags = new Map<string, StoredTagItem>();
    for (const t of tagItems) {
      if (t.tag !== null) tags.set(tagKeyOf({ ...t, tag: t.tag }), t);
    }
    const bytes = [...tagItems, ...events].reduce((n, i) => n + JSON.stringify(i).length, 0);
    return { tags, events, bytes };
  } finally {
    client.dispose();
  }
}

export interface Audit {
  acknowledged: number;
  /** Acknowledged arrivals found in the stored state. */
  stored: number;
  /** Acknowledged arrivals missing from the stored state: must stay empty. */
  lost: string[];
  /** Arrivals never acknowledged that are stored all the same: the write landed, its answer did not. */
  storedUnacknowledged: number;
  eventsExpected: number;
  eventsEmitted: number;
  missingEvents: string[];
  unexpectedEvents: string[];
  doubledEvents: string[];
  /** Complete rounds of a tag's newest digest whose tag is not `replicated`. */
  notReplicated: string[];
  /** Tags whose outbox still holds events (the sweep publishes them). */
  pendingOutboxes: number;
}

export function audit(
  ledger: ArrivalLedger,
  state: StoredState,
  regions: readonly string[],
): Audit {
  // Each (tag, digest, region) is sent with one timestamp: being there is enough.
  const isStored = (a: Arrival) =>
    state.tags.get(tagKeyOf(a))?.observations[a.region]?.[a.digest]?.firstSeen !== undefined;
  const acknowledged = ledger.acknowledged();
  const lost = acknowledged.filter((a) => !isStored(a)).map(arrivalKeyOf);

  const expected = ledger.completeRounds(regions);
  const emitted = new Map<string, string[]>();
  for (const { id, event } of state.events) {
    if (event.type !== 'acrgate.tag.replicated' || event.data.tag === null) continue;
    const key = `${tagKeyOf({ ...event.data, tag: event.data.tag })}@${event.data.digest}`;
    emitted.set(key, [...(emitted.get(key) ?? []), id]);
  }
  const notReplicated = [...expected].filter((round) => {
    const [tagKey = '', digest] = round.split('@');
    const item = state.tags.get(tagKey);
    return item !== undefined && item.digest === digest && item.status !== 'replicated';
  });
  return {
    acknowledged: acknowledged.length,
    stored: acknowledged.length - lost.length,
    lost,
    storedUnacknowledged: ledger.unacknowledged().filter(isStored).length,
    eventsExpected: expected.size,
    eventsEmitted: [...emitted.values()].reduce((n, ids) => n + ids.length, 0),
    missingEvents: [...expected].filter((k) => !emitted.has(k)),
    unexpectedEvents: [...emitted.keys()].filter((k) => !expected.has(k)),
    doubledEvents: [...emitted].filter(([, ids]) => ids.length > 1).map(([k]) => k),
    notReplicated,
    pendingOutboxes: [...state.tags.values()].filter((t) => (t.outboxSize ?? 0) > 0).length,
  };
}

/** Runs `work` over `items` with at most `concurrency` at once, in order of the list. */
export async function inPool<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** Once every acknowledged arrival is in: nothing lost, each round's event exactly once, no outbox left. */
export function expectSettled(final: Audit): void {
  expect(final.lost).toEqual([]);
  expect(final.missingEvents).toEqual([]);
  expect(final.unexpectedEvents).toEqual([]);
  expect(final.doubledEvents).toEqual([]);
  expect(final.eventsEmitted).toBe(final.eventsExpected);
  expect(final.notReplicated).toEqual([]);
  expect(final.pendingOutboxes).toBe(0);
}
