// Multi-platform images: learns an index's children once, follows their arrivals, and (optionally)
// confirms each region at its own endpoint. A round never completes on the index alone.
import type { ImageState } from '../replication/image-gate';
import { isIndexMediaType, MAX_INDEX_BYTES, neededChildren } from '../replication/image-index';
import {
  keyOf,
  pushTimes,
  targetDigest,
  type TagKey,
  type TagState,
} from '../replication/tag-state';
import { plusMillis } from '../replication/timestamp';
import type { ManifestReader } from '../registry/manifest-reader';
import type { Clock, Store } from './ports';

export interface ImageSettings {
  /** Login server → data-plane URL overrides (REGISTRY_ENDPOINTS). */
  endpoints: Readonly<Record<string, string>>;
  /** Region → regional endpoint overrides (REGIONAL_ENDPOINTS). */
  regionalEndpoints: Readonly<Record<string, string>>;
  requireAttestations: boolean;
  onUnreadableIndex: 'wait' | 'trust-index';
  verifyRegions: boolean;
}

export interface ImageDeps extends ImageSettings {
  reader: ManifestReader;
  /** How long an arrival waits for a registry read before it is acknowledged anyway. */
  boundMs: number;
  /** Registry reads made by this instance (the benchmark's figure). */
  reads?: { count: number };
}

/** What follow-image needs of the store and the clock; the composition root passes more. */
export interface FollowDeps {
  store: Pick<Store, 'images' | 'tags'>;
  clock: Clock;
  images?: ImageDeps;
}

/** An arrival is acknowledged after at most this long on registry reads; the sweep does the rest. */
export const DEFAULT_READ_BOUND_MS = 3_000;

export const registryEndpoint = (s: ImageSettings, registry: string): string =>
  s.endpoints[registry] ?? `https://${registry}`;

/** ACR's regional endpoint (preview): https://<name>.<region>.geo.azurecr.io. */
export const regionalEndpoint = (s: ImageSettings, registry: string, region: string): string =>
  s.regionalEndpoints[region] ??
  `https://${registry.split('.')[0] ?? registry}.${region}.geo.azurecr.io`;

/** 30 s, 1 min, 2 min, … up to 15 min between attempts. */
export const retryDelayMs = (attempts: number): number =>
  Math.min(30_000 * 2 ** Math.max(0, attempts - 1), 15 * 60_000);

/** The media type ACR's push webhook gave for a digest of the tag. */
function mediaTypeOf(state: TagState, digest: string): string | undefined {
  const target = state.pushes[digest]?.payload.target;
  const mediaType = (target as { mediaType?: unknown } | undefined)?.mediaType;
  return typeof mediaType === 'string' ? mediaType : undefined;
}

/** The index's declared size, from the webhook: an oversized index is refused without a read. */
function declaredSize(state: TagState, digest: string): number | undefined {
  const target = state.pushes[digest]?.payload.target as { size?: unknown } | undefined;
  return typeof target?.size === 'number' ? target.size : undefined;
}

const sameImage = (a: ImageState | undefined, b: ImageState | undefined): boolean =>
  JSON.stringify(a) === JSON.stringify(b);

/**
 * Brings the tag's image state up to date from the store (never the registry): the index's
 * children once stored, and which of them each region reported. Used inside every arrival's write.
 */
