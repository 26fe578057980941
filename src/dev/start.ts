// `npm start`: loads local settings, starts an embedded Cosmos DB if needed, then runs Core Tools or the local host.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EmbeddedCosmos } from './embedded-cosmos';
import { startEmbeddedCosmos } from './embedded-cosmos';
import { loadFunctionApp } from './local-host';

const NAME = 'acr-replication-gate';

function findAppRoot(): string {
  const candidates = [process.cwd(), path.resolve(__dirname, '../../..')];
  const root = candidates.find(
    (dir) =>
      fs.existsSync(path.join(dir, 'host.json')) && fs.existsSync(path.join(dir, 'package.json')),
  );
  return root ?? path.resolve(__dirname, '../../..');
}

/** Copies local.settings.json `Values` into process.env; real environment variables win. */
function applyLocalSettings(appRoot: string): void {
  const file = path.join(appRoot, 'local.settings.json');
  if (!fs.existsSync(file)) return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  } catch (err) {
    throw new Error(
      `local.settings.json is not valid JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const values =
    typeof parsed === 'object' && parsed !== null
      ? (parsed as { Values?: unknown }).Values
      : undefined;
  if (typeof values !== 'object' || values === null) return;
  for (const [key, value] of Object.entries(values as Record<string, unknown>)) {
    if (process.env[key] !== undefined || value === null || value === undefined) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      process.env[key] = String(value);
    }
  }
}

function parsePort(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} must be a port number (0-65535), got "${raw}".`);
  }
  return port;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Core Tools from the project's node_modules/.bin or from PATH. */
function findCoreTools(appRoot: string): string | undefined {
  const names = process.platform === 'win32' ? ['func.cmd', 'func.exe', 'func'] : ['func'];
  const dirs = [
    path.join(appRoot, 'node_modules', '.bin'),
    ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean),
  ];
  for (const dir of dirs) {
    for (const name of names) {
      const candidate = path.join(dir, name);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

async function startCosmosIfNeeded(): Promise<EmbeddedCosmos | undefined> {
  if (process.env.COSMOS_ENDPOINT) return undefined;
  const port = parsePort('EMBEDDED_COSMOS_PORT', 8081);
  let cosmos: EmbeddedCosmos;
  try {
    cosmos = await startEmbeddedCosmos({ port, hostname: '127.0.0.1' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new Error(
      `could not start the embedded Cosmos DB on 127.0.0.1:${port} (${code}); ` +
        'set COSMOS_ENDPOINT or EMBEDDED_COSMOS_PORT',
    );
  }
  process.env.COSMOS_ENDPOINT = cosmos.endpoint;
  process.env.COSMOS_KEY = cosmos.key;
  console.log(
    `${NAME}: COSMOS_ENDPOINT is not set; using an embedded in-memory Cosmos DB at ${cosmos.endpoint} (data is lost on exit)`,
  );
  return cosmos;
}

function runCoreTools(func: string, port: number, cosmos: EmbeddedCosmos | undefined): void {
  console.log(`${NAME}: starting Azure Functions Core Tools (${func})`);
  const child = spawn(func, ['start', '--port', String(port)], {
    env: process.env,
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  child.on('error', (err) => {
    console.error(`${NAME}: could not start Core Tools: ${err.message}`);
    void (cosmos?.close() ?? Promise.resolve()).finally(() => process.exit(1));
  });
  child.on('exit', (code, signal) => {
    const exitCode = code ?? (signal ? 1 : 0);
    void (cosmos?.close() ?? Promise.resolve()).finally(() => process.exit(exitCode));
  });
}

async function runLocalHost(
  appRoot: string,
  port: number,
  cosmos: EmbeddedCosmos | undefined,
): Promise<void> {
  const host = await loadFunctionApp({ appRoot });
  host.startTimers();
  const hostname = process.env.HOST || '127.0.0.1';
  const { url } = await host.listen(port, hostname);
  console.log(`${NAME}: local Functions host (Core Tools not used) listening on ${url}`);
  const prefix = host.routePrefix ? `/${host.routePrefix}` : '';
  for (const fn of host.functions) {
    if (fn.trigger === 'http') {
      const route = (fn.route ?? fn.name).replace(/^\/+/, '');
      console.log(`  ${(fn.methods ?? ['ANY']).join(',')} ${prefix}/${route}  (${fn.name})`);
    } else if (fn.trigger === 'timer') {
      console.log(`  TIMER "${fn.schedule ?? ''}"  (${fn.name})`);
    }
  }

  let stopping = false;
  const stop = (): void => {
    if (stopping) process.exit(1); // Second signal: don't wait any longer.
    stopping = true;
    void Promise.allSettled([host.close(), cosmos?.close()]).then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

async function main(): Promise<void> {
  const appRoot = findAppRoot();
  applyLocalSettings(appRoot);
  const port = parsePort('PORT', 7071);
  const cosmos = await startCosmosIfNeeded();
  try {
    const func = process.env.ACR_GATE_LOCAL_HOST === '1' ? undefined : findCoreTools(appRoot);
    if (func) {
      runCoreTools(func, port, cosmos);
    } else {
      await runLocalHost(appRoot, port, cosmos);
    }
  } catch (err) {
    await cosmos?.close();
    throw err;
  }
}

main().catch((err: unknown) => {
  // Message only: settings errors name the bad setting, and a stack adds noise.
  console.error(`${NAME}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
