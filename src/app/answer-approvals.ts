// External approvals waiting on an image: decided from the tag's state, claimed by conditional write, answered once.
import { nextAttemptDelay } from '../events/delivery-request';
import type { AttemptResult } from '../events/types';
import type { Reference } from '../replication/names';
import type { Instant } from '../replication/timestamp';
import { plusMillis } from '../replication/timestamp';
import type { ApprovalKind, ApprovalRecord, Clock, Store, StoredApproval } from './ports';
import { StoreUnavailableError } from './ports';
import { resolveReference } from './read-status';

export interface Decision {
  approved: boolean;
  reason: string;
}

/** Thrown by an answerer when the answer can never be sent (a target no longer allowed). */
export class AnswerRefusedError extends Error {
  override readonly name = 'AnswerRefusedError';
}

/** Sends answers of one kind (Azure Pipelines, GitHub); the core decides when. */
export interface Answerer {
  answer(approval: ApprovalRecord, decision: Decision): Promise<AttemptResult>;
  /** Progress notes while waiting, at most `max` per approval; best effort. */
  report?: { max: number; send(approval: ApprovalRecord, text: string): Promise<AttemptResult> };
  /** Target fields holding secrets: removed the moment the approval is final. */
  secretFields: readonly string[];
}

export interface ApprovalDeps {
  store: Pick<Store, 'approvals' | 'tags' | 'registries'>;
  clock: Clock;
  defaultRegions: readonly string[];
  answerers: Partial<Record<ApprovalKind, Answerer>>;
  /** Delays before each retry of an answer that failed with 5xx or no response. */
  retryScheduleMs: readonly number[];
  /** How long a claim holds an answer: one send plus margin. Then another instance may take it. */
  leaseMs: number;
  random?: () => number;
  log?: (line: string) => void;
}

export type Outcome = 'waiting' | 'answered' | 'retrying' | 'failed' | 'skipped';

export interface ResumeReport {
  examined: number;
  answered: number;
  retrying: number;
  failed: number;
}

/** Most attempts kept per approval. */
const MAX_ATTEMPTS_KEPT = 20;

export const describeImage = (registry: string, reference: Reference): string =>
  reference.kind === 'tag'
    ? `${registry}/${reference.repository}:${reference.tag}`
    : `${registry}/${reference.repository}@${reference.digest}`;

type Verdict = { kind: 'decided'; decision: Decision } | { kind: 'wait'; text: string };

/** 2xx is done; no answer, 408, 429 and 5xx are worth another try; any other answer is final. */
export function classifyAnswer(result: AttemptResult): 'done' | 'retry' | 'refused' {
  const { status } = result;
  if (status === undefined || status === 408 || status === 429 || status >= 500) return 'retry';
  return status >= 200 && status <= 299 ? 'done' : 'refused';
}

const withoutSecrets = (target: Record<string, string>, fields: readonly string[]) =>
  Object.fromEntries(Object.entries(target).filter(([key]) => !fields.includes(key)));

const repositoryKey = (registry: string, repository: string) => `${registry}/${repository}`;
const EMPTY_REPORT: ResumeReport = { examined: 0, answered: 0, retrying: 0, failed: 0 };

