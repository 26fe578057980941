// Model-based test: random ACR delivery histories run concurrently against Cosmos DB, checked against the pure rules.
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readStatus, toStatusBody, type StatusBody } from '../../src/app/read-status';
import { recordArrival, type ArrivalOutcome } from '../../src/app/record-arrival';
import { sweepRounds } from '../../src/app/sweep-rounds';
import { readFeed } from '../../src/app/read-events';
import { makeChangeNotifier } from '../../src/app/change-notifier';
import { makeSharedWaits } from '../../src/app/wait-for-replication';
import { makeAuthorizer } from '../../src/http/auth';
import { makeGuard } from '../../src/http/guard';
import { ROUTES } from '../../src/http/routes';
import { makeListHandler, makeStatusHandler } from '../../src/http/replication-handlers';
import { makeAcrWebhookHandler } from '../../src/http/webhook-handler';
import type { EventCursor } from '../../src/app/ports';
import { startFaultProxy } from '../support/fault-proxy';
import { aGate } from '../support/holding-gate';
import { setRequiredRegions, type RegionsDeps } from '../../src/app/required-regions';
import type { Intent } from '../../src/replication/acr-event';
import {
  applyDelete,
  applyPush,
  emptyTagState,
  evaluate,
  withCompletion,
  type Observations,
  type TagStatus,
  type TagState,
} from '../../src/replication/tag-state';
import type { Instant } from '../../src/replication/timestamp';
import { anInstance, cosmosSettings, freshDatabase, useEmbeddedCosmos } from '../support/cosmos';
import { aDeleteEvent, aPushEvent, intentOf } from '../support/fixtures';

/*
 * What is checked, and why only this.
 *
 * A history is a list of steps: ACR deliveries (a push of a tag in one region, a delete of a
 * digest in one region; duplicated, late and reordered) and changes of a registry's required
 * regions. It runs in batches: the steps of a batch run at once (Promise.all) on 3–4 instances,
 * each with its own CosmosClient. The model folds the same steps one at a time through
 * applyPush / applyDelete / evaluate, records a completion whenever a step's evaluation completes
 * a digest not completed before (as updateTag does), and re-evaluates a registry's open tags when
 * its regions change (as setRequiredRegions does). A delete reaches every tag of its repository
 * that the history ever pushes with its digest, so the model's final state does not depend on
 * the order of the deliveries.
 *
 * Inside a batch the store sees the steps in any order, so only what does not depend on that
 * order is compared:
 *  1. Observations: the stored observations of every tag equal the model's. They merge by min
 *     and max, so their fold is order-free; in particular no delivered arrival is lost.
 *  2. Final state: readStatus (against the final required regions) equals the status body of the
 *     model's final state evaluated against those regions, every field but eventId.
 *  3. At most once: no (tag, digest) has two events, no tag records two completions of one
 *     digest, and the number of completions the calls reported deciding equals the number of
 *     events stored (two writers deciding the same round would be hidden by the stable event id).
 *  4. Completion is not lost: every tag replicated in the final state has exactly one event for
 *     its digest, and readStatus carries that event's id.
 *  5. Every event is justified: its regions are exactly one of the registry's required-region
 *     sets that was in effect at some point, each arrivedAt is that region's push timestamp of
 *     the digest, and replicatedAt is the latest of them.
 *  Which rounds complete along the way does depend on order: a round whose last region lands after
 *  a re-push of the tag, or after a region was added, never completes; landing before, it does.
 *  Hence 4 and 5 rather than "exactly the model's completions", except:
 *  6. When every batch holds one step, the events are exactly the model's completions, with the
 *     same replicatedAt.
 *  7. No event completes a round past a delete delivered in an earlier batch (so recorded before
 *     the deciding write began) that undoes one of its regions: the completing write's check of
 *     its digest's deletes must see every such delete.
 *
 * Deletes may overtake every push of their digest (the store remembers deletes per digest, and
 * the sweep settles a delete racing a first push), and may be stamped between a round's pushes
 * (a region's delete before its own replica push: two events of one digest once, delivered last). Like production, a run ends with one sweep,
 * which also completes rounds written with regions that a concurrent PUT replaced. The option
 * holdDeletes (a delete only after the first push of its digest to each tag) remains for
 * narrowing a failure down.
 */

const REGIONS = ['canadacentral', 'eastus', 'westeurope', 'westus'] as const;
/** Histories the main property runs: `MODEL_RUNS=200 npx vitest run …` for a longer search. */
const MODEL_RUNS = Number(process.env.MODEL_RUNS) || 20;
const MODEL_LIMIT_MS = 3_000 * MODEL_RUNS;
/** The histories are stamped in March 2026: keep the sweep from reporting them stalled. */
const NEVER_STALL = 100 * 365 * 86_400_000;
const REGISTRIES = ['contoso.azurecr.io', 'fabrikam.azurecr.io'] as const;

interface TagRef {
  registry: string;
  repository: string;
  tag: string;
}

/** Two registries, two repositories (one with slashes), two tags sharing a repository. */
const TAGS: readonly TagRef[] = [
  { registry: 'contoso.azurecr.io', repository: 'team/app/api', tag: '1.2' },
  { registry: 'contoso.azurecr.io', repository: 'team/app/api', tag: 'latest' },
  { registry: 'contoso.azurecr.io', repository: 'web', tag: '1.2' },
  { registry: 'fabrikam.azurecr.io', repository: 'team/app/api', tag: '1.2' },
];

/** Few digests, so tags of one repository often share one (`1.2` and `latest` of the same build). */
const DIGESTS = ['a', 'b', 'c', 'd', 'e'].map((c) => `sha256:${c.repeat(64)}`);

const T0 = Date.UTC(2026, 2, 14, 9, 0, 0);
const ROUND_SPACING_MS = 600_000;
/** Length of the arrays of random draws that steps index into (keeps shrinking simple). */
const NOISE = 64;

const at = <T>(items: readonly T[], i: number): T => items[i % items.length] as T;
const tagName = (t: TagRef): string => `${t.registry}/${t.repository}:${t.tag}`;
const roundKey = (tag: string, digest: string): string => `${tag}@${digest}`;
const short = (digest: string): string => digest.slice(7, 8);

// ---- The generated history ------------------------------------------------------------------

const noise = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T[]> =>
  fc.array(arb, { minLength: NOISE, maxLength: NOISE });

