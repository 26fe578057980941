// Answers, for one region, whether each image a pod names is there: the rules behind the admission gate.
import { parseImageKey, type ImageKey } from '../replication/image-key';
import type { Evaluation, RegionView } from '../replication/tag-state';
import type { Instant } from '../replication/timestamp';
import type { Store } from './ports';
import { pickForDigest, tagResolved, type ResolvedTag } from './read-status';

export interface CheckImagesDeps {
  store: Pick<Store, 'tags' | 'registries'>;
  defaultRegions: readonly string[];
}

/** What the gate knows of one image in the region. */
export type ImageValue =
  | {
      tracked: true;
      registry: string;
      repository: string;
      tag: string | null;
      digest: string | null;
      region: string;
      status: RegionView['status'] | 'unknown';
      arrivedAt?: Instant;
    }
  | { tracked: false; registry: string; message: string };

/** One answer per distinct key: `error` is empty when the image may run in the region. */
export interface ImageCheck {
  key: string;
  value?: ImageValue;
  error: string;
}

/** Store reads in flight at once for one batch: enough to overlap round trips, few enough to share. */
const CONCURRENT_READS = 16;

async function mapLimit<T, R>(items: T[], limit: number, run: (item: T) => Promise<R>) {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await run(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

const lookupKey = (i: ImageKey): string =>
  `${i.registry}/${i.repository}${i.digest === null ? `:${i.tag ?? ''}` : `@${i.digest}`}`;

function verdict(
  image: ImageKey,
  region: string,
  registryRegions: readonly string[],
  found: ResolvedTag | undefined,
): Omit<ImageCheck, 'key'> {
  const name = lookupKey(image);
  const base = {
    tracked: true as const,
    registry: image.registry,
    repository: image.repository,
    tag: image.tag,
    region,
  };
  const elsewhere = registryRegions.includes(region)
    ? ''
    : ` (${region} is not a region of ${image.registry}: ${registryRegions.join(', ') || 'none'})`;
  if (!found) {
    return {
      value: { ...base, digest: image.digest, status: 'unknown' },
      error: `${name}: no region has reported this image${elsewhere}`,
    };
  }
  const evaluation: Evaluation = found.evaluation;
  const digest = evaluation.digest;
  const view = evaluation.regions.find((r) => r.region === region);
  const value: ImageValue = {
    ...base,
    digest,
    status: view?.status ?? 'pending',
    ...(view?.arrivedAt === undefined ? {} : { arrivedAt: view.arrivedAt }),
  };
  if (evaluation.status === 'deleted') {
    return { value, error: `${name}: ${digest ?? 'the image'} was deleted` };
  }
  if (view?.status === 'arrived' && view.digest === digest) return { value, error: '' };
  const current = image.digest === null ? ` (now ${digest ?? 'unknown'})` : '';
  const why =
    view?.status === 'stale'
      ? `${region} still has ${view.digest ?? 'an older digest'}`
      : view?.status === 'deleted'
        ? `it was deleted in ${region}`
        : `it has not reached ${region} yet`;
  return { value, error: `${name}${current}: ${why}${elsewhere}` };
}

/**
 * Checks every key against the region. Keys are answered once each, in the order first given;
 * lookups are shared between keys naming the same image (`web` and `web:latest`).
 */
export async function checkImages(
  deps: CheckImagesDeps,
  region: string,
  keys: readonly string[],
): Promise<ImageCheck[]> {
  const distinct = [...new Set(keys)];
  const parsed = distinct.map((key) => ({ key, result: parseImageKey(key) }));
  const images = new Map<string, ImageKey>();
  for (const { result } of parsed) if (result.ok) images.set(lookupKey(result.image), result.image);

  // One or two queries per repository, whatever the number of keys: tags by id, digests at once.
  const repositories = new Map<
    string,
    { registry: string; repository: string; images: [string, ImageKey][] }
  >();
  for (const [id, image] of images) {
    const group = `${image.registry}/${image.repository}`;
    const entry = repositories.get(group) ?? {
      registry: image.registry,
      repository: image.repository,
      images: [],
    };
    entry.images.push([id, image]);
    repositories.set(group, entry);
  }
  const found = new Map<string, ResolvedTag | undefined>();
  await mapLimit([...repositories.values()], CONCURRENT_READS, async (group) => {
    const tags = group.images
      .filter(([, i]) => i.digest === null)
      .map(([, i]) => i.tag ?? 'latest');
    const digests = group.images.flatMap(([, i]) => (i.digest === null ? [] : [i.digest]));
    const [byTag, byDigest] = await Promise.all([
      deps.store.tags.getMany(group.registry, group.repository, tags),
      deps.store.tags.findByDigests(group.registry, group.repository, digests),
    ]);
    for (const [id, image] of group.images) {
      if (image.digest === null) {
        const state = byTag.find(
          (t) => t.record.state.tag === image.tag && t.record.state.untaggedDigest === undefined,
        )?.record.state;
        found.set(id, state && tagResolved(state, [region]));
      } else {
        // By digest: the tag it is the target of, or the digest under its own name.
        const states = byDigest.map((t) => t.record.state);
        found.set(id, pickForDigest(states, image.digest, [region]));
      }
    }
  });

  const registries = [...new Set([...images.values()].map((i) => i.registry))];
  const seen = new Set(
    [...images.entries()].filter(([id]) => found.get(id)).map(([, i]) => i.registry),
  );
  const known = new Map(
    await mapLimit(registries, CONCURRENT_READS, async (registry) => {
      const own = await deps.store.registries.getRegions(registry);
      // Tracked: its regions were set, or the gate has recorded an arrival in it.
      const tracked =
        own !== undefined || seen.has(registry) || (await deps.store.tags.anyInRegistry(registry));
      const regions = own?.regions ?? [...deps.defaultRegions];
      return [registry, { tracked, regions }] as const;
    }),
  );
  const answers = new Map<string, Omit<ImageCheck, 'key'>>();
  for (const [id, image] of images) {
    const registry = known.get(image.registry);
    if (registry?.tracked) answers.set(id, verdict(image, region, registry.regions, found.get(id)));
  }

  return parsed.map(({ key, result }) => {
    if (!result.ok) return { key, error: `invalid image reference: ${result.message}` };
    const image = result.image;
    if (!known.get(image.registry)?.tracked) {
      return {
        key,
        value: {
          tracked: false,
          registry: image.registry,
          message: `${image.registry} is not tracked by the gate`,
        },
        error: '',
      };
    }
    return { key, ...(answers.get(lookupKey(image)) ?? { error: 'not checked' }) };
  });
}
