// Model-based test of multi-platform rounds: random histories of index and child-manifest webhooks,
// run by concurrent instances against Cosmos DB and a real registry, checked against a plain model.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageDeps } from '../../src/app/follow-image';
import { readStatus } from '../../src/app/read-status';
import { recordArrival } from '../../src/app/record-arrival';
import type { RegionsDeps } from '../../src/app/required-regions';
import { startEmbeddedCosmos, type EmbeddedCosmos } from '../../dev/embedded-cosmos';
import { replicatedEventId } from '../../src/events/replicated-event';
import { acrEventSchema, toIntent } from '../../src/replication/acr-event';
import { makeManifestReader } from '../../src/registry/manifest-reader';
import { anInstance, cosmosSettings, freshDatabase } from '../support/cosmos';
import { aPushEvent } from '../support/fixtures';
import {
  buildIndex,
  OCI_INDEX,
  pushIndex,
  registryAvailable,
  startRegistries,
  type RegistryFleet,
} from '../support/registries';

/*
 * A history is every (region, manifest) webhook of one multi-platform push, where a manifest is
 * the index (tagged) or one of its children (by digest: two platforms, two attestations). Some
 * webhooks never come, some come twice, and the order is any: children before, after and between
 * the index's arrivals. Steps run in batches (Promise.all) on three instances.
 *
 * The model: a region has the image once it reported the index and both platform manifests
 * (attestations only with REQUIRE_ATTESTATIONS). Checked:
 *  1. Never early: after every batch, "replicated" implies the model says every region has it.
 *  2. Never lost: at the end, the status is "replicated" exactly when the model says so, and each
 *     region that reported the index lists exactly the model's missing children.
 *  3. Exactly one "replicated" event when complete, none otherwise.
 */

const available = registryAvailable();
const REGISTRY = 'contoso.azurecr.io';
const REPO = 'model/multi';
const REGIONS = ['westus', 'eastus', 'canadacentral'];
const MANIFESTS = ['index', 'p0', 'p1', 'a0', 'a1'] as const;
type Manifest = (typeof MANIFESTS)[number];
interface Step {
  region: string;
  manifest: Manifest;
}

const historyArb = fc
  .record({
    delivered: fc.array(fc.subarray([...MANIFESTS], { minLength: 0 }), {
      minLength: REGIONS.length,
      maxLength: REGIONS.length,
    }),
    // Most histories deliver everything: otherwise completion would be rare.
    complete: fc.boolean(),
    duplicates: fc.array(fc.nat(), { maxLength: 3 }),
    order: fc.array(fc.nat(), { minLength: 20, maxLength: 20 }),
    batches: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 20, maxLength: 20 }),
    requireAttestations: fc.boolean(),
  })
  .map((h) => {
    const steps: Step[] = REGIONS.flatMap((region, i) =>
      (h.complete ? [...MANIFESTS] : (h.delivered[i] ?? [])).map((manifest) => ({
        region,
        manifest,
      })),
    );
    for (const d of h.duplicates) {
      const step = steps[d % Math.max(1, steps.length)];
      if (step) steps.push(step);
    }
    // A shuffle driven by the generated numbers, so fast-check can shrink it.
    const shuffled = steps
      .map((step, i) => ({ step, key: h.order[i % h.order.length] ?? 0, i }))
      .sort((a, b) => a.key - b.key || a.i - b.i)
      .map((x) => x.step);
    const batches: Step[][] = [];
    for (let i = 0, b = 0; i < shuffled.length; b++) {
      const size = h.batches[b % h.batches.length] ?? 1;
      batches.push(shuffled.slice(i, i + size));
      i += size;
    }
    return { batches, requireAttestations: h.requireAttestations };
  });

function model(steps: Step[], requireAttestations: boolean) {
  const needed: Manifest[] = requireAttestations ? ['p0', 'p1', 'a0', 'a1'] : ['p0', 'p1'];
  const seen = new Map<string, Set<Manifest>>();
  for (const { region, manifest } of steps) {
    seen.set(region, (seen.get(region) ?? new Set()).add(manifest));
  }
  const missing = Object.fromEntries(
    REGIONS.map((r) => [r, needed.filter((m) => !seen.get(r)?.has(m))]),
  );
  const complete = REGIONS.every(
    (r) => seen.get(r)?.has('index') === true && (missing[r]?.length ?? 0) === 0,
  );
  return { complete, missing, seen };
}