const roundArb = fc.record({
  digest: fc.nat({ max: DIGESTS.length - 1 }),
  pushRegion: fc.nat({ max: REGIONS.length - 1 }),
  startJitterMs: fc.nat({ max: 300_000 }),
  subMillis: fc.nat({ max: 999_999 }),
  // How long after the push each replica reports it; null: that region's webhook never comes.
  replicaDelaysMs: fc.array(
    fc.option(fc.integer({ min: 1, max: 30_000 }), { nil: null, freq: 6 }),
    {
      minLength: REGIONS.length,
      maxLength: REGIONS.length,
    },
  ),
  // The manifest deleted later, in some regions (ACR sends one delete per region, with no tag).
  // Some deletes land between the round's pushes: a region's delete stamped before its own
  // replica push (its earlier push webhook lost, as ACR does not retry), or before another's.
  delete: fc.oneof(
    { weight: 3, arbitrary: fc.constant(null) },
    {
      weight: 1,
      arbitrary: fc.record({
        regions: fc.subarray([0, 1, 2, 3], { minLength: 1 }),
        afterMs: fc.oneof(
          { weight: 2, arbitrary: fc.integer({ min: 40_000, max: 900_000 }) },
          { weight: 1, arbitrary: fc.integer({ min: 0, max: 30_000 }) },
        ),
      }),
    },
  ),
});

