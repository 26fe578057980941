// When the app's waits wake up: the system's timers in production, a hand-driven scheduler in tests.

export interface Scheduler {
  /** Runs `run` once after `ms`, unless the returned cancel is called first. */
  after(ms: number, run: () => void): () => void;
}

export const systemScheduler: Scheduler = {
  after: (ms, run) => {
    const timer = setTimeout(run, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
};

/** Resolves after `ms` on `scheduler`. */
export const sleepOn = (scheduler: Scheduler, ms: number): Promise<void> =>
  new Promise((resolve) => {
    scheduler.after(ms, resolve);
  });
