// Multi-platform rounds against real parts: the embedded Cosmos DB and Debian's docker-registry with TLS.
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordArrival } from '../../src/app/record-arrival';
import { readStatus } from '../../src/app/read-status';
import type { ImageDeps } from '../../src/app/follow-image';
import type { RegionsDeps } from '../../src/app/required-regions';
import { sweepRounds } from '../../src/app/sweep-rounds';
import { toIntent, acrEventSchema } from '../../src/replication/acr-event';
import { instantFromDate } from '../../src/replication/timestamp';
import { stableEventId, STALLED_EVENT_TYPE } from '../../src/events/replicated-event';
import { startEmbeddedCosmos, type EmbeddedCosmos } from '../../dev/embedded-cosmos';
import { anInstance, cosmosSettings, freshDatabase } from '../support/cosmos';
import { aDeleteEvent, aPushEvent } from '../support/fixtures';
import {
  buildIndex,
  OCI_INDEX,
  pushIndex,
  registryAvailable,
  imagesOnFleet,
  startRegistries,
  type BuiltIndex,
  type RegistryFleet,
} from '../support/registries';

const available = registryAvailable();
const REGISTRY = 'contoso.azurecr.io';
const REPO = 'multi/app';
const REGIONS = ['westus', 'eastus', 'canadacentral', 'westeurope'];

