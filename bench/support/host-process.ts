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
  serveRpc(
    { memory: () => process.memoryUsage() },
    { url, bootMs, loadedMs, listeningMs, functions: host.functions.length },
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