const specArb = fc.record({
  tags: fc.uniqueArray(
    fc.record({
      tag: fc.nat({ max: TAGS.length - 1 }),
      // Each further round is a re-push of the tag with a new digest.
      rounds: fc.array(roundArb, { minLength: 1, maxLength: 3 }),
    }),
    { minLength: 2, maxLength: 3, selector: (t) => t.tag },
  ),
  regionChanges: fc.array(
    fc.record({
      registry: fc.constantFrom(...REGISTRIES),
      regions: fc.subarray([...REGIONS], { minLength: 1 }),
      position: fc.nat({ max: 1000 }),
    }),
    { maxLength: 2 },
  ),
  // ACR retries: the very same delivery again, later.
  duplicates: fc.array(fc.nat({ max: 1000 }), { maxLength: 5 }),
  // Extra delay of each delivery; a large one makes it overtake later ones.
  lateMs: noise(
    fc.oneof(
      { weight: 2, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.nat({ max: 1_800_000 }) },
    ),
  ),
  batchSizes: noise(fc.integer({ min: 1, max: 5 })),
  instanceOf: noise(fc.nat({ max: 3 })),
  instances: fc.integer({ min: 3, max: 4 }),
  sequential: fc.oneof(
    { weight: 4, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
});

type Spec = typeof specArb extends fc.Arbitrary<infer S> ? S : never;

type Arrival = Extract<Intent, { kind: 'push' | 'delete' }>;

interface Delivery {
  kind: 'push' | 'delete';
  registry: string;
  repository: string;
  /** The tag a push names; null for a delete. */
  tag: string | null;
  region: string;
  digest: string;
  ms: number;
  payload: Record<string, unknown>;
  intent: Arrival;
}

type Step = Delivery | { kind: 'regions'; registry: string; regions: string[] };

interface Scheduled {
  step: Step;
  instance: number;
}

const timestampOf = (ms: number, subMillis: number): string =>
  `${new Date(ms).toISOString().slice(0, 23)}${String(subMillis % 1_000_000).padStart(6, '0')}Z`;

function aDelivery(
  kind: 'push' | 'delete',
  target: { registry: string; repository: string; tag: string | null },
  region: string,
  digest: string,
  ms: number,
  subMillis: number,
): Delivery {
  const { registry, repository, tag } = target;
  const timestamp = timestampOf(ms, subMillis);
  const payload =
    kind === 'push'
      ? aPushEvent({ registry, repository, tag: tag ?? undefined, digest, timestamp })
      : aDeleteEvent({ registry, repository, digest, timestamp });
  return {
    kind,
    registry,
    repository,
    tag,
    region,
    digest,
    ms,
    payload,
    intent: intentOf(payload),
  };
}

/** The logical deliveries: per round the push region first, the replicas later, deletes last. */
function deliveriesOf(spec: Spec): Delivery[] {
  const deliveries: Delivery[] = [];
  for (const { tag: t, rounds } of spec.tags) {
    const tag = at(TAGS, t);
    const used = new Set<number>();
    rounds.forEach((round, k) => {
      let d = round.digest;
      while (used.has(d)) d = (d + 1) % DIGESTS.length;
      used.add(d);
      const digest = at(DIGESTS, d);
      const start = T0 + k * ROUND_SPACING_MS + round.startJitterMs;
      REGIONS.forEach((region, r) => {
        const delay = r === round.pushRegion ? 0 : round.replicaDelaysMs[r];
        if (delay === null || delay === undefined) return;
        deliveries.push(
          aDelivery('push', tag, region, digest, start + delay, round.subMillis + r * 7919),
        );
      });
      for (const r of round.delete?.regions ?? []) {
        const ms = start + (round.delete?.afterMs ?? 0) + r * 1000;
        const target = { ...tag, tag: null };
        deliveries.push(aDelivery('delete', target, at(REGIONS, r), digest, ms, round.subMillis));
      }
    });
  }
  return deliveries;
}

const pushKey = (d: Delivery): string =>
  roundKey(`${d.registry}/${d.repository}:${d.tag}`, d.digest);

/** The tags of a delete's repository that are ever pushed with its digest: it must find them. */
function dependenciesOf(step: Delivery, deliveries: readonly Delivery[]): string[] {
  const tags = deliveries
    .filter(
      (d) =>
        d.kind === 'push' &&
        d.registry === step.registry &&
        d.repository === step.repository &&
        d.digest === step.digest,
    )
    .map(pushKey);
  return [...new Set(tags)];
}

/** Orders, duplicates and batches the deliveries, and interleaves the region changes. */
function toSchedule(spec: Spec, options: RunOptions): Scheduled[][] {
  const deliveries = deliveriesOf(spec);
  const keyed = deliveries.map((d, i) => ({ d, key: d.ms + at(spec.lateMs, i) }));
  spec.duplicates.forEach((x, j) => {
    const original = at(keyed, x);
    keyed.push({ d: original.d, key: original.key + at(spec.lateMs, deliveries.length + j) });
  });
  keyed.sort((a, b) => a.key - b.key);

  // A delete waits for the first push of its digest to each tag it must find.
  const seen = new Set<string>();
  const ready = (d: Delivery): boolean =>
    !options.holdDeletes || dependenciesOf(d, deliveries).every((k) => seen.has(k));
  const ordered: Step[] = [];
  let waiting: Delivery[] = [];
  for (const { d } of keyed) {
    if (d.kind === 'delete' && !ready(d)) {
      waiting.push(d);
      continue;
    }
    ordered.push(d);
    if (d.kind === 'push') {
      seen.add(pushKey(d));
      ordered.push(...waiting.filter(ready));
      waiting = waiting.filter((w) => !ready(w));
    }
  }
  if (waiting.length > 0) throw new Error('a delete waits for a push that never comes');

  const changes = spec.regionChanges.map((c) => ({
    step: { kind: 'regions' as const, registry: c.registry, regions: c.regions },
    position: c.position,
  }));
  for (const { step, position } of changes)
    ordered.splice(position % (ordered.length + 1), 0, step);

  const firstPushAt = new Map<string, number>();
  ordered.forEach((s, p) => {
    if (s.kind === 'push' && !firstPushAt.has(pushKey(s))) firstPushAt.set(pushKey(s), p);
  });
  const batches: Scheduled[][] = [];
  let current: Scheduled[] = [];
  let start = 0;
  let size = spec.sequential ? 1 : at(spec.batchSizes, 0);
  ordered.forEach((step, p) => {
    // One region change per batch, so the final regions are known; a delete after its pushes.
    const conflict =
      (step.kind === 'regions' && current.some((s) => s.step.kind === 'regions')) ||
      (step.kind === 'delete' &&
        options.holdDeletes &&
        dependenciesOf(step, deliveries).some((k) => (firstPushAt.get(k) ?? -1) >= start));
    if (current.length > 0 && (current.length >= size || conflict)) {
      batches.push(current);
      current = [];
      start = p;
      size = spec.sequential ? 1 : at(spec.batchSizes, batches.length);
    }
    current.push({ step, instance: at(spec.instanceOf, p) % spec.instances });
  });
  if (current.length > 0) batches.push(current);
  return batches;
}

function describeSchedule(batches: Scheduled[][]): string {
  return batches
    .map((batch, b) =>
      batch
        .map(({ step: s, instance }) => {
          const where = `#${b} i${instance}`;
          if (s.kind === 'regions') return `${where} regions ${s.registry} = ${s.regions.join()}`;
          const what = s.kind === 'push' ? `${s.repository}:${s.tag}` : `${s.repository}`;
          return `${where} ${s.kind} ${s.registry}/${what} ${short(s.digest)} ${s.region} ${s.intent.timestamp}`;
        })
        .join('\n'),
    )
    .join('\n');
}

// ---- The model --------------------------------------------------------------------------------

interface Model {
  states: Map<string, TagState>;
  /** Every (tag, digest) the sequential fold completes, with its replicatedAt. */
  completions: Map<string, Instant>;
  regions: Map<string, string[]>;
  /** Every required-region set a registry had. */
  regionSets: Map<string, string[][]>;
}

function runModel(steps: readonly Step[]): Model {
  const states = new Map<string, TagState>();
  const status = new Map<string, TagStatus>();
  const completions = new Map<string, Instant>();
  const regions = new Map<string, string[]>(REGISTRIES.map((r) => [r, [...REGIONS]]));
  const regionSets = new Map<string, string[][]>(REGISTRIES.map((r) => [r, [[...REGIONS]]]));
  const required = (registry: string): string[] => regions.get(registry) ?? [...REGIONS];
  const pushed = new Set(steps.flatMap((s) => (s.kind === 'push' ? [pushKey(s)] : [])));
  const settle = (name: string, state: TagState): void => {
    const evaluation = evaluate(state, required(state.registry));
    let next = state;
    if (evaluation.newCompletion) {
      completions.set(
        roundKey(name, evaluation.newCompletion.digest),
        evaluation.newCompletion.replicatedAt,
      );
      next = withCompletion(state, { ...evaluation.newCompletion, eventId: 'model' });
    }
    states.set(name, next);
    status.set(name, evaluation.status);
  };
  for (const step of steps) {
    if (step.kind === 'regions') {
      const sorted = [...new Set(step.regions)].sort();
      regions.set(step.registry, sorted);
      regionSets.get(step.registry)?.push(sorted);
      for (const [name, state] of states) {
        if (state.registry === step.registry && status.get(name) === 'replicating')
          settle(name, state);
      }
      continue;
    }
    const report = { region: step.region, digest: step.digest, timestamp: step.intent.timestamp };
    if (step.kind === 'push') {
      const ref = { registry: step.registry, repository: step.repository, tag: step.tag ?? '' };
      const name = tagName(ref);
      settle(name, applyPush(states.get(name) ?? emptyTagState(ref), report));
    } else {
      // Order-free: a delete reaches every tag of its repository the history pushes with its digest.
      for (const ref of TAGS) {
        const name = tagName(ref);
        if (
          ref.registry === step.registry &&
          ref.repository === step.repository &&
          pushed.has(roundKey(name, step.digest))
        ) {
          settle(name, applyDelete(states.get(name) ?? emptyTagState(ref), report));
        }
      }
    }
  }
  return { states, completions, regions, regionSets };
}

// ---- Running a history against Cosmos DB ------------------------------------------------------

const observationSchema = z.object({
  firstSeen: z.string().optional(),
  lastSeen: z.string().optional(),
  deletedAt: z.string().optional(),
  seen: z.array(z.string()).optional(),
});
const tagItemSchema = z.object({
  registry: z.string(),
  repository: z.string(),
  tag: z.string().nullable(),
  observations: z.record(z.string(), z.record(z.string(), observationSchema)),
  completions: z.array(z.object({ digest: z.string(), eventId: z.string() })),
});
const arrivedItemSchema = z.object({
  event: z.object({
    id: z.string(),
    type: z.literal('acrgate.tag.arrived'),
    data: z.object({
      registry: z.string(),
      repository: z.string(),
      tag: z.string().nullable(),
      digest: z.string(),
      region: z.string(),
      arrivedAt: z.string(),
    }),
  }),
});
const eventItemSchema = z.object({
  event: z.object({
    id: z.string(),
    type: z.literal('acrgate.tag.replicated'),
    data: z.object({
      registry: z.string(),
      repository: z.string(),
      tag: z.string().nullable(),
      digest: z.string(),
      regions: z.array(z.object({ region: z.string(), arrivedAt: z.string() })),
      replicatedAt: z.string(),
    }),
  }),
});
type EventItem = z.infer<typeof eventItemSchema>['event'];
const anyEventSchema = z.looseObject({ event: z.looseObject({ type: z.string() }) });
/** The replicated events of a database, leaving the per-region ones aside. */
const replicatedIn = async (database: string) =>
  (await itemsOf(database, 'event', anyEventSchema))
    .filter((e) => e.event.type === 'acrgate.tag.replicated')
    .map((e) => eventItemSchema.parse(e));

const cosmos = useEmbeddedCosmos();

/** Reads items straight from Cosmos DB with a client of the test's own. */
async function itemsOf<T>(database: string, type: string, schema: z.ZodType<T>): Promise<T[]> {
  const { resources } = await cosmos.reader
    .database(database)
    .container('replication')
    .items.query<unknown>({
      query: 'SELECT * FROM c WHERE c.type = @type',
      parameters: [{ name: '@type', value: type }],
    })
    .fetchAll();
  return resources.map((r) => schema.parse(r));
}

const decidedIn = (outcome: ArrivalOutcome): number =>
  (outcome.kind === 'push' ? [outcome.result] : outcome.results).filter((r) => r.completed).length;
const arrivalsIn = (outcome: ArrivalOutcome): number =>
  (outcome.kind === 'push' ? [outcome.result] : outcome.results).reduce(
    (n, r) => n + r.arrived.length,
    0,
  );

/** Arrival events decided by the calls of the last `execute`: each must be stored exactly once. */
let arrivalsDecided = 0;
/** The batch whose call decided each replicated event (by event id), as the calls reported it. */
const decidedInBatch = new Map<string, number>();
/** Each delete delivery, with the batch it was delivered (and so recorded) in. */
let deletesDelivered: { step: Delivery; batch: number }[] = [];

async function execute(batches: Scheduled[][], instances: RegionsDeps[]): Promise<number> {
  let decided = 0;
  arrivalsDecided = 0;
  decidedInBatch.clear();
  deletesDelivered = [];
  for (const [b, batch] of batches.entries()) {
    await Promise.all(
      batch.map(async ({ step, instance }) => {
        const deps = at(instances, instance);
        // Awaited first: `decided += await …` would read `decided` before the await and lose updates.
        if (step.kind === 'regions') {
          const { completed } = await setRequiredRegions(deps, step.registry, step.regions);
          decided += completed;
        } else {
          const outcome = await recordArrival(deps, step.intent, step.region, step.payload);
          decided += decidedIn(outcome);
          arrivalsDecided += arrivalsIn(outcome);
          for (const r of outcome.kind === 'push' ? [outcome.result] : outcome.results) {
            if (r.completed) decidedInBatch.set(r.completed.event.id, b);
          }
          if (step.kind === 'delete') deletesDelivered.push({ step, batch: b });
        }
      }),
    );
  }
  return decided;
}

async function check(spec: Spec, batches: Scheduled[][]): Promise<void> {
  const steps = batches.flat().map((s) => s.step);
  const model = runModel(steps);
  const database = freshDatabase();
  const settings = cosmosSettings(cosmos.endpoint, cosmos.key, database);
  const instances = Array.from({ length: spec.instances }, () => anInstance(settings, REGIONS));
  let decided = await execute(batches, instances);
  const beforeSweep = new Set((await replicatedIn(database)).map((e) => e.event.id));
  // As in production, the sweep completes rounds written with regions a concurrent PUT replaced.
  decided += (await sweepRounds({ ...at(instances, 0), stallAfterMs: NEVER_STALL })).completed;

  const tagItems = await itemsOf(database, 'tag', tagItemSchema);
  const all = await itemsOf(database, 'event', anyEventSchema);
  const events = all
    .filter((e) => e.event.type === 'acrgate.tag.replicated')
    .map((e) => eventItemSchema.parse(e).event);
  const arrivals = all
    .filter((e) => e.event.type === 'acrgate.tag.arrived')
    .map((e) => arrivedItemSchema.parse(e).event);
  expect(events.length + arrivals.length, 'only replicated and arrived events').toBe(all.length);
  const eventsOf = new Map<string, EventItem[]>();
  for (const e of events) {
    const { registry, repository, tag, digest } = e.data;
    const key = roundKey(tagName({ registry, repository, tag: tag ?? '' }), digest);
    eventsOf.set(key, [...(eventsOf.get(key) ?? []), e]);
  }

  // 1. Observations: nothing lost, nothing invented.
  expect(tagItems.map((t) => tagName({ ...t, tag: t.tag ?? '' })).sort()).toEqual(
    [...model.states.keys()].sort(),
  );
  for (const item of tagItems) {
    const name = tagName({ ...item, tag: item.tag ?? '' });
    const expected: Observations | undefined = model.states.get(name)?.observations;
    expect(item.observations, `observations of ${name}`).toEqual(expected);
    // 3. (per tag) a digest is completed once.
    const digests = item.completions.map((c) => c.digest);
    expect(new Set(digests).size, `completions of ${name}: ${digests.join()}`).toBe(digests.length);
  }

  // 3. At most once, and each decision is an event.
  for (const [key, list] of eventsOf) expect(list, `events of ${key}`).toHaveLength(1);
  expect(decided, 'completions decided by the calls vs events stored').toBe(events.length);
  // 3b. Each (tag, digest, region) arrival is decided once, by one write, and stored once.
  expect(arrivalsDecided, 'arrivals decided by the calls vs arrival events stored').toBe(
    arrivals.length,
  );
  for (const a of arrivals) {
    const { registry, repository, tag, digest, region } = a.data;
    const name = tagName({ registry, repository, tag: tag ?? '' });
    const o = model.states.get(name)?.observations[region]?.[digest];
    expect(
      o?.firstSeen ?? o?.lastSeen,
      `arrival of ${name} @ ${short(digest)} in ${region}`,
    ).toBeDefined();
  }

  for (const [name, state] of model.states) {
    const required = model.regions.get(state.registry) ?? [...REGIONS];
    const { eventId: _modelEventId, ...expected } = toStatusBody(state, evaluate(state, required));
    const status = await readStatus(at(instances, 0), state.registry, {
      kind: 'tag',
      repository: state.repository,
      tag: state.tag ?? '',
    });
    // 2. Final state.
    const { eventId, ...actual } = status ?? { eventId: undefined };
    expect(actual, `status of ${name}`).toEqual(expected);
    // 4a. Every region holding a live tag's digest was announced.
    if (expected.status !== 'deleted' && expected.digest !== null) {
      for (const r of expected.regions.filter((v) => v.status === 'arrived')) {
        const announced = arrivals.filter(
          (a) =>
            tagName({ ...a.data, tag: a.data.tag ?? '' }) === name &&
            a.data.digest === expected.digest &&
            a.data.region === r.region,
        );
        expect(announced, `arrival of ${name} in ${r.region}`).toHaveLength(1);
      }
    }
    // 4. A replicated tag has its event.
    if (expected.status === 'replicated' && expected.digest !== null) {
      const list = eventsOf.get(roundKey(name, expected.digest)) ?? [];
      expect(list, `events of replicated ${name} @ ${short(expected.digest)}`).toHaveLength(1);
      expect(eventId).toBe(list[0]?.id);
    }
  }

  // 5. Every event is justified by the data.
  for (const e of events) {
    const { registry, repository, tag, digest } = e.data;
    const name = tagName({ registry, repository, tag: tag ?? '' });
    const observations = model.states.get(name)?.observations ?? {};
    const regions = e.data.regions.map((r) => r.region);
    expect(model.regionSets.get(registry), `regions of the event for ${name}`).toContainEqual(
      regions,
    );
    for (const r of e.data.regions) {
      expect(r.arrivedAt, `${name} @ ${short(digest)} in ${r.region}`).toBe(
        observations[r.region]?.[digest]?.firstSeen,
      );
    }
    expect(e.data.replicatedAt).toBe(
      e.data.regions
        .map((r) => r.arrivedAt)
        .sort()
        .at(-1),
    );
  }

  // 7. No round completes past a delete recorded before the write deciding it began: an event
  // decided in batch b (the sweep: after every batch) names no region where its digest was
  // deleted, after the push the event reports there, by a delete delivered in an earlier batch.
  // (A region change's completions are not attributed to a batch, so are left out.)
  for (const e of events) {
    const batch = beforeSweep.has(e.id) ? decidedInBatch.get(e.id) : batches.length;
    if (batch === undefined) continue;
    const { registry, repository, tag, digest } = e.data;
    const undone = e.data.regions.flatMap((r) =>
      deletesDelivered
        .filter(
          ({ step: d, batch: deletedIn }) =>
            deletedIn < batch &&
            d.registry === registry &&
            d.repository === repository &&
            d.digest === digest &&
            d.region === r.region &&
            d.intent.timestamp > r.arrivedAt,
        )
        .map(
          ({ step: d, batch: deletedIn }) => `${d.region} ${d.intent.timestamp} (#${deletedIn})`,
        ),
    );
    expect(undone, `event of ${repository}:${tag ?? ''} @ ${short(digest)} (#${batch})`).toEqual(
      [],
    );
  }

  // 6. One step at a time, the store completes exactly what the model does.
  if (batches.every((b) => b.length === 1)) {
    const stored = new Map([...eventsOf].map(([key, [e]]) => [key, e?.data.replicatedAt ?? '']));
    expect(stored).toEqual(model.completions);
  }

  await cosmos.reader.database(database).delete();
}

interface RunOptions {
  /** Run each delete after the first push of its digest to every tag it must reach (see above). */
  holdDeletes: boolean;
}

/** Runs one history; on failure the message ends with the schedule as it was run. */
async function runHistory(spec: Spec, options: RunOptions = { holdDeletes: true }): Promise<void> {
  const batches = toSchedule(spec, options);
  try {
    await check(spec, batches);
  } catch (error) {
    if (error instanceof Error) {
      error.message = `${error.message}\nschedule (#batch, instance):\n${describeSchedule(batches)}`;
    }
    throw error;
  }
}

describe('replication state under random concurrent histories', () => {
  it(
    'matches the pure rules, and emits one event per completed (tag, digest)',
    async () => {
      await fc.assert(
        fc.asyncProperty(specArb, (spec) => runHistory(spec, { holdDeletes: false })),
        { numRuns: MODEL_RUNS, plugins: [fc.interruptAfterTimeLimit(MODEL_LIMIT_MS)] },
      );
    },
    MODEL_LIMIT_MS + 30_000,
  );
});

// ---- Cases found while building the model ---------------------------------------------------

describe('cases found while building the model', () => {
  it('completes a round whose last arrival is written while the required regions change', async () => {
    // Found by reasoning about invariant 4 (the random histories rarely hit the window): the
    // arrival reads the registry's regions, a PUT of the regions re-evaluates the open rounds before
    // the arrival's write lands, and the write then evaluates against the old regions. The round
    // was complete under the new regions, and nothing decided it. The sweep now re-evaluates rounds of
    // registries whose regions changed in the last 10 minutes, which decides it.
    const database = freshDatabase();
    const settings = cosmosSettings(cosmos.endpoint, cosmos.key, database);
    // Holds this client's tag writes until released.
    const gate = await aGate(
      cosmos.endpoint,
      (req, body) => req.method !== 'GET' && body.includes('"type":"tag"'),
    );
    try {
      const fast = anInstance(settings, REGIONS);
      const slow = anInstance({ ...settings, endpoint: gate.endpoint }, REGIONS);
      const ref = at(TAGS, 0);
      const digest = at(DIGESTS, 0);
      const arrival = (region: string, ms: number) =>
        aDelivery('push', ref, region, digest, T0 + ms, 0);
      for (const d of [arrival('westus', 0), arrival('eastus', 4_000)]) {
        await recordArrival(fast, d.intent, d.region, d.payload);
      }
      const last = arrival('canadacentral', 9_000);
      const recording = recordArrival(slow, last.intent, last.region, last.payload);
      await gate.held;
      // westeurope never got the image: the operator drops it while canadacentral's write is held.
      await setRequiredRegions(fast, ref.registry, ['canadacentral', 'eastus', 'westus']);
      gate.release();
      const written = await recording;
      // The held write used the old regions, after the PUT had re-evaluated: still open...
      expect(written.kind === 'push' && written.result.record.evaluation.status).toBe(
        'replicating',
      );
      // ...until the sweep re-evaluates rounds of registries whose regions changed recently.
      const swept = await sweepRounds({ ...fast, stallAfterMs: NEVER_STALL });
      expect(swept).toMatchObject({ reevaluated: 1, completed: 1 });

      const status = await readStatus(fast, ref.registry, { kind: 'tag', ...ref });
      const events = await replicatedIn(database);
      expect(status).toMatchObject<Partial<StatusBody>>({ status: 'replicated', digest });
      expect(events.map((e) => e.event.data.digest)).toEqual([digest]);
      expect(status?.eventId).toBe(events[0]?.event.id);
    } finally {
      await gate.close();
    }
  });

  it('keeps a delete that overtakes every push of its digest to a tag', async () => {
    // Shrunk by hand from what the property found with holdDeletes off (seed 425170052). Delivered
    // first, the delete found no tag with the digest and was dropped; the push then made the tag
    // replicated and emitted an event for a deleted manifest. Fixed by remembering deletes per
    // (repository, digest): the first push of a digest to a tag reads them.
    const deleteFirst: Spec = {
      tags: [
        {
          tag: 0,
          rounds: [
            {
              digest: 0,
              pushRegion: 3,
              startJitterMs: 0,
              subMillis: 0,
              replicaDelaysMs: [null, null, null, null],
              delete: { regions: [3], afterMs: 60_000 },
            },
          ],
        },
      ],
      regionChanges: [{ registry: 'contoso.azurecr.io', regions: ['westus'], position: 0 }],
      duplicates: [],
      // The push (delivery 0) arrives half an hour late, after the delete (delivery 1).
      lateMs: [1_800_000, 0],
      batchSizes: [1],
      instanceOf: [0],
      instances: 3,
      sequential: true,
    };
    await runHistory(deleteFirst, { holdDeletes: false });
  });

  it('emits one event when a delete stamped between the pushes of a round comes before or after them', async () => {
    // Shrunk by hand from what the property found once deletes could land between a round's
    // pushes (seed 1940194914). westus deletes the digest at 09:00:03.000000000 and reports its
    // push at 09:00:03.000023757, after canadacentral, eastus and westeurope at 09:00:00. In
    // timestamp order westus's push follows its delete: a new round, complete at once (the others
    // hold the digest since), one event. Delivered after the pushes, the delete made the round
    // the pushes had completed a new one, and it completed again: two events of one digest.
    const between = (lateMs: number[]): Spec => ({
      tags: [
        {
          tag: 1,
          rounds: [
            {
              digest: 0,
              pushRegion: 0,
              startJitterMs: 0,
              subMillis: 0,
              replicaDelaysMs: [null, 1, 1, 3_000],
              delete: { regions: [3], afterMs: 0 },
            },
          ],
        },
      ],
      regionChanges: [],
      duplicates: [],
      lateMs,
      batchSizes: [1],
      instanceOf: [0, 1, 2, 0, 1],
      instances: 3,
      sequential: true,
    });
    // Deliveries: the pushes of canadacentral, eastus, westeurope, westus, then westus's delete.
    await runHistory(between([0, 0, 0, 0, 0]), { holdDeletes: false });
    await runHistory(between([0, 0, 0, 1, 0]), { holdDeletes: false });
  });
});

// ---- Properties stated without the rules (issue 17) -------------------------------------------
//
// The comparison above folds the same rules the store runs, so it cannot catch a wrong rule.
// These properties say what a right answer is from the deliveries alone, over random histories
// of pushes, re-tags, rollbacks, deletes, duplicates and late replica events, with realistic
// ACR timestamps (seven fractional digits, a push every few minutes, replicas within seconds,
// now and then a region that reports a quarter of an hour late).

const P_REGISTRY = 'contoso.azurecr.io';
const P_REPOSITORY = 'team/web';
const P_TAGS = ['1.2', 'stable'] as const;

const operationArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('push' as const),
      tag: fc.nat({ max: P_TAGS.length - 1 }),
      // Few digests: re-tags, rollbacks and a digest pushed again after its delete are common.
      digest: fc.nat({ max: 3 }),
      home: fc.nat({ max: REGIONS.length - 1 }),
      // Per region: seconds after the push, a late report, or never (a lost webhook).
      replicas: fc.array(
        fc.oneof(
          { weight: 6, arbitrary: fc.integer({ min: 1_000, max: 30_000 }) },
          { weight: 1, arbitrary: fc.integer({ min: 600_000, max: 1_200_000 }) },
          { weight: 1, arbitrary: fc.constant(null) },
        ),
        { minLength: REGIONS.length, maxLength: REGIONS.length },
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('delete' as const),
      digest: fc.nat({ max: 3 }),
      regions: fc.subarray([0, 1, 2, 3], { minLength: 1 }),
    }),
  },
);

