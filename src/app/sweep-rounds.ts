// The periodic sweep: publishes outboxes a failed write left behind, and reports rounds that stall.
import { minusMillis } from '../replication/timestamp';
import { applyDelete, keyOf, roundKey, type TagKey } from '../replication/tag-state';
import { StoredItemMalformedError } from './ports';
import { getRequiredRegions, type RegionsDeps } from './required-regions';
import { retryImages } from './follow-image';
import { updateTag } from './update-tag';

export interface SweepDeps extends RegionsDeps {
  stallAfterMs: number;
}

export interface SweepReport {
  published: number;
  stalled: number;
  /** Open rounds re-evaluated because their registry's regions changed recently, and of those completed. */
  reevaluated: number;
  completed: number;
  /** Items skipped because they do not read back (each also an alert); the sweep went on. */
  malformed: string[];
  /** Rounds whose index read or region confirmation was retried. */
  imagesRetried?: number;
}

/**
 * How far back a change of regions (or a delete) is looked at. An arrival that read the regions before a PUT,
 * or from an instance's short-lived cache, may have written its round with the old ones after
 * the PUT re-evaluated: the next sweep re-evaluates those rounds with the current regions.
 */
export const REGION_CHANGE_WINDOW_MS = 10 * 60_000;

export async function sweepRounds(deps: SweepDeps, limit = 100): Promise<SweepReport> {
  const report: SweepReport = {
    published: 0,
    stalled: 0,
    reevaluated: 0,
    completed: 0,
    malformed: [],
  };
  /** One unreadable tag must not stop the sweep for every other tag and registry. */
  const isolated = async (key: TagKey, run: () => Promise<void>): Promise<void> => {
    try {
      await run();
    } catch (error) {
      if (!(error instanceof StoredItemMalformedError)) throw error;
      const name = key.tag === null ? `@${key.untaggedDigest ?? ''}` : `:${key.tag}`;
      report.malformed.push(`tag ${key.registry}/${key.repository}${name}`);
      console.error(`ALERT sweep skipped an unreadable item: ${error.message}`);
    }
  };
  // A write with nothing to change still publishes what the tag's outbox holds.
  for (const key of await deps.store.tags.listWithOutbox(limit)) {
    await isolated(key, async () => {
      const { regions } = await getRequiredRegions(deps, key.registry);
      await updateTag(deps, key, (s) => s, regions);
      report.published += 1;
    });
  }
  const now = deps.clock.now();
  for (const registry of await deps.store.registries.listChangedSince(
    minusMillis(now, REGION_CHANGE_WINDOW_MS),
  )) {
    const { regions } = await getRequiredRegions(deps, registry, { fresh: true });
    for await (const key of deps.store.tags.listOpen(registry)) {
      await isolated(key, async () => {
        const result = await updateTag(deps, key, (s) => s, regions);
        report.reevaluated += 1;
        if (result.completed) report.completed += 1;
      });
    }
  }
  // A delete racing the first push of its digest to a tag: the delete found no tag yet, the push
  // read no delete yet. Applying recent deletes again to every tag with the digest settles it.
  for (const deletion of await deps.store.deletions.listChangedSince(
    minusMillis(now, REGION_CHANGE_WINDOW_MS),
  )) {
    const { regions } = await getRequiredRegions(deps, deletion.registry);
    const tags = await deps.store.tags.findByDigest(
      deletion.registry,
      deletion.repository,
      deletion.digest,
    );
    for (const { record } of tags) {
      const key = keyOf(record.state);
      await isolated(key, async () => {
        await updateTag(
          deps,
          key,
          (s) =>
            Object.entries(deletion.regions).reduce(
              (next, [region, timestamp]) =>
                applyDelete(next, { region, digest: deletion.digest, timestamp }),
              s,
            ),
          regions,
        );
      });
    }
  }
  // Indexes that could not be read, and regions not yet confirmed, with back-off.
  report.imagesRetried = await retryImages(
    deps,
    (key) => async (k, change) => {
      const { regions } = await getRequiredRegions(deps, key.registry);
      return (await updateTag(deps, k, change, regions)).record.state;
    },
    limit,
  );
  for (const key of await deps.store.tags.listStallCandidates(
    minusMillis(now, deps.stallAfterMs),
    limit,
  )) {
    await isolated(key, async () => {
      const { regions } = await getRequiredRegions(deps, key.registry);
      const result = await updateTag(deps, key, (s) => s, regions, {
        stallAfterMs: deps.stallAfterMs,
      });
      if (result.record.state.stalls.includes(roundKey(result.record.evaluation) ?? ''))
        report.stalled += 1;
    });
  }
  return report;
}