describe.skipIf(!available)('multi-platform rounds: model', () => {
  let fleet: RegistryFleet;
  let cosmos: EmbeddedCosmos;
  beforeAll(async () => {
    fleet = await startRegistries(['home']);
    cosmos = await startEmbeddedCosmos();
  });
  afterAll(async () => {
    await fleet?.stop();
    await cosmos?.close();
  });

  it('is never replicated early, and never stays open once every region has the whole image', async () => {
    const database = freshDatabase();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(historyArb, async ({ batches, requireAttestations }) => {
        const tag = `run-${run++}`;
        const image = buildIndex();
        await pushIndex(fleet.certificate.ca, fleet.url('home'), REPO, tag, image);
        const digestOf: Record<Manifest, string> = {
          index: image.index.digest,
          p0: image.platforms[0]?.digest ?? '',
          p1: image.platforms[1]?.digest ?? '',
          a0: image.attestations[0]?.digest ?? '',
          a1: image.attestations[1]?.digest ?? '',
        };
        const images: ImageDeps = {
          reader: makeManifestReader({ auth: 'anonymous', tls: { ca: fleet.certificate.ca } }),
          endpoints: { [REGISTRY]: fleet.url('home') },
          regionalEndpoints: {},
          requireAttestations,
          onUnreadableIndex: 'wait',
          verifyRegions: false,
          boundMs: 10_000,
        };
        const instances: RegionsDeps[] = [0, 1, 2].map(() => ({
          ...anInstance(cosmosSettings(cosmos.endpoint, cosmos.key, database), REGIONS),
          images,
        }));
        let second = 0;
        const deliver = async ({ region, manifest }: Step, i: number) => {
          const body = aPushEvent({
            repository: REPO,
            digest: digestOf[manifest],
            tag: manifest === 'index' ? tag : undefined,
            timestamp: `2026-03-14T11:00:${String(second++ % 60).padStart(2, '0')}Z`,
          });
          if (manifest === 'index') (body.target as Record<string, unknown>).mediaType = OCI_INDEX;
          const intent = toIntent(acrEventSchema.parse(body), { countQuarantine: false });
          if (intent.kind !== 'push') throw new Error('not a push');
          await recordArrival(instances[i % 3] as RegionsDeps, intent, region, body);
        };
        const status = () =>
          readStatus(instances[0] as RegionsDeps, REGISTRY, {
            kind: 'tag',
            repository: REPO,
            tag,
          });

        const done: Step[] = [];
        for (const batch of batches) {
          await Promise.all(batch.map(deliver));
          done.push(...batch);
          const now = await status();
          // 1. Never early.
          if (now?.status === 'replicated') {
            expect(model(done, requireAttestations).complete).toBe(true);
          }
        }
        const expected = model(done, requireAttestations);
        const final = await status();
        // 2. Never lost.
        if (expected.seen.size === 0 || ![...expected.seen.values()].some((s) => s.has('index'))) {
          expect(final).toBeUndefined();
          return;
        }
        expect(final?.status).toBe(expected.complete ? 'replicated' : 'replicating');
        for (const region of REGIONS) {
          if (!expected.seen.get(region)?.has('index')) continue;
          const view = final?.regions.find((r) => r.region === region);
          const missing = (expected.missing[region] ?? []).map((m) => digestOf[m]).sort();
          expect([...(view?.missing ?? [])].sort()).toEqual(missing);
          expect(view?.status).toBe(missing.length === 0 ? 'arrived' : 'pending');
        }
        // 3. One event exactly when complete.
        const id = replicatedEventId(REGISTRY, REPO, tag, image.index.digest, final?.pushedAt);
        const event = await (instances[0] as RegionsDeps).store.events.get(id);
        expect(event !== undefined).toBe(expected.complete);
      }),
      { numRuns: 25, seed: 20261203 },
    );
  }, 240_000);
});