export async function refreshImage(deps: FollowDeps, state: TagState): Promise<TagState> {
  const settings = deps.images;
  if (!settings) return state;
  const target = targetDigest(pushTimes(state.observations));
  if (target === null) return state;
  const known = state.image?.digest === target ? state.image : undefined;
  const isIndex = known?.children !== undefined || isIndexMediaType(mediaTypeOf(state, target));
  if (!isIndex && !settings.verifyRegions) {
    if (state.image === undefined) return state;
    const { image: _dropped, ...rest } = state;
    return rest;
  }
  let image: ImageState = known ?? {
    digest: target,
    arrived: {},
    confirmed: {},
    attempts: 0,
    ...(settings.verifyRegions ? { verify: true } : {}),
  };
  if (!isIndex) image = { ...image, children: [] };
  if (isIndex && image.children === undefined) {
    const stored = await deps.store.images.getIndex(state.registry, state.repository, target);
    if (stored) {
      const { reason: _r, trustIndex: _t, retryAt: _a, ...rest } = image;
      image = {
        ...rest,
        children: neededChildren(stored.children, settings.requireAttestations),
        attempts: 0,
        // Verification still has regions to confirm: the sweep carries on.
        ...(settings.verifyRegions ? { retryAt: deps.clock.now() } : {}),
      };
    } else if (image.reason === undefined) {
      // Not read yet: the arrival reads it right after this write (or the sweep, soon).
      image = { ...image, retryAt: plusMillis(deps.clock.now(), retryDelayMs(1)) };
    }
  }
  if (image.children !== undefined && image.children.length > 0 && !image.verify) {
    image = {
      ...image,
      arrived: await deps.store.images.childArrivals(
        state.registry,
        state.repository,
        image.children,
      ),
    };
  }
  return sameImage(image, state.image) ? state : { ...state, image };
}

/** Records a failed read: the round keeps waiting (or trusts the index, if the operator chose so). */
function withReadFailure(
  deps: FollowDeps & { images: ImageDeps },
  state: TagState,
  digest: string,
  reason: string,
): TagState {
  const image = state.image;
  if (image?.digest !== digest || image.children !== undefined) return state;
  const attempts = image.attempts + 1;
  const trust = deps.images.onUnreadableIndex === 'trust-index';
  return {
    ...state,
    image: {
      ...image,
      reason: `the index could not be read: ${reason}`,
      attempts,
      ...(trust ? { trustIndex: true } : {}),
      retryAt: plusMillis(deps.clock.now(), retryDelayMs(attempts)),
    },
  };
}

const inFlight = new Map<string, ReturnType<ManifestReader['readIndex']>>();

/** One read per index at a time on this instance: four regions reporting at once read it once. */
async function readIndexOnce(
  deps: FollowDeps & { images: ImageDeps },
  registry: string,
  repository: string,
  digest: string,
) {
  const key = `${registry}/${repository}@${digest}`;
  let read = inFlight.get(key);
  if (!read) {
    if (deps.images.reads) deps.images.reads.count += 1;
    read = deps.images.reader
      .readIndex(
        registryEndpoint(deps.images, registry),
        repository,
        digest,
        AbortSignal.timeout(deps.images.boundMs),
      )
      .finally(() => inFlight.delete(key));
    inFlight.set(key, read);
  }
  return read;
}

export type Update = (
  key: TagKey,
  change: (s: TagState) => TagState | Promise<TagState>,
) => Promise<TagState>;

/**
 * After an arrival is stored: reads the index when its children are unknown, and confirms the
 * reporting region when verification is on. Each step is bounded; failures become reasons.
 */
export async function followArrival(
  deps: FollowDeps,
  update: Update,
  state: TagState,
  region: string | null,
): Promise<void> {
  const settings = deps.images;
  const image = state.image;
  if (!settings || image === undefined) return;
  const d = { ...deps, images: settings };
  const key = keyOf(state);
  let current = state;
  let justRead = false;
  if (image.children === undefined && !image.trustIndex) {
    const size = declaredSize(state, image.digest);
    const read =
      size !== undefined && size > MAX_INDEX_BYTES
        ? {
            ok: false as const,
            reason: `the index is ${size} bytes, more than the ${MAX_INDEX_BYTES} the gate reads`,
          }
        : await readIndexOnce(d, state.registry, state.repository, image.digest);
    if (read.ok) {
      await deps.store.images.putIndex(
        state.registry,
        state.repository,
        image.digest,
        { mediaType: read.mediaType, children: read.children },
        deps.clock.now(),
      );
      current = await update(key, (s) => refreshImage(deps, s));
      justRead = true;
    } else {
      const reason = read.reason;
      current = await update(key, async (s) =>
        withReadFailure(d, await refreshImage(deps, s), image.digest, reason),
      );
    }
  }
  if (!justRead && !settings.verifyRegions && image.children !== undefined) {
    // A child stored while this arrival created the tag found no tag to re-evaluate: read the
    // children's arrivals again now that the tag is stored (no write when nothing changed).
    current = await update(key, (s) => refreshImage(deps, s));
  }
  if (settings.verifyRegions) {
    // Regions that reported before the children were known are confirmed now too.
    await confirmRegions(d, update, current, justRead || region === null ? undefined : [region]);
  }
}

