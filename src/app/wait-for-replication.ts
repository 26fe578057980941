// Long-poll: returns as soon as the referenced tag is replicated, its digest moved on, or time is up.
import { knownDigests } from '../replication/tag-state';
import { repositoryTopic, type ChangeNotifier } from './change-notifier';
import {
  resolveReference,
  toStatusBody,
  type ReadDeps,
  type Reference,
  type ResolvedTag,
  type StatusBody,
} from './read-status';
import { getRequiredRegions } from './required-regions';
import { sleepOn, systemScheduler, type Scheduler } from './scheduler';

export interface WaitDeps extends ReadDeps {
  /** This instance's long-polls: one store read per watched tag and poll, however many wait. */
  waits: SharedWaits;
}

export interface WaitOptions {
  timeoutMs: number;
  /** Wait for this digest; fail fast if the tag has moved past it. */
  digest?: string;
  /** The client went away: stop waiting (only where the host says so, see docs/hardening.md). */
  signal?: AbortSignal;
  /** Settle when the digest is in these regions (checked against the registry's by the caller). */
  scope?: readonly string[];
}

export type WaitOutcome =
  /** replicated, or deleted: nothing more will happen to this round. */
  | { kind: 'settled'; status: StatusBody }
  /** The tag's target is a newer digest than the one waited for. */
  | { kind: 'moved'; status: StatusBody; digest: string }
  | { kind: 'timeout'; status: StatusBody | undefined }
  /** This instance already holds `maxWaiters` long-polls: the caller should come back later. */
  | { kind: 'busy'; maxWaiters: number }
  /** The client went away before an answer. */
  | { kind: 'abandoned' };

export async function waitForReplication(
  deps: WaitDeps,
  registry: string,
  reference: Reference,
  options: WaitOptions,
): Promise<WaitOutcome> {
  if (options.timeoutMs <= 0) {
    const found = await readOnce(deps, registry, reference);
    const status = statusFor(found, options.scope);
    return decide(found, status, options.digest) ?? { kind: 'timeout', status };
  }
  return deps.waits.wait(registry, reference, options);
}

async function readOnce(
  deps: ReadDeps,
  registry: string,
  reference: Reference,
): Promise<ResolvedTag | undefined> {
  const { regions } = await getRequiredRegions(deps, registry);
  return resolveReference(deps, registry, reference, regions);
}

/** The status a waiter sees: over its scope when it has one, else over the registry's regions. */
function statusFor(
  found: ResolvedTag | undefined,
  scope: readonly string[] | undefined,
): StatusBody | undefined {
  if (!found) return undefined;
  return scope === undefined
    ? toStatusBody(found.state, found.evaluation)
    : toStatusBody(found.state, found.evaluateOver(scope), scope);
}

/** What a read means for one waiter; undefined: keep waiting. */
function decide(
  found: ResolvedTag | undefined,
  status: StatusBody | undefined,
  pinned: string | undefined,
): WaitOutcome | undefined {
  if (!found || !status) return undefined;
  if (pinned !== undefined && status.digest !== pinned) {
    return knownDigests(found.state).includes(pinned)
      ? { kind: 'moved', status, digest: pinned }
      : undefined;
  }
  return status.status === 'replicating' ? undefined : { kind: 'settled', status };
}

export interface SharedWaitsDeps extends ReadDeps {
  notifier: ChangeNotifier;
  /** How often to re-read the store: a write on another instance is seen within this. */
  pollMs: number;
  /** Long-polls this instance holds at once; one more is answered `busy`. */
  maxWaiters: number;
  /** The polls, the settle pause and the waiters' deadlines run on it. Default: the system's timers. */
  scheduler?: Scheduler;
}

export interface SharedWaits {
  wait(registry: string, reference: Reference, options: WaitOptions): Promise<WaitOutcome>;
  /** For tests and the benchmark: waiters held, tags watched, store reads made. */
  stats(): { waiters: number; watched: number; reads: number };
}

interface Waiter {
  pinned: string | undefined;
  /** `?regions=`: waiters of one tag share the read, each evaluates it over its own scope. */
  scope: readonly string[] | undefined;
  /** What it was last told: its answer if time runs out. */
  last: StatusBody | undefined;
  seen: boolean;
  /** Time ran out before a first read: answer on the next one. */
  expired: boolean;
  finish(outcome: WaitOutcome): void;
  fail(error: unknown): void;
}

interface Watch {
  waiters: Set<Waiter>;
  /** A waiter came after the read in flight started: it needs another one at once. */
  joined: boolean;
  wake: () => void;
}

/** After a notification, how long to let racing writes land before re-reading. */
const SETTLE_MS = 5;

