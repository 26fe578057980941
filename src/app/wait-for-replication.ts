// Long-poll: returns as soon as the referenced tag is replicated, its digest moved on, or time is up.
import { setTimeout as sleep } from 'node:timers/promises';
import { knownDigests } from '../replication/tag-state';
import { repositoryTopic, type ChangeNotifier } from './change-notifier';
import {
  resolveReference,
  toStatusBody,
  type ReadDeps,
  type Reference,
  type StatusBody,
} from './read-status';
import { getRequiredRegions } from './required-regions';

export interface WaitDeps extends ReadDeps {
  notifier: ChangeNotifier;
  /** How often to re-read the store: a write on another instance is seen within this. */
  pollMs: number;
}

export interface WaitOptions {
  timeoutMs: number;
  /** Wait for this digest; fail fast if the tag has moved past it. */
  digest?: string;
}

export type WaitOutcome =
  /** replicated, or deleted: nothing more will happen to this round. */
  | { kind: 'settled'; status: StatusBody }
  /** The tag's target is a newer digest than the one waited for. */
  | { kind: 'moved'; status: StatusBody; digest: string }
  | { kind: 'timeout'; status: StatusBody | undefined };

export async function waitForReplication(
  deps: WaitDeps,
  registry: string,
  reference: Reference,
  options: WaitOptions,
): Promise<WaitOutcome> {
  const deadline = Date.now() + options.timeoutMs;
  const { regions } = await getRequiredRegions(deps, registry);
  const topic = repositoryTopic(registry, reference.repository);
  for (;;) {
    // Subscribe before reading, so a write between the read and the wait is not missed.
    const remaining = deadline - Date.now();
    const changed = deps.notifier.next(topic, Math.min(deps.pollMs, Math.max(remaining, 0)));
    const found = await resolveReference(deps, registry, reference, regions);
    const status = found && toStatusBody(found.state, found.evaluation);
    if (found && status) {
      const pinned = options.digest;
      if (pinned !== undefined && status.digest !== pinned) {
        if (knownDigests(found.state).includes(pinned)) {
          return { kind: 'moved', status, digest: pinned };
        }
      } else if (status.status !== 'replicating') {
        return { kind: 'settled', status };
      }
    }
    if (Date.now() >= deadline) return { kind: 'timeout', status };
    await changed;
    // Several writes land together when regions race; let them settle before re-reading.
    await sleep(5);
  }
}