/**
 * A child manifest's webhook (a push by digest): the rounds of the indexes that name it are
 * evaluated again. A digest no stored index names changes nothing.
 */
export async function followChild(
  deps: FollowDeps,
  update: Update,
  registry: string,
  repository: string,
  digest: string,
): Promise<void> {
  if (!deps.images || deps.images.verifyRegions) return;
  for (const parent of await deps.store.images.findParents(registry, repository, digest)) {
    for (const { record } of await deps.store.tags.findByDigest(registry, repository, parent)) {
      if (record.state.image?.digest !== parent) continue;
      await update(keyOf(record.state), (s) => refreshImage(deps, s));
    }
  }
}

/** Regions that reported the target and were not confirmed at their own endpoint yet. */
function unconfirmed(state: TagState): string[] {
  const image = state.image;
  if (!image?.verify) return [];
  return Object.keys(state.observations).filter(
    (r) =>
      image.confirmed[r] === undefined &&
      state.observations[r]?.[image.digest]?.lastSeen !== undefined,
  );
}

/** Confirms regions at their own endpoints; a region confirmed stays confirmed for this digest. */
export async function confirmRegions(
  deps: FollowDeps & { images: ImageDeps },
  update: Update,
  state: TagState,
  only?: readonly string[],
): Promise<TagState> {
  const image = state.image;
  const children = image?.children ?? (image?.trustIndex ? [] : undefined);
  if (!image?.verify || children === undefined) return state;
  const regions = unconfirmed(state).filter((r) => only === undefined || only.includes(r));
  if (regions.length === 0) return state;
  const digests = [image.digest, ...children];
  const outcomes = await Promise.all(
    regions.map(async (region) => {
      if (deps.images.reads) deps.images.reads.count += digests.length;
      const result = await deps.images.reader.confirm(
        regionalEndpoint(deps.images, state.registry, region),
        state.repository,
        digests,
        AbortSignal.timeout(deps.images.boundMs),
      );
      return [region, result] as const;
    }),
  );
  return update(keyOf(state), async (s) => {
    const fresh = await refreshImage(deps, s);
    const img = fresh.image;
    if (img?.digest !== image.digest) return fresh;
    const now = deps.clock.now();
    const confirmed = { ...img.confirmed };
    const unconfirmed = { ...img.unconfirmed };
    for (const [region, result] of outcomes) {
      if (result.ok) {
        confirmed[region] = now;
        delete unconfirmed[region];
      } else {
        unconfirmed[region] = result.reason;
      }
    }
    const failed = outcomes.some(([, r]) => !r.ok);
    const attempts = failed ? img.attempts + 1 : img.attempts;
    const next: ImageState = { ...img, confirmed, unconfirmed, attempts };
    // Regions that reported the target but are not confirmed need the sweep.
    const { retryAt: _old, ...rest } = next;
    const pending = Object.keys(s.observations)
      .filter((r) => s.observations[r]?.[img.digest]?.lastSeen !== undefined)
      .some((r) => confirmed[r] === undefined);
    return {
      ...fresh,
      image: pending
        ? { ...rest, retryAt: plusMillis(now, retryDelayMs(Math.max(1, attempts))) }
        : rest,
    };
  });
}