describe.skipIf(!available)('multi-platform images against real registries', () => {
  let fleet: RegistryFleet;
  let cosmos: EmbeddedCosmos;
  let silent: net.Server;
  let silentUrl: string;
  const sockets = new Set<net.Socket>();
  beforeAll(async () => {
    fleet = await startRegistries(['home', ...REGIONS]);
    cosmos = await startEmbeddedCosmos();
    // A registry that accepts connections and never answers.
    silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentUrl = `https://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
  });
  afterAll(async () => {
    await fleet?.stop();
    await cosmos?.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent?.close(resolve));
  });

  const instance = (options: Partial<ImageDeps> = {}): RegionsDeps & { images: ImageDeps } => {
    const deps = anInstance(cosmosSettings(cosmos.endpoint, cosmos.key, freshDatabase()), REGIONS);
    return {
      ...deps,
      images: {
        ...imagesOnFleet(fleet, REGISTRY, REGIONS),
        reads: { count: 0 },
        ...options,
      },
    };
  };

  let clock = 0;
  const at = () =>
    `2026-03-14T09:${String(Math.floor(clock / 60) % 60).padStart(2, '0')}:${String(clock++ % 60).padStart(2, '0')}Z`;

  /** One regional webhook as ACR sends it, through the same path as the HTTP handler. */
  const hook = async (
    deps: RegionsDeps,
    region: string,
    digest: string,
    options: { tag?: string; mediaType?: string; size?: number } = {},
  ) => {
    const body = aPushEvent({ repository: REPO, digest, tag: options.tag, timestamp: at() });
    const target = body.target as Record<string, unknown>;
    if (options.mediaType) target.mediaType = options.mediaType;
    if (options.size !== undefined) target.size = options.size;
    const intent = toIntent(acrEventSchema.parse(body), { countQuarantine: false });
    if (intent.kind !== 'push') throw new Error('not a push');
    return recordArrival(deps, intent, region, body);
  };
  const indexHook = (deps: RegionsDeps, region: string, image: BuiltIndex, tag: string) =>
    hook(deps, region, image.index.digest, {
      tag,
      mediaType: OCI_INDEX,
      size: image.index.bytes.length,
    });
  const childHooks = async (
    deps: RegionsDeps,
    region: string,
    image: BuiltIndex,
    which = image.children,
  ) => {
    for (const child of which) await hook(deps, region, child.digest);
  };
  const status = async (deps: RegionsDeps, tag: string) => {
    const body = await readStatus(deps, REGISTRY, { kind: 'tag', repository: REPO, tag });
    if (!body) throw new Error('no status');
    return body;
  };

  it('is replicated only once every region reported the index and both platforms, whatever the order', async () => {
    const deps = instance();
    const image = buildIndex();
    await pushIndex(fleet.certificate.ca, fleet.url('home'), REPO, 'v1', image);
    // westus: children before the index; eastus: between; the others: after.
    await childHooks(deps, 'westus', image);
    for (const region of REGIONS) await indexHook(deps, region, image, 'v1');
    let s = await status(deps, 'v1');
    expect(s.status).toBe('replicating');
    expect(s.regions.find((r) => r.region === 'westus')).toMatchObject({ status: 'arrived' });
    // The index's own status, by digest, waits for the children too.
    const byDigest = () =>
      readStatus(deps, REGISTRY, { kind: 'digest', repository: REPO, digest: image.index.digest });
    expect((await byDigest())?.status).toBe('replicating');
    const platforms = image.platforms.map((p) => p.digest).sort();
    for (const region of ['eastus', 'canadacentral', 'westeurope']) {
      const view = s.regions.find((r) => r.region === region);
      expect(view?.status).toBe('pending');
      expect([...(view?.missing ?? [])].sort()).toEqual(platforms);
    }
    await childHooks(deps, 'eastus', image, image.platforms.slice(0, 1));
    await childHooks(deps, 'canadacentral', image, image.platforms);
    await childHooks(deps, 'westeurope', image, image.platforms);
    s = await status(deps, 'v1');
    expect(s.regions.find((r) => r.region === 'eastus')?.missing).toEqual([
      image.platforms[1]?.digest,
    ]);
    expect(s.status).toBe('replicating');
    await childHooks(deps, 'eastus', image, image.platforms.slice(1));
    s = await status(deps, 'v1');
    // Attestations are not needed unless REQUIRE_ATTESTATIONS=true.
    expect(s.status).toBe('replicated');
    expect((await byDigest())?.status).toBe('replicated');
    expect(s.missingRegions).toEqual([]);
    // The index was read once for the round, and never again.
    expect(deps.images.reads?.count).toBe(1);
  });

  it('shows a region lacking a platform manifest again once its delete is reported', async () => {
    const deps = instance();
    const image = buildIndex();
    await pushIndex(fleet.certificate.ca, fleet.url('home'), REPO, 'v10', image);
    for (const region of REGIONS) {
      await indexHook(deps, region, image, 'v10');
      await childHooks(deps, region, image, image.platforms);
    }
    expect((await status(deps, 'v10')).status).toBe('replicated');
    const gone = image.platforms[1]?.digest ?? '';
    const body = aDeleteEvent({ repository: REPO, digest: gone, timestamp: at() });
    const intent = toIntent(acrEventSchema.parse(body), { countQuarantine: false });
    if (intent.kind !== 'delete') throw new Error('not a delete');
    await recordArrival(deps, intent, 'eastus', body);
    const s = await status(deps, 'v10');
    expect(s.regions.find((r) => r.region === 'eastus')).toMatchObject({
      status: 'pending',
      missing: [gone],
    });
    // The round's event already went out; the status says the region lacks part of the image now.
    expect(s.missingRegions).toEqual(['eastus']);
  });

  it('waits for attestation manifests with REQUIRE_ATTESTATIONS=true', async () => {
    const deps = instance({ requireAttestations: true });
    const image = buildIndex();
    await pushIndex(fleet.certificate.ca, fleet.url('home'), REPO, 'v2', image);
    for (const region of REGIONS) {
      await indexHook(deps, region, image, 'v2');
      await childHooks(deps, region, image, image.platforms);
    }
    let s = await status(deps, 'v2');
    expect(s.status).toBe('replicating');
    expect([...(s.regions[0]?.missing ?? [])].sort()).toEqual(
      image.attestations.map((a) => a.digest).sort(),
    );
    for (const region of REGIONS) await childHooks(deps, region, image, image.attestations);
    s = await status(deps, 'v2');
    expect(s.status).toBe('replicated');
  });

  it('keeps the round open with a reason when the index cannot be read, and the sweep learns it later', async () => {
    const deps = instance();
    const image = buildIndex();
    // Not pushed to the home registry yet: the read answers 404.
    for (const region of REGIONS) {
      await indexHook(deps, region, image, 'v3');
      await childHooks(deps, region, image, image.platforms);
    }
    let s = await status(deps, 'v3');
    expect(s.status).toBe('replicating');
    expect(s.reason).toBe(
      'the index could not be read: the registry does not have this manifest (404)',
    );
    expect(s.regions.every((r) => r.status === 'pending')).toBe(true);

    await pushIndex(fleet.certificate.ca, fleet.url('home'), REPO, 'v3', image);
    // The back-off has not run out: the sweep leaves it alone.
    await sweepRounds({ ...deps, stallAfterMs: 3_600_000 });
    expect((await status(deps, 'v3')).status).toBe('replicating');
    const later = {
      ...deps,
      clock: { now: () => instantFromDate(new Date('2099-01-01T00:00:00Z')) },
    };
    const report = await sweepRounds({ ...later, stallAfterMs: 3_600_000 });
    expect(report.imagesRetried).toBeGreaterThanOrEqual(1);
    s = await status(deps, 'v3');
    expect(s.reason).toBeUndefined();
    expect(s.status).toBe('replicated');
  });

  it('raises the stall event for a round stuck on children nobody reports', async () => {
    const deps = instance();
    const image = buildIndex();
    await pushIndex(fleet.certificate.ca, fleet.url('home'), REPO, 'v4', image);
    for (const region of REGIONS) await indexHook(deps, region, image, 'v4');
    const report = await sweepRounds({ ...deps, stallAfterMs: 1 });
    expect(report.stalled).toBeGreaterThanOrEqual(1);
    const pushedAt = (await status(deps, 'v4')).pushedAt;
    const id = stableEventId(
      STALLED_EVENT_TYPE,
      REGISTRY,
      REPO,
      'v4',
      image.index.digest,
      pushedAt,
    );
    const stalled = await deps.store.events.get(id);
    const platforms = image.platforms.map((p) => p.digest);
    expect(stalled?.event.data).toMatchObject({
      missingRegions: [...REGIONS].sort(),
      missingManifests: Object.fromEntries(REGIONS.map((r) => [r, platforms])),
    });
  });

  it('trusts the index alone only when ON_UNREADABLE_INDEX=trust-index, and says so', async () => {
    const deps = instance({ onUnreadableIndex: 'trust-index' });
    const image = buildIndex();
    for (const region of REGIONS) await indexHook(deps, region, image, 'v5');
    const s = await status(deps, 'v5');
    expect(s.status).toBe('replicated');
    expect(s.reason).toMatch(/^the index could not be read: /);
  });

  it('refuses an index declared larger than the bound without reading it', async () => {
    const deps = instance();
    const image = buildIndex();
    await pushIndex(fleet.certificate.ca, fleet.url('home'), REPO, 'v6', image);
    for (const region of REGIONS)
      await hook(deps, region, image.index.digest, {
        tag: 'v6',
        mediaType: OCI_INDEX,
        size: 10_000_000,
      });
    const s = await status(deps, 'v6');
    expect(s.status).toBe('replicating');
    expect(s.reason).toBe(
      'the index could not be read: the index is 10000000 bytes, more than the 262144 the gate reads',
    );
    expect(deps.images.reads?.count).toBe(0);
  });

  it('acknowledges the arrival when the registry never answers, and stays open', async () => {
    const deps = instance({ endpoints: { [REGISTRY]: silentUrl }, boundMs: 300 });
    const image = buildIndex();
    for (const region of REGIONS) await indexHook(deps, region, image, 'v7');
    const s = await status(deps, 'v7');
    expect(s.status).toBe('replicating');
    expect(s.reason).toBe('the index could not be read: the registry did not answer in time');
  });

  it('keeps the round open when the registry answers garbage', async () => {
    const garbage = https.createServer(
      {
        cert: fs.readFileSync(fleet.certificate.certFile),
        key: fs.readFileSync(fleet.certificate.keyFile),
      },
      (_request, response) => {
        response.writeHead(200, {
          'content-type': OCI_INDEX,
          'docker-content-digest': `sha256:${'0'.repeat(64)}`,
        });
        response.end('{"schemaVersion": 2, "manifests": [ not json');
      },
    );
    await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', resolve));
    try {
      const port = (garbage.address() as net.AddressInfo).port;
      const deps = instance({ endpoints: { [REGISTRY]: `https://127.0.0.1:${port}` } });
      const image = buildIndex();
      for (const region of REGIONS) {
        await indexHook(deps, region, image, 'v9');
        await childHooks(deps, region, image);
      }
      const s = await status(deps, 'v9');
      expect(s.status).toBe('replicating');
      expect(s.reason).toBe(
        'the index could not be read: the registry returned content of another digest',
      );
    } finally {
      garbage.closeAllConnections();
      await new Promise((resolve) => garbage.close(resolve));
    }
  });

  it('stores a child webhook no index names harmlessly', async () => {
    const deps = instance();
    const image = buildIndex();
    const outcome = await hook(deps, 'westus', image.platforms[0]?.digest ?? '');
    expect(outcome.kind).toBe('push');
    expect(deps.images.reads?.count).toBe(0);
  });

  describe('with VERIFY_REGIONS=true', () => {
    it('a forged webhook cannot open the gate: each region counts once its own endpoint has the image', async () => {
      const deps = instance({ verifyRegions: true });
      const image = buildIndex();
      await pushIndex(fleet.certificate.ca, fleet.url('home'), REPO, 'v8', image);
      // Only westus and eastus really hold the image; the other two webhooks are forged.
      for (const region of ['westus', 'eastus']) {
        await pushIndex(fleet.certificate.ca, fleet.url(region), REPO, 'v8', image);
      }
      for (const region of REGIONS) await indexHook(deps, region, image, 'v8');
      let s = await status(deps, 'v8');
      expect(s.status).toBe('replicating');
      const byRegion = Object.fromEntries(s.regions.map((r) => [r.region, r.status]));
      expect(byRegion).toEqual({
        westus: 'arrived',
        eastus: 'arrived',
        canadacentral: 'reported',
        westeurope: 'reported',
      });
      // No child webhook came: the regional endpoint confirmed the children itself.
      // A repeated webhook checks again at once, once the content is really there.
      await pushIndex(fleet.certificate.ca, fleet.url('canadacentral'), REPO, 'v8', image);
      await indexHook(deps, 'canadacentral', image, 'v8');
      s = await status(deps, 'v8');
      expect(s.regions.find((r) => r.region === 'canadacentral')?.status).toBe('arrived');
      expect(s.status).toBe('replicating');
      // The sweep retries the last region with back-off.
      await pushIndex(fleet.certificate.ca, fleet.url('westeurope'), REPO, 'v8', image);
      const later = {
        ...deps,
        clock: { now: () => instantFromDate(new Date('2099-01-01T00:00:00Z')) },
      };
      await sweepRounds({ ...later, stallAfterMs: 3_600_000_000 });
      s = await status(deps, 'v8');
      expect(s.status).toBe('replicated');
    });
  });
});