/**
 * Every long-poll on this instance for the same tag (or digest) shares one loop: one store read
 * per poll, its answer given to each waiter. The loop stops when its last waiter leaves: answered,
 * timed out or gone (client abort). Beyond `maxWaiters` a new long-poll is refused at once, so a
 * flood of `?wait=` cannot take the instance's memory or the store's throughput.
 */
export function makeSharedWaits(deps: SharedWaitsDeps): SharedWaits {
  const watches = new Map<string, Watch>();
  const scheduler = deps.scheduler ?? systemScheduler;
  let waiters = 0;
  let reads = 0;

  async function run(key: string, watch: Watch, registry: string, reference: Reference) {
    const topic = repositoryTopic(registry, reference.repository);
    try {
      while (watch.waiters.size > 0) {
        // Subscribe before reading, so a write between the read and the wait is not missed.
        // A newcomer or the last waiter leaving wakes the loop early (and frees the subscription).
        // The poll interval runs from here, so a slow read does not stretch it.
        const wake = new AbortController();
        watch.wake = () => wake.abort();
        const changed = deps.notifier.next(topic, wake.signal);
        let polled = false;
        const cancelPoll = scheduler.after(deps.pollMs, () => {
          polled = true;
          wake.abort();
        });
        const stop = () => {
          cancelPoll();
          wake.abort();
        };
        watch.joined = false;
        const readers = [...watch.waiters];
        let found: ResolvedTag | undefined;
        try {
          reads += 1;
          found = await readOnce(deps, registry, reference);
        } catch (error) {
          // A store failure answers those who were waiting on this read (503); newcomers retry.
          for (const waiter of readers) waiter.fail(error);
          stop();
          continue;
        }
        for (const waiter of readers) {
          if (!watch.waiters.has(waiter)) continue;
          const status = statusFor(found, waiter.scope);
          waiter.last = status;
          waiter.seen = true;
          const outcome = decide(found, status, waiter.pinned);
          if (outcome) waiter.finish(outcome);
          else if (waiter.expired) waiter.finish({ kind: 'timeout', status });
        }
        if (watch.waiters.size === 0 || watch.joined) {
          stop();
          continue;
        }
        await changed;
        cancelPoll();
        // Several writes land together when regions race; let them settle before re-reading.
        // A poll that came due has nothing to settle, nor has a loop whose last waiter left.
        if (!polled && watch.waiters.size > 0) await sleepOn(scheduler, SETTLE_MS);
      }
    } finally {
      watches.delete(key);
    }
  }

  return {
    stats: () => ({ waiters, watched: watches.size, reads }),
    wait(registry, reference, options) {
      if (options.signal?.aborted) return Promise.resolve({ kind: 'abandoned' });
      if (waiters >= deps.maxWaiters) {
        return Promise.resolve({ kind: 'busy', maxWaiters: deps.maxWaiters });
      }
      const key =
        reference.kind === 'tag'
          ? `${registry}/${reference.repository}:${reference.tag}`
          : `${registry}/${reference.repository}@${reference.digest}`;
      let watch = watches.get(key);
      const fresh = watch === undefined;
      if (!watch) {
        watch = { waiters: new Set(), joined: false, wake: () => undefined };
        watches.set(key, watch);
      }
      const shared = watch;
      return new Promise<WaitOutcome>((resolve, reject) => {
        const leave = () => {
          if (!shared.waiters.delete(waiter)) return false;
          waiters -= 1;
          cancelDeadline();
          options.signal?.removeEventListener('abort', onAbort);
          // The last one out stops the loop now rather than at its next poll.
          if (shared.waiters.size === 0) shared.wake();
          return true;
        };
        const waiter: Waiter = {
          pinned: options.digest,
          scope: options.scope,
          last: undefined,
          seen: false,
          expired: false,
          finish: (outcome) => {
            if (leave()) resolve(outcome);
          },
          fail: (error) => {
            if (leave()) reject(error instanceof Error ? error : new Error(String(error)));
          },
        };
        const onAbort = () => waiter.finish({ kind: 'abandoned' });
        shared.waiters.add(waiter);
        waiters += 1;
        options.signal?.addEventListener('abort', onAbort, { once: true });
        const cancelDeadline = scheduler.after(options.timeoutMs, () => {
          if (waiter.seen) waiter.finish({ kind: 'timeout', status: waiter.last });
          else waiter.expired = true;
        });
        if (fresh) {
          void run(key, shared, registry, reference).catch((error: unknown) => {
            for (const other of [...shared.waiters]) other.fail(error);
          });
        } else {
          // Its first answer must come from a read made after it arrived.
          shared.joined = true;
          shared.wake();
        }
      });
    },
  };
}