const historyArb = fc.record({
  operations: fc.array(operationArb, { minLength: 1, maxLength: 8 }),
  spacingMs: fc.array(fc.integer({ min: 120_000, max: 900_000 }), {
    minLength: 8,
    maxLength: 8,
  }),
  fractions: fc.array(fc.nat({ max: 9_999_999 }), { minLength: 64, maxLength: 64 }),
  // Delivery order: each delivery's extra delay (ACR retries, Event Grid, a slow region).
  shuffle: fc.array(fc.nat({ max: 3_600_000 }), { minLength: 64, maxLength: 64 }),
  duplicates: fc.array(fc.nat({ max: 63 }), { maxLength: 6 }),
});

type History = typeof historyArb extends fc.Arbitrary<infer H> ? H : never;

interface Report {
  kind: 'push' | 'delete';
  tag: string | null;
  digest: string;
  region: string;
  timestamp: string;
  payload: Record<string, unknown>;
}

/** ACR's form: seven fractional digits, UTC. */
const acrTimestamp = (ms: number, fraction: number): string =>
  `${new Date(ms).toISOString().slice(0, 19)}.${String(fraction).padStart(7, '0')}Z`;

function reportsOf(history: History): Report[] {
  const reports: Report[] = [];
  let clock = T0;
  history.operations.forEach((op, k) => {
    clock += at(history.spacingMs, k);
    const fraction = (i: number) => at(history.fractions, reports.length + i);
    const digest = at(DIGESTS, op.digest);
    if (op.kind === 'push') {
      const tag = at(P_TAGS, op.tag);
      REGIONS.forEach((region, r) => {
        const delay = r === op.home ? 0 : op.replicas[r];
        if (delay === null || delay === undefined) return;
        const timestamp = acrTimestamp(clock + delay, fraction(0));
        const payload = aPushEvent({
          registry: P_REGISTRY,
          repository: P_REPOSITORY,
          tag,
          digest,
          timestamp,
        });
        reports.push({ kind: 'push', tag, digest, region, timestamp, payload });
      });
    } else {
      for (const r of op.regions) {
        const timestamp = acrTimestamp(clock + 2_000 * r, fraction(0));
        const payload = aDeleteEvent({
          registry: P_REGISTRY,
          repository: P_REPOSITORY,
          digest,
          timestamp,
        });
        reports.push({
          kind: 'delete',
          tag: null,
          digest,
          region: at(REGIONS, r),
          timestamp,
          payload,
        });
      }
    }
  });
  return reports;
}

