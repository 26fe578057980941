// What an index round costs beside a single-manifest round: Cosmos DB round trips per webhook and
// registry reads per round. Runs alone: `node dist/bench/measure-index-round.js` after the bench build.
import type { ImageDeps } from '../src/app/follow-image';
import { recordArrival } from '../src/app/record-arrival';
import { startEmbeddedCosmos } from '../dev/embedded-cosmos';
import { makeManifestReader, type ManifestReader } from '../src/registry/manifest-reader';
import { acrEventSchema, toIntent } from '../src/replication/acr-event';
import { aPushEvent } from '../test/support/fixtures';
import { buildIndex, OCI_INDEX, pushIndex, startRegistries } from '../test/support/registries';
import { diffCounts, startCountingProxy, totalRequests } from './support/counting-proxy';
import { anAppInstance, acrTime, digestOf, FOUR_REGIONS } from './support/workload';

export interface IndexRoundResult {
  rounds: number;
  single: { webhooksPerRound: number; roundTripsPerWebhook: number; registryReadsPerRound: 0 };
  index: {
    webhooksPerRound: number;
    roundTripsPerWebhook: number;
    roundTripsPerRound: number;
    registryReadsPerRound: number;
    /** Round trips per round by operation. */
    byOperation: Record<string, number>;
  };
  singleRoundTripsPerRound: number;
}

const REGISTRY = 'bench.azurecr.io';

export async function measureIndexRound(rounds = 5): Promise<IndexRoundResult> {
  const fleet = await startRegistries(['home']);
  const cosmos = await startEmbeddedCosmos();
  const proxy = await startCountingProxy(new URL(cosmos.endpoint));
  try {
    const settings = {
      endpoint: proxy.endpoint,
      key: cosmos.key,
      database: `bench-index-${Date.now()}`,
      container: 'replication',
    };
    const sdk = makeManifestReader({ auth: 'anonymous', tls: { ca: fleet.certificate.ca } });
    const reads = { count: 0 };
    const counted: ManifestReader = {
      readIndex: (...args) => sdk.readIndex(...args),
      confirm: (...args) => sdk.confirm(...args),
    };
    const images: ImageDeps = {
      reader: counted,
      endpoints: { [REGISTRY]: fleet.url('home') },
      regionalEndpoints: {},
      requireAttestations: false,
      onUnreadableIndex: 'wait',
      verifyRegions: false,
      boundMs: 10_000,
      reads,
    };
    const deps = { ...anAppInstance(settings, FOUR_REGIONS), images };
    let ms = Date.UTC(2026, 2, 14, 9, 0, 0);
    const deliver = async (
      region: string,
      digest: string,
      tag: string | undefined,
      mediaType?: string,
    ) => {
      const body = aPushEvent({
        registry: REGISTRY,
        repository: 'bench/multi',
        tag,
        digest,
        timestamp: acrTime(ms++),
      });
      if (mediaType) (body.target as Record<string, unknown>).mediaType = mediaType;
      const intent = toIntent(acrEventSchema.parse(body), { countQuarantine: false });
      if (intent.kind !== 'push') throw new Error('expected a push');
      await recordArrival(deps, intent, region, body);
    };
    const singleRound = async (name: string) => {
      for (const region of FOUR_REGIONS) await deliver(region, digestOf(name), name);
    };
    /** As a registry replicates a buildx push: per region, the children, then the index. */
    const indexRound = async (name: string) => {
      const image = buildIndex({ salt: name });
      await pushIndex(fleet.certificate.ca, fleet.url('home'), 'bench/multi', name, image);
      for (const region of FOUR_REGIONS) {
        for (const child of image.children) await deliver(region, child.digest, undefined);
        await deliver(region, image.index.digest, name, OCI_INDEX);
      }
      return 1 + image.children.length;
    };
    // Warm-up: the container is created and the SDK has its metadata.
    await singleRound('warm-single');
    await indexRound('warm-index');

    let before = proxy.snapshot();
    for (let i = 0; i < rounds; i++) await singleRound(`single-${i}`);
    const single = totalRequests(diffCounts(proxy.snapshot(), before));

    before = proxy.snapshot();
    reads.count = 0;
    let manifests = 0;
    for (let i = 0; i < rounds; i++) manifests = await indexRound(`index-${i}`);
    const indexCounts = diffCounts(proxy.snapshot(), before);
    const index = totalRequests(indexCounts);
    const indexWebhooks = manifests * FOUR_REGIONS.length;
    return {
      rounds,
      single: {
        webhooksPerRound: FOUR_REGIONS.length,
        roundTripsPerWebhook: single / (rounds * FOUR_REGIONS.length),
        registryReadsPerRound: 0,
      },
      singleRoundTripsPerRound: single / rounds,
      index: {
        webhooksPerRound: indexWebhooks,
        roundTripsPerWebhook: index / (rounds * indexWebhooks),
        roundTripsPerRound: index / rounds,
        registryReadsPerRound: reads.count / rounds,
        byOperation: Object.fromEntries(
          Object.entries(indexCounts).map(([kind, c]) => [kind, c.requests / rounds]),
        ),
      },
    };
  } finally {
    await proxy.close();
    await cosmos.close();
    await fleet.stop();
  }
}

if (require.main === module) {
  measureIndexRound()
    .then((result) => console.log(JSON.stringify(result, null, 2)))
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}
