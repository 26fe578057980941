// `npm start` (dist-dev/start.js): loads local settings, starts an embedded Cosmos DB if needed, then runs Core Tools or the local host.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { EmbeddedCosmos } from './embedded-cosmos';
import { startEmbeddedCosmos } from './embedded-cosmos';
import { loadFunctionApp } from './local-host';

const NAME = 'acr-replication-gate';

function findAppRoot(): string {
  const candidates = [process.cwd(), path.resolve(__dirname, '..')];
  const root = candidates.find(
    (dir) =>
      fs.existsSync(path.join(dir, 'host.json')) && fs.existsSync(path.join(dir, 'package.json')),
  );
  return root ?? path.resolve(__dirname, '..');
}

/**
 * Copies local.settings.json `Values` into process.env; real environment variables win. On a fresh
 * clone there is none yet, so the committed example is used: `npm start` works at once.
 */
function applyLocalSettings(appRoot: string): void {
  let file = path.join(appRoot, 'local.settings.json');
  if (!fs.existsSync(file)) {
    file = path.join(appRoot, 'local.settings.example.json');
    if (!fs.existsSync(file)) return;
    console.log(
      `${NAME}: no local.settings.json, using local.settings.example.json (its tokens are public: copy it and change them)`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  } catch (err) {
    throw new Error(
      `${path.basename(file)} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`,
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

// `func start` refuses timer triggers without AzureWebJobsStorage; locally that is Azurite on its
// well-known ports, which is what UseDevelopmentStorage=true points at.
const DEV_STORAGE = 'UseDevelopmentStorage=true';
const AZURITE_PORTS = { blob: 10000, queue: 10001, table: 10002 };

export interface Azurite {
  close(): Promise<void>;
}

/** Azurite's CLI script from the optional `azurite` dependency, if installed. */
function findAzurite(appRoot: string): string | undefined {
  try {
    const pkgFile = require.resolve('azurite/package.json', { paths: [appRoot] });
    const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as { bin?: Record<string, string> };
    return pkg.bin?.azurite && path.join(path.dirname(pkgFile), pkg.bin.azurite);
  } catch {
    return undefined;
  }
}

function answersOnLoopback(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    const done = (answered: boolean): void => {
      socket.destroy();
      resolve(answered);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/** Runs Azurite as a child process on 127.0.0.1 and resolves once its blob port accepts connections. */
export async function startAzurite(
  appRoot: string,
  options: { location?: string; ports?: typeof AZURITE_PORTS; timeoutMs?: number } = {},
): Promise<Azurite> {
  const script = findAzurite(appRoot);
  if (!script) throw new Error('the optional azurite package is not installed');
  const ports = options.ports ?? AZURITE_PORTS;
  const args = ['--silent', '--skipApiVersionCheck', '--loose', '--disableTelemetry'];
  args.push('--location', options.location ?? path.join(appRoot, '.azurite'));
  for (const [service, port] of Object.entries(ports)) {
    args.push(`--${service}Host`, '127.0.0.1', `--${service}Port`, String(port));
  }
  const child = spawn(process.execPath, [script, ...args], {
    cwd: appRoot,
    stdio: ['ignore', 'ignore', 'pipe'],
  });

  let ready = false;
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (ready) process.stderr.write(chunk);
    else stderr += chunk.toString();
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    const onExit = (): void => {
      exited = true;
      resolve();
    };
    child.once('close', onExit);
    child.once('error', onExit);
  });
  // Don't leave Azurite behind if this process dies without calling close().
  const killOnExit = (): void => {
    child.kill();
  };
  process.once('exit', killOnExit);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      process.removeListener('exit', killOnExit);
      if (exited) return;
      child.kill('SIGTERM');
      const forceKill = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(forceKill);
    })());

  const timeoutMs = options.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  while (!(await answersOnLoopback(ports.blob))) {
    if (exited) {
      const reason = stderr.trim().split('\n').pop();
      await close();
      throw new Error(
        `Azurite exited before listening on 127.0.0.1:${ports.blob}${reason ? ` (${reason})` : ''}`,
      );
    }
    if (Date.now() > deadline) {
      await close();
      throw new Error(
        `Azurite did not listen on 127.0.0.1:${ports.blob} within ${timeoutMs / 1000} s`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  ready = true;
  return { close };
}

/** Storage for `func` timer triggers: Azurite, unless AzureWebJobsStorage is set elsewhere or one already runs. */
async function startStorageIfNeeded(appRoot: string): Promise<Azurite | undefined> {
  const configured = process.env.AzureWebJobsStorage;
  if (configured && configured !== DEV_STORAGE) return undefined;
  if (await answersOnLoopback(AZURITE_PORTS.blob)) {
    if (!configured) {
      process.env.AzureWebJobsStorage = DEV_STORAGE;
      console.log(
        `${NAME}: AzureWebJobsStorage is not set; using the storage emulator already on 127.0.0.1:${AZURITE_PORTS.blob} (${DEV_STORAGE})`,
      );
    }
    return undefined;
  }
  if (!findAzurite(appRoot)) {
    console.warn(
      `${NAME}: timer triggers need AzureWebJobsStorage under Core Tools and the optional azurite package is missing; run \`npm install\`, or set AzureWebJobsStorage in local.settings.json Values (a storage connection string, or ${DEV_STORAGE} with Azurite running)`,
    );
    return undefined;
  }
  const azurite = await startAzurite(appRoot);
  process.env.AzureWebJobsStorage = DEV_STORAGE;
  console.log(
    `${NAME}: started Azurite on 127.0.0.1:${AZURITE_PORTS.blob}-${AZURITE_PORTS.table} (data in .azurite/); func gets AzureWebJobsStorage=${DEV_STORAGE}`,
  );
  return azurite;
}

function runCoreTools(
  func: string,
  port: number,
  cosmos: EmbeddedCosmos | undefined,
  azurite: Azurite | undefined,
): void {
  console.log(`${NAME}: starting Azure Functions Core Tools (${func})`);
  const child = spawn(func, ['start', '--port', String(port)], {
    env: process.env,
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
    void azurite?.close();
  };
  const stopServices = () => Promise.allSettled([cosmos?.close(), azurite?.close()]);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  child.on('error', (err) => {
    console.error(`${NAME}: could not start Core Tools: ${err.message}`);
    void stopServices().then(() => process.exit(1));
  });
  child.on('exit', (code, signal) => {
    const exitCode = code ?? (signal ? 1 : 0);
    void stopServices().then(() => process.exit(exitCode));
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
      runCoreTools(func, port, cosmos, await startStorageIfNeeded(appRoot));
    } else {
      await runLocalHost(appRoot, port, cosmos);
    }
  } catch (err) {
    await cosmos?.close();
    throw err;
  }
}

// Only when run as `npm start`; tests import startAzurite.
if (require.main === module) {
  main().catch((err: unknown) => {
    // Message only: settings errors name the bad setting, and a stack adds noise.
    console.error(`${NAME}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