/** The sweep's part: reads indexes and confirms regions whose back-off has run out. */
export async function retryImages(
  deps: FollowDeps,
  updateFor: (key: TagKey) => Update,
  limit: number,
): Promise<number> {
  if (!deps.images) return 0;
  const due = await deps.store.images.listRetries(deps.clock.now(), limit);
  for (const key of due) {
    const stored = await deps.store.tags.get(key);
    if (!stored) continue;
    const update = updateFor(key);
    // Children stored by another instance since: take them without a read.
    const state = await update(key, (s) => refreshImage(deps, s));
    const image = state.image;
    if (image === undefined) continue;
    if (image.children === undefined && !image.trustIndex) {
      await followArrival(deps, update, state, null);
    } else if (deps.images.verifyRegions && unconfirmed(state).length > 0) {
      await confirmRegions({ ...deps, images: deps.images }, update, state);
    } else if (image.retryAt !== undefined) {
      // Nothing left to try: stop listing it.
      await update(key, (s) => {
        if (s.image?.digest !== image.digest) return s;
        const { retryAt: _done, ...rest } = s.image;
        return { ...s, image: rest };
      });
    }
  }
  return due.length;
}

export interface RegionCheck {
  region: string;
  confirmed: boolean;
  endpoint: string;
  detail?: string;
}

export interface VerifyReport {
  registry: string;
  repository: string;
  tag: string | null;
  digest: string;
  /** Every manifest checked in each region: the target and the children a pull needs. */
  manifests: string[];
  regions: RegionCheck[];
  /** Why the children could not be checked (an unreadable index). */
  reason?: string;
}

/**
 * `acr-gate verify`: checks every required region at its own endpoint now. Confirmations of
 * regions that reported are kept when VERIFY_REGIONS is on, so the gate can open.
 */
export async function verifyNow(
  deps: FollowDeps & { images: ImageDeps },
  update: Update,
  state: TagState,
  regions: readonly string[],
): Promise<VerifyReport> {
  const target = targetDigest(pushTimes(state.observations));
  if (target === null) throw new Error('verifyNow needs a pushed digest');
  let current = state;
  if (current.image?.digest === target && current.image.children === undefined) {
    await followArrival(deps, update, current, null);
    current = (await deps.store.tags.get(keyOf(current)))?.record.state ?? current;
  }
  const image = current.image?.digest === target ? current.image : undefined;
  const isIndex =
    image !== undefined && (image.children !== undefined || image.reason !== undefined);
  const children = image?.children ?? [];
  const manifests = [target, ...children];
  const checks = await Promise.all(
    [...regions].sort().map(async (region): Promise<RegionCheck> => {
      const endpoint = regionalEndpoint(deps.images, state.registry, region);
      if (deps.images.reads) deps.images.reads.count += manifests.length;
      const result = await deps.images.reader.confirm(
        endpoint,
        state.repository,
        manifests,
        AbortSignal.timeout(deps.images.boundMs),
      );
      return result.ok
        ? { region, confirmed: !(isIndex && image.children === undefined), endpoint }
        : { region, confirmed: false, endpoint, detail: result.reason };
    }),
  );
  if (image?.verify && image.children !== undefined) {
    const confirmed = checks.filter((c) => c.confirmed).map((c) => c.region);
    await update(keyOf(current), (s) => {
      if (s.image?.digest !== target) return s;
      const reported = confirmed.filter((r) => s.observations[r]?.[target]?.lastSeen !== undefined);
      if (reported.every((r) => s.image?.confirmed[r] !== undefined)) return s;
      const now = deps.clock.now();
      const next = { ...s.image.confirmed };
      for (const r of reported) next[r] ??= now;
      return { ...s, image: { ...s.image, confirmed: next } };
    });
  }
  return {
    registry: state.registry,
    repository: state.repository,
    tag: state.tag,
    digest: target,
    manifests,
    regions: checks,
    ...(image?.reason !== undefined && image.children === undefined
      ? { reason: image.reason }
      : {}),
  };
}