/** The deliveries in a random order, some twice. */
function deliveryOrder(history: History, reports: readonly Report[]): Report[] {
  const keyed = reports.map((r, i) => ({
    r,
    key: Date.parse(r.timestamp) + at(history.shuffle, i),
  }));
  for (const d of history.duplicates) {
    if (reports.length > 0) keyed.push({ r: at(reports, d), key: at(history.shuffle, d + 7) + T0 });
  }
  return keyed.sort((a, b) => a.key - b.key).map((k) => k.r);
}

async function deliver(instances: RegionsDeps[], order: readonly Report[]): Promise<void> {
  for (const [i, r] of order.entries()) {
    const intent = intentOf(r.payload);
    await recordArrival(at(instances, i), intent, r.region, r.payload);
  }
}

const latest = (list: readonly Report[]): Report | undefined =>
  [...list].sort((a, b) => (a.timestamp < b.timestamp ? -1 : 1)).at(-1);

const deletesOf = (reports: readonly Report[], digest: string, region: string): Report[] =>
  reports.filter((r) => r.kind === 'delete' && r.digest === digest && r.region === region);

/** `later` is after every delete of the digest in the region. */
const notUndone = (reports: readonly Report[], push: Report): boolean =>
  deletesOf(reports, push.digest, push.region).every((d) => d.timestamp < push.timestamp);