export function makeApprovals(deps: ApprovalDeps) {
  const random = deps.random ?? Math.random;
  const log = deps.log ?? (() => undefined);
  /**
   * The repositories where, as far as this instance knows, an approval waits: a tag write anywhere
   * else makes no approvals query. Fed by `open` on this instance and by the timer's `resumeDue`,
   * whose query sees every instance's approvals; emptied when a look finds none left waiting.
   * Each entry carries the generation it was last marked at, so a look that began before a newer
   * mark (an `open` racing it) does not remove it.
   */
  const waitingIn = new Map<string, number>();
  let generation = 0;
  const mark = (key: string) => waitingIn.set(key, ++generation);
  /** Forgets `key` unless it was marked again after `seen` (the generation when the look began). */
  const forget = (key: string, seen: number | undefined) => {
    if (seen !== undefined && waitingIn.get(key) === seen) waitingIn.delete(key);
  };

  /** What the tag's state says now: approve, reject, or keep waiting. */
  async function judge(record: ApprovalRecord, now: Instant): Promise<Verdict> {
    const image = describeImage(record.registry, record.reference);
    const found = await resolveReference(
      deps,
      record.registry,
      record.reference,
      record.regions ?? undefined,
    );
    const evaluation = found?.evaluation;
    if (evaluation?.status === 'replicated') {
      const regions = evaluation.requiredRegions.join(', ');
      return {
        kind: 'decided',
        decision: {
          approved: true,
          reason: `${image} (${evaluation.digest ?? ''}) is in ${regions} since ${evaluation.replicatedAt ?? ''}`,
        },
      };
    }
    if (evaluation?.status === 'deleted') {
      return {
        kind: 'decided',
        decision: { approved: false, reason: `${image} (${evaluation.digest ?? ''}) was deleted` },
      };
    }
    const missing = evaluation
      ? `still missing in ${evaluation.missingRegions.join(', ')}`
      : 'no region has reported it yet';
    if (now >= record.deadline) {
      return {
        kind: 'decided',
        decision: {
          approved: false,
          reason: `${image} was not replicated by ${record.deadline}: ${missing}`,
        },
      };
    }
    return { kind: 'wait', text: `waiting for ${image}: ${missing}` };
  }

  async function claim(
    stored: StoredApproval,
    change: Partial<ApprovalRecord>,
  ): Promise<StoredApproval | undefined> {
    const record = { ...stored.record, ...change };
    const saved = await deps.store.approvals.save(record, stored.etag);
    return saved.ok ? { record, etag: saved.etag } : undefined;
  }

  /** Writes a send's result; if the lease passed to another instance meanwhile, theirs stands. */
  async function settle(claimed: StoredApproval, next: ApprovalRecord): Promise<boolean> {
    const saved = await deps.store.approvals.save(next, claimed.etag);
    return saved.ok;
  }

  async function maybeReport(stored: StoredApproval, text: string): Promise<void> {
    const answerer = deps.answerers[stored.record.kind];
    const report = answerer?.report;
    const { record } = stored;
    if (!report || record.reports >= report.max || record.lastReport === text) return;
    // Counted before it is sent, by conditional write: no instance sends one over the limit.
    const claimed = await claim(stored, {
      reports: record.reports + 1,
      lastReport: text,
      updatedAt: deps.clock.now(),
    });
    if (!claimed) return;
    const result = await report
      .send(claimed.record, text)
      .catch((error: unknown): AttemptResult => ({
        at: deps.clock.now(),
        durationMs: 0,
        error: (error as Error).message,
      }));
    if (classifyAnswer(result) !== 'done') {
      log(`status report for approval ${record.id} not taken: ${result.error ?? result.status}`);
    }
  }

  async function send(claimed: StoredApproval): Promise<Outcome> {
    const { record } = claimed;
    const answerer = deps.answerers[record.kind];
    const decision = record.decision;
    if (!decision) return 'skipped';
    let result: AttemptResult;
    let refused: string | undefined;
    if (!answerer) {
      refused = `no answerer for ${record.kind} is configured`;
      result = { at: deps.clock.now(), durationMs: 0, error: refused };
    } else {
      try {
        result = await answerer.answer(record, decision);
      } catch (error) {
        if (!(error instanceof AnswerRefusedError)) throw error;
        refused = error.message;
        result = { at: deps.clock.now(), durationMs: 0, error: refused };
      }
    }
    const outcome = refused === undefined ? classifyAnswer(result) : 'refused';
    const now = deps.clock.now();
    const attempts = [...record.attempts, result].slice(-MAX_ATTEMPTS_KEPT);
    const secretFields = answerer?.secretFields ?? [];
    const delay =
      outcome === 'retry'
        ? nextAttemptDelay(attempts.length, deps.retryScheduleMs, result.retryAfterMs, random)
        : null;
    const final: ApprovalRecord =
      outcome === 'done'
        ? {
            ...record,
            attempts,
            state: 'answered',
            nextAttemptAt: null,
            target: withoutSecrets(record.target, secretFields),
            updatedAt: now,
          }
        : delay !== null
          ? { ...record, attempts, nextAttemptAt: plusMillis(now, delay), updatedAt: now }
          : {
              ...record,
              attempts,
              state: 'failed',
              nextAttemptAt: null,
              target: withoutSecrets(record.target, secretFields),
              detail:
                outcome === 'refused'
                  ? `the answer was refused: ${result.error ?? `HTTP ${result.status}`}`
                  : `gave up after ${attempts.length} attempts`,
              updatedAt: now,
            };
    const what =
      result.status === undefined ? (result.error ?? 'no response') : `HTTP ${result.status}`;
    await settle(claimed, final);
    log(
      `approval ${record.id} (${record.kind}, ${decision.approved ? 'approve' : 'reject'}): ${what}, ${final.state}${final.state === 'answering' ? ` until ${final.nextAttemptAt ?? ''}` : ''}`,
    );
    return final.state === 'answered'
      ? 'answered'
      : final.state === 'failed'
        ? 'failed'
        : 'retrying';
  }

  /** Moves one approval on as far as it can go now. Safe to call from any instance at any time. */
  async function advance(stored: StoredApproval): Promise<Outcome> {
    const now = deps.clock.now();
    const { record } = stored;
    if (record.state === 'waiting') {
      const verdict = await judge(record, now);
      if (verdict.kind === 'wait') {
        await maybeReport(stored, verdict.text);
        return 'waiting';
      }
      // The decision and the claim are one conditional write: only one instance sends it.
      const claimed = await claim(stored, {
        state: 'answering',
        decision: { ...verdict.decision, at: now },
        nextAttemptAt: plusMillis(now, deps.leaseMs),
        updatedAt: now,
      });
      return claimed ? send(claimed) : 'skipped';
    }
    if (record.state === 'answering') {
      if (record.nextAttemptAt !== null && record.nextAttemptAt > now) return 'skipped';
      const claimed = await claim(stored, {
        nextAttemptAt: plusMillis(now, deps.leaseMs),
        updatedAt: now,
      });
      return claimed ? send(claimed) : 'skipped';
    }
    return 'skipped';
  }

  /** Advances each; the keys of repositories where one is still waiting (or could not be advanced). */
  async function advanceAll(
    items: StoredApproval[],
  ): Promise<{ report: ResumeReport; stillWaiting: Set<string> }> {
    const report: ResumeReport = { ...EMPTY_REPORT };
    const stillWaiting = new Set<string>();
    for (const item of items) {
      report.examined += 1;
      const key = repositoryKey(item.record.registry, item.record.repository);
      try {
        const outcome = await advance(item);
        if (outcome === 'answered' || outcome === 'retrying' || outcome === 'failed') {
          report[outcome] += 1;
        }
        if (outcome === 'waiting') stillWaiting.add(key);
      } catch (error) {
        if (!(error instanceof StoreUnavailableError)) throw error;
        log(`approval ${item.record.id} not advanced: ${error.message}`);
        if (item.record.state === 'waiting') stillWaiting.add(key);
      }
    }
    return { report, stillWaiting };
  }

  return {
    /** Stores a new approval; false when it exists already (the same request sent again). */
    async open(record: ApprovalRecord): Promise<boolean> {
      // Marked before the write, so a tag write landing meanwhile looks rather than skips, and
      // again after it, so a look whose query ran before the write landed cannot unmark it.
      const key = repositoryKey(record.registry, record.repository);
      mark(key);
      const created = await deps.store.approvals.create(record);
      mark(key);
      return created;
    },
    /** Decides and answers one approval now if its image allows (called right after `open`). */
    async advanceOne(registry: string, repository: string, id: string): Promise<Outcome> {
      const stored = await deps.store.approvals.get(registry, repository, id);
      return stored ? advance(stored) : 'skipped';
    },
    /** Whether this instance knows of an approval waiting in the repository: a map lookup, no I/O. */
    mayBeWaiting(registry: string, repository: string): boolean {
      return waitingIn.has(repositoryKey(registry, repository));
    },
    /**
     * After a write of one of the repository's tags: its waiting approvals may be decided now.
     * Costs nothing (no query) unless this instance knows of one waiting there.
     */
    async resumeFor(registry: string, repository: string): Promise<ResumeReport> {
      const key = repositoryKey(registry, repository);
      const seen = waitingIn.get(key);
      if (seen === undefined) return { ...EMPTY_REPORT };
      const waiting = await deps.store.approvals.listWaiting(registry, repository);
      const { report, stillWaiting } = await advanceAll(waiting);
      if (!stillWaiting.has(key)) forget(key, seen);
      return report;
    },
    /**
     * The timer: every waiting approval (deadlines, writes on other instances, missed writes) and
     * every due retry or lapsed lease. What it finds still waiting, this instance now knows of;
     * when the list is complete (under `limit`), repositories it does not name are forgotten.
     */
    async resumeDue(limit = 500): Promise<ResumeReport> {
      const before = new Map(waitingIn);
      const due = await deps.store.approvals.listDue(deps.clock.now(), limit);
      const { report, stillWaiting } = await advanceAll(due);
      for (const key of stillWaiting) mark(key);
      if (due.length < limit) {
        for (const [key, seen] of before) if (!stillWaiting.has(key)) forget(key, seen);
      }
      return report;
    },
  };
}

