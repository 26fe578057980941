// Request/response over Node's IPC channel between the bench and the child processes it starts.
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';

type Handler = (arg: unknown) => unknown;
interface RpcRequest {
  id: number;
  method: string;
  arg?: unknown;
}
interface RpcReply {
  id: number;
  result?: unknown;
  error?: string;
}
interface ReadyMessage {
  type: 'ready';
  info: Record<string, unknown>;
}

/** In a child: announce readiness with `info`, then answer the parent's calls. */
export function serveRpc(handlers: Record<string, Handler>, info: Record<string, unknown>): void {
  const send = (message: unknown): void => {
    process.send?.(message);
  };
  process.on('message', (message: RpcRequest) => {
    const handler = handlers[message.method];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`no method ${message.method}`);
        return handler(message.arg);
      })
      .then(
        (result: unknown) => send({ id: message.id, result } satisfies RpcReply),
        (error: unknown) => send({ id: message.id, error: String(error) } satisfies RpcReply),
      );
  });
  // The bench went away (crashed or killed): nothing should outlive it.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', info } satisfies ReadyMessage);
}

export interface Child {
  readonly pid: number | undefined;
  /** What the child announced when ready (its URL, its own start-up timings). */
  readonly info: Record<string, unknown>;
  /** performance.now() in this process when the child was forked and when it said ready. */
  readonly spawnedAt: number;
  readonly readyAt: number;
  call<T>(method: string, arg?: unknown): Promise<T>;
  stop(): Promise<void>;
}

/** Forks a compiled module and waits for its `ready`; kills it if it does not come in time. */
export function startChild(
  modulePath: string,
  env: Record<string, string>,
  timeoutMs = 30_000,
  execArgv: string[] = [],
): Promise<Child> {
  const spawnedAt = performance.now();
  const child: ChildProcess = fork(modulePath, [], {
    env: { PATH: process.env.PATH ?? '', ...env },
    execArgv,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  return new Promise<Child>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${modulePath} was not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const error = new Error(`${modulePath} exited (code ${code}, signal ${signal})`);
      for (const p of pending.values()) p.reject(error);
      pending.clear();
      reject(error);
    });
    child.on('message', (message: RpcReply | ReadyMessage) => {
      if ('type' in message) {
        clearTimeout(timer);
        const readyAt = performance.now();
        resolve({
          pid: child.pid,
          info: message.info,
          spawnedAt,
          readyAt,
          call<T>(method: string, arg?: unknown): Promise<T> {
            const id = nextId++;
            return new Promise<T>((res, rej) => {
              pending.set(id, { resolve: res as (v: unknown) => void, reject: rej });
              child.send({ id, method, arg } satisfies RpcRequest);
            });
          },
          async stop(): Promise<void> {
            if (child.exitCode !== null || child.signalCode !== null) return;
            child.kill('SIGTERM');
            const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
            await exited;
            clearTimeout(killer);
          },
        });
        return;
      }
      const waiter = pending.get(message.id);
      pending.delete(message.id);
      if (message.error !== undefined) waiter?.reject(new Error(message.error));
      else waiter?.resolve(message.result);
    });
  });
}
