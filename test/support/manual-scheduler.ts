// A scheduler the test moves by hand: nothing it holds runs until `advance` reaches it.
import type { Scheduler } from '../../src/app/scheduler';

export interface ManualScheduler extends Scheduler {
  /** Milliseconds advanced so far. */
  now(): number;
  /** Timers waiting to run. */
  pending(): number;
  /**
   * Moves time on by `ms`, running each timer that comes due in order, and after each the
   * promise continuations it set off (as far as they go without real I/O).
   */
  advance(ms: number): Promise<void>;
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

export function makeManualScheduler(): ManualScheduler {
  let now = 0;
  let sequence = 0;
  const timers = new Map<number, { at: number; run: () => void }>();
  const nextDue = (until: number) =>
    [...timers.entries()]
      .filter(([, t]) => t.at <= until)
      .sort(([a, x], [b, y]) => x.at - y.at || a - b)[0];
  return {
    after(ms, run) {
      const id = ++sequence;
      timers.set(id, { at: now + Math.max(0, ms), run });
      return () => {
        timers.delete(id);
      };
    },
    now: () => now,
    pending: () => timers.size,
    async advance(ms) {
      const until = now + ms;
      await settle();
      for (let due = nextDue(until); due; due = nextDue(until)) {
        const [id, timer] = due;
        timers.delete(id);
        now = timer.at;
        timer.run();
        await settle();
      }
      now = until;
    },
  };
}
