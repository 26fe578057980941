// Wakes long-polls on this instance the moment a repository's state is written; other instances poll.
import { EventEmitter } from 'node:events';

export interface ChangeNotifier {
  notify(topic: string): void;
  /**
   * Resolves on the next change of `topic`, or after `timeoutMs`, or when `signal` aborts,
   * whichever comes first; then nothing of it is left (listener, timer).
   */
  next(topic: string, timeoutMs: number, signal?: AbortSignal): Promise<void>;
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
    next: (topic, timeoutMs, signal) =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          emitter.off(topic, done);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, timeoutMs));
        emitter.on(topic, done);
        signal?.addEventListener('abort', done, { once: true });
        if (signal?.aborted) done();
      }),
  };
}