async function runRuleFree(history: History): Promise<void> {
  const reports = reportsOf(history);
  const order = deliveryOrder(history, reports);
  const database = freshDatabase();
  const settings = cosmosSettings(cosmos.endpoint, cosmos.key, database);
  const instances = [anInstance(settings, REGIONS), anInstance(settings, REGIONS)];
  await deliver(instances, order);
  const deps = at(instances, 0);
  const describeRun = () =>
    reports
      .map((r) => `${r.kind} ${r.tag ?? '-'} ${short(r.digest)} ${r.region} ${r.timestamp}`)
      .join('\n');

  // A tag whose latest report in every required region is a push of D, later than any delete
  // of D there, reads replicated at D.
  for (const tag of P_TAGS) {
    const latestByRegion = REGIONS.map((region) =>
      latest(reports.filter((r) => r.kind === 'push' && r.tag === tag && r.region === region)),
    );
    const digests = new Set(latestByRegion.map((r) => r?.digest));
    const [only] = digests;
    if (digests.size !== 1 || only === undefined) continue;
    if (!latestByRegion.every((r) => r !== undefined && notUndone(reports, r))) continue;
    const status = await readStatus(deps, P_REGISTRY, {
      kind: 'tag',
      repository: P_REPOSITORY,
      tag,
    });
    expect(
      { digest: status?.digest, status: status?.status },
      `${P_REPOSITORY}:${tag}\n${describeRun()}`,
    ).toEqual({ digest: only, status: 'replicated' });
  }

  // A digest reads replicated when every required region has a push of it (under any tag) that
  // no later delete in that region undoes.
  for (const digest of new Set(reports.filter((r) => r.kind === 'push').map((r) => r.digest))) {
    const held = REGIONS.every((region) =>
      reports.some(
        (r) =>
          r.kind === 'push' && r.digest === digest && r.region === region && notUndone(reports, r),
      ),
    );
    if (!held) continue;
    const status = await readStatus(deps, P_REGISTRY, {
      kind: 'digest',
      repository: P_REPOSITORY,
      digest,
    });
    expect(status?.status, `${P_REPOSITORY}@${short(digest)}\n${describeRun()}`).toBe('replicated');
  }

  // One event per round at most: no event id twice, and each event's digest was pushed to its tag.
  const { items } = await deps.store.events.list(undefined, 100);
  const ids = items.map((e) => e.event.id);
  expect(new Set(ids).size).toBe(ids.length);
  for (const e of items) {
    const { tag, digest } = e.event.data as { tag: string; digest: string };
    expect(reports.some((r) => r.kind === 'push' && r.tag === tag && r.digest === digest)).toBe(
      true,
    );
  }
  await cosmos.reader.database(database).delete();
}

