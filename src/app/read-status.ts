// Reads a tag's replication status (by tag or by digest) and lists a registry's tags.
import {
  completionOf,
  evaluate,
  evaluateDigest,
  type Evaluation,
  type RegionStatus,
  type TagState,
} from '../replication/tag-state';
import type { Reference } from '../replication/names';
import type { Instant } from '../replication/timestamp';
import type { Store, TagListQuery, TagRecord } from './ports';
import { getRequiredRegions } from './required-regions';

/** The status body (docs/design.md), which the CLI and pipelines rely on. */
export interface StatusBody {
  registry: string;
  repository: string;
  tag: string | null;
  digest: string | null;
  status: Evaluation['status'];
  requiredRegions: string[];
  regions: {
    region: string;
    status: RegionStatus;
    required: boolean;
    digest?: string;
    arrivedAt?: Instant;
    missing?: string[];
  }[];
  missingRegions: string[];
  pushedAt: Instant | null;
  replicatedAt: Instant | null;
  eventId: string | null;
  /** Present when the status was computed over a subset of the regions (`?regions=`). */
  scope?: string[];
  reason?: string;
}

export function toStatusBody(
  state: TagState,
  evaluation: Evaluation,
  scope?: readonly string[],
): StatusBody {
  const completion = completionOf(state, evaluation);
  return {
    registry: state.registry,
    repository: state.repository,
    tag: state.tag,
    digest: evaluation.digest,
    status: evaluation.status,
    requiredRegions: evaluation.requiredRegions,
    regions: evaluation.regions.map(({ region, status, required, digest, arrivedAt, missing }) => ({
      region,
      status,
      required,
      ...(digest === undefined ? {} : { digest }),
      ...(arrivedAt === undefined ? {} : { arrivedAt }),
      ...(missing === undefined ? {} : { missing }),
    })),
    missingRegions: evaluation.missingRegions,
    pushedAt: evaluation.pushedAt,
    replicatedAt: evaluation.replicatedAt,
    eventId: evaluation.status === 'replicated' ? (completion?.eventId ?? null) : null,
    ...(scope === undefined ? {} : { scope: [...scope] }),
    ...(evaluation.reason === undefined ? {} : { reason: evaluation.reason }),
  };
}

export type { Reference } from '../replication/names';

export interface ReadDeps {
  store: Pick<Store, 'tags' | 'registries'>;
  defaultRegions: readonly string[];
}

export interface ResolvedTag {
  state: TagState;
  evaluation: Evaluation;
  /** The same read evaluated over other regions (a `?regions=` scope, one cluster's region). */
  evaluateOver: (regions: readonly string[]) => Evaluation;
}

/** Finds the tag a reference names, evaluated against the registry's regions as they are now. */
export async function resolveReference(
  deps: ReadDeps,
  registry: string,
  reference: Reference,
  regions?: readonly string[],
): Promise<ResolvedTag | undefined> {
  const required = regions ?? (await getRequiredRegions(deps, registry)).regions;
  if (reference.kind === 'tag') {
    const key = { registry, repository: reference.repository, tag: reference.tag };
    const state = (await deps.store.tags.get(key))?.record.state;
    return state && tagResolved(state, required);
  }
  const { digest } = reference;
  const matches = await deps.store.tags.findByDigest(registry, reference.repository, digest);
  return pickForDigest(
    matches.map(({ record }) => record.state),
    digest,
    required,
  );
}

export const tagResolved = (state: TagState, required: readonly string[]): ResolvedTag => ({
  state,
  evaluation: evaluate(state, required),
  evaluateOver: (regions) => evaluate(state, regions),
});

/**
 * A by-digest reference among the tags that have seen the digest (others are ignored, so one
 * query can fetch the tags of several digests): named after the tag whose current target it is,
 * most recently pushed first (else no tag), with the digest's own status over all of them.
 */
export function pickForDigest(
  candidates: readonly TagState[],
  digest: string,
  required: readonly string[],
): ResolvedTag | undefined {
  const states = candidates.filter((state) =>
    Object.values(state.observations).some((byDigest) => Object.hasOwn(byDigest, digest)),
  );
  if (states.length === 0) return undefined;
  const ranked = states
    .map((state) => ({ state, evaluation: evaluate(state, required) }))
    .sort((a, b) => rank(b, digest) - rank(a, digest) || cmp(b, a));
  const named = ranked[0] as { state: TagState; evaluation: Evaluation };
  // Whether a manifest is in a region does not depend on which tag was pushed last: the
  // digest's status is its own, over every tag it was pushed under.
  const state: TagState = {
    ...named.state,
    tag: named.evaluation.digest === digest ? named.state.tag : null,
    observations: onlyDigest(states, digest),
    completions: states
      .flatMap((s) => s.completions.filter((c) => c.digest === digest))
      .sort((a, b) => a.replicatedAt.localeCompare(b.replicatedAt)),
  };
  return {
    state,
    evaluation: evaluateDigest(states, digest, required),
    evaluateOver: (regions) => evaluateDigest(states, digest, regions),
  };
}

export async function readStatus(
  deps: ReadDeps,
  registry: string,
  reference: Reference,
): Promise<StatusBody | undefined> {
  const found = await resolveReference(deps, registry, reference);
  return found && toStatusBody(found.state, found.evaluation);
}

const rank = (e: { evaluation: Evaluation }, digest: string): number =>
  e.evaluation.digest === digest ? 1 : 0;
const cmp = (a: { evaluation: Evaluation }, b: { evaluation: Evaluation }): number =>
  (a.evaluation.pushedAt ?? '').localeCompare(b.evaluation.pushedAt ?? '');

/** The digest's observations in the named tag's shape (first tag wins per region: for display). */
function onlyDigest(states: readonly TagState[], digest: string): TagState['observations'] {
  const out: TagState['observations'] = {};
  for (const state of states) {
    for (const [region, byDigest] of Object.entries(state.observations)) {
      const o = byDigest[digest];
      if (o && out[region] === undefined) out[region] = { [digest]: o };
    }
  }
  return out;
}

export async function listStatuses(
  deps: ReadDeps,
  query: TagListQuery,
): Promise<{ items: StatusBody[]; continuationToken: string | null }> {
  const { regions } = await getRequiredRegions(deps, query.registry);
  const page = await deps.store.tags.list(query);
  return {
    items: page.items.map((r: TagRecord) => toStatusBody(r.state, evaluate(r.state, regions))),
    continuationToken: page.continuationToken,
  };
}
