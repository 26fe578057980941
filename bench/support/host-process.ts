// Child process: one function app instance, the local host serving dist/functions as `npm start` does,
// or, with APP_ROOT=dist-bundle, the deployment package of `npm run bundle`.
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

// Time since this process started, before anything of the app is loaded.
const bootMs = performance.now();

async function main(): Promise<void> {
  const { loadFunctionApp } = await import('../../dev/local-host');
  const { serveRpc } = await import('./child-rpc');
  const appRoot = path.resolve(__dirname, '../../..', process.env.APP_ROOT ?? '.');
  // Per-request log lines would cost the app CPU the bench then measures; Azure ships them off-box.
  const host = await loadFunctionApp({ appRoot, log: () => undefined });
  const loadedMs = performance.now();
  const { url } = await host.listen(0, '127.0.0.1');
  const listeningMs = performance.now();
  // The soak (bench/soak-heap.ts) runs the timers too, as on Azure.
  if (process.env.START_TIMERS === '1') host.startTimers();
  const gc = (globalThis as { gc?: () => void }).gc;
  serveRpc(
    {
      memory: () => process.memoryUsage(),
      // Only with --expose-gc: the heap that is left after a full collection.
      memoryAfterGc: () => {
        if (!gc) throw new Error('start the child with --expose-gc');
        gc();
        return process.memoryUsage();
      },
      heapSnapshot: async (file) => {
        const { writeHeapSnapshot } = await import('node:v8');
        return writeHeapSnapshot(String(file));
      },
    },
    { url, bootMs, loadedMs, listeningMs, functions: host.functions.length },
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
