// Wakes long-polls on this instance the moment a repository's state is written; other instances poll.
import { EventEmitter } from 'node:events';

export interface ChangeNotifier {
  notify(topic: string): void;
  /**
   * Resolves on the next change of `topic`, or when `signal` aborts (the caller's poll interval,
   * on its own scheduler), whichever comes first; then nothing of it is left (listener).
   */
  next(topic: string, signal: AbortSignal): Promise<void>;
}

export const repositoryTopic = (registry: string, repository: string): string =>
  `${registry}/${repository}`;

export function makeChangeNotifier(): ChangeNotifier {
  const emitter = new EventEmitter();
  // Many pipelines may wait on one busy repository; this is not a leak.
  emitter.setMaxListeners(0);
  return {
    notify: (topic) => {
      emitter.emit(topic);
    },
    next: (topic, signal) =>
      new Promise<void>((resolve) => {
        const done = () => {
          emitter.off(topic, done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        emitter.on(topic, done);
        signal.addEventListener('abort', done, { once: true });
        if (signal.aborted) done();
      }),
  };
}