export type Approvals = ReturnType<typeof makeApprovals>;

/**
 * Runs `run` for a repository after each of its writes, but never twice at once: writes that land
 * while it runs ask for one more run. A burst of arrivals costs a query or two, not one each.
 */
export function coalescePerRepository(
  run: (registry: string, repository: string) => Promise<unknown>,
  onError: (error: unknown) => void,
): (registry: string, repository: string) => void {
  const again = new Map<string, boolean>();
  return (registry, repository) => {
    const key = `${registry}/${repository}`;
    if (again.has(key)) {
      again.set(key, true);
      return;
    }
    again.set(key, false);
    void (async () => {
      try {
        do {
          again.set(key, false);
          await run(registry, repository);
        } while (again.get(key) === true);
      } catch (error) {
        onError(error);
      } finally {
        again.delete(key);
      }
    })();
  };
}

/**
 * The tag-write hook (`UpdateDeps.onTagWritten`): resumes a repository's approvals only where this
 * instance knows one waits, so a write elsewhere costs a map lookup and no query. An approval
 * opened on another instance is answered by the timer (`resumeDue`), within its period.
 */
export function resumeOnTagWrite(
  approvals: Pick<Approvals, 'mayBeWaiting' | 'resumeFor'>,
  onError: (error: unknown) => void,
): (key: { registry: string; repository: string }) => void {
  const resumeSoon = coalescePerRepository(
    (registry, repository) => approvals.resumeFor(registry, repository),
    onError,
  );
  return ({ registry, repository }) => {
    if (approvals.mayBeWaiting(registry, repository)) resumeSoon(registry, repository);
  };
}