describe('properties stated without the rules', () => {
  it('a tag, and a digest, read replicated when every region reports a push not undone by a later delete', async () => {
    await fc.assert(fc.asyncProperty(historyArb, runRuleFree), {
      numRuns: 25,
      plugins: [fc.interruptAfterTimeLimit(60_000)],
    });
  }, 90_000);
});

// The event feed read by cursor from the start, while three instances write events and one of
// them has its event writes held (a 429 retry, a GC pause) within the settle window.
const FEED_SETTLE_MS = 2_000;
const feedArb = fc.record({
  rounds: fc.array(fc.record({ instance: fc.nat({ max: 2 }), startMs: fc.nat({ max: 400 }) }), {
    minLength: 3,
    maxLength: 6,
  }),
  delayMs: fc.integer({ min: 400, max: 1_500 }),
  seed: fc.nat(),
});

async function runFeed(spec: typeof feedArb extends fc.Arbitrary<infer F> ? F : never) {
  const database = freshDatabase();
  const proxy = await startFaultProxy({ target: cosmos.endpoint, seed: spec.seed });
  try {
    const settings = cosmosSettings(cosmos.endpoint, cosmos.key, database);
    const instances = [
      anInstance(settings, REGIONS),
      anInstance(settings, REGIONS),
      anInstance({ ...settings, endpoint: proxy.endpoint }, REGIONS),
    ].map((deps) => ({ ...deps, feedSettleMs: FEED_SETTLE_MS }));
    const poller = at(instances, 0);
    const ref = (k: number) => ({ ...at(TAGS, 0), tag: `feed-${k}` });
    const digest = at(DIGESTS, 0);
    // Every round but its last region, before the poller starts.
    for (const k of spec.rounds.keys()) {
      for (const [r, region] of REGIONS.slice(0, 3).entries()) {
        const d = aDelivery('push', ref(k), region, digest, T0 + r * 1_000, k);
        await recordArrival(poller, d.intent, d.region, d.payload);
      }
    }
    proxy.setFaults({
      rate: 1,
      kinds: ['delay-request'],
      delayMs: spec.delayMs,
      match: ({ method, path, headers }) =>
        method === 'POST' &&
        path.endsWith('/docs') &&
        headers['x-ms-documentdb-isquery'] === undefined,
    });
    let cursor: EventCursor | undefined;
    const seen: string[] = [];
    const poll = async (): Promise<number> => {
      const page = await readFeed(poller, cursor, 50);
      seen.push(...page.items.map((e) => e.event.id));
      cursor = page.items.at(-1)?.cursor ?? cursor;
      return page.items.length;
    };
    let writing = true;
    const polling = (async () => {
      while (writing) {
        await poll();
        await sleep(50);
      }
    })();
    await Promise.all(
      spec.rounds.map(async ({ instance, startMs }, k) => {
        // The first round completes on the slow instance at once; the others race it.
        const on = k === 0 ? 2 : instance;
        if (k > 0) await sleep(startMs);
        const d = aDelivery('push', ref(k), 'westus', digest, T0 + 9_000, k);
        await recordArrival(at(instances, on), d.intent, d.region, d.payload);
      }),
    );
    writing = false;
    await polling;
    const all = (await poller.store.events.list(undefined, 100)).items;
    const latestMs = Math.max(...all.map((e) => Date.parse(`${e.recordedAt.slice(0, 23)}Z`)));
    while (Date.now() <= latestMs + FEED_SETTLE_MS) await sleep(50);
    while ((await poll()) > 0);
    // One replicated event per round (the feed also carries each region's acrgate.tag.arrived).
    expect(all.filter((e) => e.event.type === 'acrgate.tag.replicated')).toHaveLength(
      spec.rounds.length,
    );
    expect([...seen].sort()).toEqual(all.map((e) => e.event.id).sort());
  } finally {
    await proxy.close();
    await cosmos.reader.database(database).delete();
  }
}

// Any input the webhook accepts with 2xx leaves every read answering below 500.
const yearArb = fc.oneof(fc.constantFrom(0, 1, 9999), fc.integer({ min: 0, max: 9999 }));
const hostileTimestampArb = fc.oneof(
  fc
    .record({
      year: yearArb,
      month: fc.integer({ min: 1, max: 12 }),
      day: fc.integer({ min: 1, max: 31 }),
      hour: fc.integer({ min: 0, max: 24 }),
      minute: fc.integer({ min: 0, max: 59 }),
      second: fc.integer({ min: 0, max: 60 }),
      fraction: fc.stringMatching(/^(\.\d{1,9})?$/),
      zone: fc.constantFrom(
        'Z',
        'z',
        '+00:00',
        '-01:00',
        '+01:00',
        '+14:00',
        '-12:00',
        '+23:59',
        '-23:59',
      ),
    })
    .map(
      (t) =>
        `${String(t.year).padStart(4, '0')}-${String(t.month).padStart(2, '0')}-${String(t.day).padStart(2, '0')}T` +
        `${String(t.hour).padStart(2, '0')}:${String(t.minute).padStart(2, '0')}:${String(t.second).padStart(2, '0')}${t.fraction}${t.zone}`,
    ),
  fc.constantFrom(
    '9999-12-31T23:59:59-01:00',
    '0000-01-01T00:00:00+01:00',
    '0001-01-01T00:00:00+00:01',
  ),
);
const inputArb = fc.array(
  fc.record({
    kind: fc.constantFrom('push' as const, 'delete' as const),
    tag: fc.constantFrom('1.2', 'latest', 'x'.repeat(128), '_v1.2-rc.1'),
    digest: fc.nat({ max: DIGESTS.length - 1 }),
    region: fc.constantFrom(...REGIONS),
    timestamp: hostileTimestampArb,
  }),
  { minLength: 1, maxLength: 12 },
);

const TOKEN = 'model-webhook-token-0123456789';
/** Reads take a read token: a webhook token only delivers arrivals. */
const READ = 'model-read-token-0123456789ab';
const context = () => new InvocationContext({ invocationId: 'model', functionName: 'model' });
const call = async (
  handler: ReturnType<typeof makeStatusHandler>,
  init: ConstructorParameters<typeof HttpRequest>[0],
): Promise<HttpResponseInit> =>
  handler(
    new HttpRequest({
      ...init,
      headers: {
        authorization: `Bearer ${String(init.url).includes('/webhooks/') ? TOKEN : READ}`,
        ...init.headers,
      },
    }),
    context(),
  );

async function runHostile(inputs: typeof inputArb extends fc.Arbitrary<infer I> ? I : never) {
  const database = freshDatabase();
  const instance = anInstance(cosmosSettings(cosmos.endpoint, cosmos.key, database), REGIONS);
  const notifier = makeChangeNotifier();
  const deps = {
    ...instance,
    guard: makeGuard(ROUTES, makeAuthorizer({ webhook: [TOKEN], read: [READ], admin: [] })),
    maxBodyBytes: 65_536,
    countQuarantineAsArrival: false,
    notifier,
    pollMs: 100,
    waits: makeSharedWaits({
      store: instance.store,
      notifier,
      pollMs: 100,
      maxWaiters: 100,
      defaultRegions: REGIONS,
    }),
  };
  const webhook = makeAcrWebhookHandler(deps);
  const status = makeStatusHandler(deps);
  const list = makeListHandler(deps);
  const registry = 'contoso.azurecr.io';
  const repository = 'team/web';
  const accepted: string[] = [];
  for (const input of inputs) {
    const digest = at(DIGESTS, input.digest);
    const body =
      input.kind === 'push'
        ? aPushEvent({ registry, repository, tag: input.tag, digest, timestamp: input.timestamp })
        : aDeleteEvent({ registry, repository, digest, timestamp: input.timestamp });
    const answer = await call(webhook, {
      method: 'POST',
      url: `http://127.0.0.1/api/webhooks/acr/${input.region}`,
      params: { region: input.region },
      headers: { 'content-type': 'application/json' },
      body: { string: JSON.stringify(body) },
    });
    expect(answer.status ?? 200, `${input.kind} at ${input.timestamp}`).toBeLessThan(500);
    if ((answer.status ?? 200) < 300)
      accepted.push(`${input.kind} ${input.tag} ${input.timestamp}`);
  }
  const reads = [
    ...new Set(
      inputs.flatMap((i) => [`${repository}:${i.tag}`, `${repository}@${at(DIGESTS, i.digest)}`]),
    ),
  ];
  for (const reference of reads) {
    const answer = await call(status, {
      method: 'GET',
      url: `http://127.0.0.1/api/replications/${registry}/${reference}`,
      params: { registry, reference },
    });
    expect(answer.status ?? 200, `${reference} after ${accepted.join(', ')}`).toBeLessThan(500);
  }
  const listed = await call(list, {
    method: 'GET',
    url: `http://127.0.0.1/api/replications/${registry}`,
    params: { registry },
  });
  expect(listed.status ?? 200).toBeLessThan(500);
  const swept = await sweepRounds({ ...deps, stallAfterMs: 60_000 });
  expect(swept.malformed).toEqual([]);
  await cosmos.reader.database(database).delete();
}

describe('properties stated without the rules: the feed and reads', () => {
  it('the event feed, read by cursor while several instances write with delayed writes, yields every event id exactly once', async () => {
    await fc.assert(fc.asyncProperty(feedArb, runFeed), {
      numRuns: 4,
      plugins: [fc.interruptAfterTimeLimit(60_000)],
    });
  }, 90_000);

  it('no input accepted with 2xx makes any read of any tag answer 5xx', async () => {
    await fc.assert(fc.asyncProperty(inputArb, runHostile), {
      numRuns: 25,
      plugins: [fc.interruptAfterTimeLimit(45_000)],
    });
  }, 90_000);
});
