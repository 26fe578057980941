// Local Azure Functions host for `npm start` and the tests: serves the app's real @azure/functions
// registrations without Core Tools. It implements only what functions/ uses; see docs/local-host.md.
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import Module, { createRequire } from 'node:module';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Cron } from 'croner';

export interface RegisteredFunction {
  name: string;
  trigger: 'http' | 'timer';
  route?: string;
  methods?: string[];
  authLevel?: string;
  schedule?: string;
}

export interface LocalHost {
  readonly functions: readonly RegisteredFunction[];
  /** `extensions.http.routePrefix` from host.json ('' when routes are unprefixed). */
  readonly routePrefix: string;
  /** Port 0 picks an ephemeral port. */
  listen(port: number, hostname?: string): Promise<{ url: string; port: number }>;
  startTimers(): void;
  /** Runs a timer function now; a run that overlaps one in progress is skipped. */
  runTimer(name: string): Promise<void>;
  /** Stops the server and the timers, then waits for timer runs in progress. */
  close(): Promise<void>;
}

/**
 * Where the host publishes each HTTP invocation's abort signal (its client went away), by
 * invocation id; the app reads it with `clientGoneSignal` (src/http/client-gone.ts). The Azure
 * Functions Node.js worker has no equivalent (azure-functions-nodejs-library issue 273).
 */
export const REQUEST_SIGNALS = Symbol.for('acr-replication-gate.local-host.request-signals');

function requestSignals(): Map<string, AbortSignal> {
  const state = globalThis as { [REQUEST_SIGNALS]?: Map<string, AbortSignal> };
  state[REQUEST_SIGNALS] ??= new Map();
  return state[REQUEST_SIGNALS];
}

/** Bodies beyond this answer 413; the handler reads the body itself, when it asks for it. */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;

// The parts of the worker's `@azure/functions-core` module that @azure/functions calls.
type Callback = (...args: unknown[]) => unknown;
type LogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';
type Binding = { type?: string; direction?: string; [key: string]: unknown };
interface Metadata {
  name: string;
  bindings: Record<string, Binding>;
}
type TypedData = { json?: string; http?: object };
interface HttpOutput {
  statusCode?: string;
  headers?: Record<string, string>;
  cookies?: unknown[];
  body?: { bytes?: Uint8Array; string?: string };
}
interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], callback: Callback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<{ returnValue?: { http?: HttpOutput } }>;
}
interface ProgrammingModel {
  getInvocationModel(coreContext: object): InvocationModel;
}

const LOADED = Symbol.for('acr-replication-gate.local-host.loaded');
/** NCRONTAB (what Azure's timer trigger takes): six fields, day-of-month AND day-of-week. */
const NCRONTAB = { mode: '6-part', domAndDow: true } as const;

// #region routes: literal segments, {name}, {name?} and {*name}, matched like ASP.NET Core

type Segment = { literal: string } | { param: string; optional: boolean; catchAll: boolean };

interface Route {
  segments: Segment[];
  /** ASP.NET Core's inbound precedence, a digit a segment (1 literal, 3 parameter, 5 catch-all): lowest first. */
  precedence: string;
}

export function compileRoute(template: string): Route {
  const parts = template.replace(/^\/+|\/+$/g, '').split('/');
  const segments = parts.map((part, index): Segment => {
    const param = /^\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(\??)\}$/.exec(part);
    if (param) {
      const [, star, name = '', question] = param;
      if ((star || question) && index !== parts.length - 1) {
        throw new Error(
          `route "${template}": {${star}${name}${question}} must be the last segment`,
        );
      }
      return { param: name, optional: question === '?', catchAll: star === '*' };
    }
    if (/[{}]/.test(part)) {
      throw new Error(
        `route "${template}": "${part}" (constraints, defaults, complex segments) is not supported`,
      );
    }
    return { literal: part.toLowerCase() };
  });
  const precedence = segments.map((s) => ('literal' in s ? 1 : s.catchAll ? 5 : 3)).join('');
  return { segments, precedence };
}

/** Matches decoded path segments after the route prefix; literals are case-insensitive. */
export function matchRoute(route: Route, path: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (const [index, segment] of route.segments.entries()) {
    const value = path[index];
    if ('literal' in segment) {
      if (value?.toLowerCase() !== segment.literal) return undefined;
    } else if (segment.catchAll) {
      const rest = path.slice(index).join('/');
      if (rest !== '') params[segment.param] = rest;
      return params;
    } else if (value === undefined || value === '') {
      if (!segment.optional || value === '') return undefined;
    } else {
      params[segment.param] = value;
    }
  }
  return path.length <= route.segments.length ? params : undefined;
}

// #endregion

interface Loaded {
  info: RegisteredFunction;
  metadata: Metadata;
  callback: Callback;
  triggerName: string;
}

interface HttpFunction extends Loaded {
  route: Route;
  methods: Set<string>;
}

interface TimerFunction extends Loaded {
  cron: Cron;
  job?: Cron;
  running?: Promise<void>;
  last?: Date;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

function answer(
  status: number,
  headers: Record<string, string> = {},
  body = Buffer.alloc(0),
): Answer {
  // The host owns framing; no body with 1xx, 204 or 304.
  delete headers['content-length'];
  delete headers['transfer-encoding'];
  const bodyAllowed = status >= 200 && status !== 204 && status !== 304;
  if (bodyAllowed) headers['content-length'] = String(body.length);
  return { status, headers, body: bodyAllowed ? body : Buffer.alloc(0) };
}

const problem500 = (): Answer =>
  answer(
    500,
    { 'content-type': 'application/problem+json' },
    Buffer.from(
      JSON.stringify({ type: 'about:blank', title: 'Internal Server Error', status: 500 }),
    ),
  );

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // A malformed escape stays as sent.
  }
}

const errorText = (err: unknown): string =>
  err instanceof Error ? (err.stack ?? err.message) : String(err);

/**
 * The request body as a stream read only when the handler asks for it, so a handler that refuses a
 * request (a bad token) does so without the body being received. Over `limit` bytes it fails.
 */
function lazyBody(
  req: http.IncomingMessage,
  limit: number,
  onTooLarge: () => void,
): ReadableStream<Uint8Array> {
  let chunks: AsyncIterator<Buffer, undefined> | undefined;
  let size = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        chunks ??= req[Symbol.asyncIterator]() as AsyncIterator<Buffer, undefined>;
        const { done, value } = await chunks.next();
        if (done) return controller.close();
        size += value.length;
        if (size > limit) {
          onTooLarge();
          return controller.error(new Error(`request body over ${limit} bytes`));
        }
        controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      },
    },
    { highWaterMark: 0 },
  );
}

class FunctionHost implements LocalHost {
  readonly functions: readonly RegisteredFunction[];
  readonly #http: HttpFunction[];
  readonly #timers = new Map<string, TimerFunction>();
  #server: http.Server | undefined;
  #closed: Promise<void> | undefined;

  constructor(
    readonly routePrefix: string,
    private readonly model: ProgrammingModel,
    httpFunctions: HttpFunction[],
    timers: TimerFunction[],
    private readonly log: (line: string) => void,
  ) {
    // A stable sort: equal precedence keeps registration order.
    this.#http = [...httpFunctions].sort((a, b) =>
      a.route.precedence.localeCompare(b.route.precedence),
    );
    for (const timer of timers) this.#timers.set(timer.info.name.toLowerCase(), timer);
    this.functions = [...httpFunctions, ...timers].map((f) => Object.freeze({ ...f.info }));
  }

  /** One invocation the way the Node.js worker runs it: arguments, handler, response. */
  async #invoke(
    fn: Loaded,
    data: TypedData,
    signal?: AbortSignal,
  ): Promise<{ returnValue?: { http?: HttpOutput } }> {
    const invocationId = randomUUID();
    if (!signal) return this.#invokeAs(invocationId, fn, data);
    requestSignals().set(invocationId, signal);
    try {
      return await this.#invokeAs(invocationId, fn, data);
    } finally {
      requestSignals().delete(invocationId);
    }
  }

  async #invokeAs(
    invocationId: string,
    fn: Loaded,
    data: TypedData,
  ): Promise<{ returnValue?: { http?: HttpOutput } }> {
    const name = fn.info.name;
    const model = this.model.getInvocationModel({
      invocationId,
      request: {
        invocationId,
        functionId: name,
        inputData: [{ name: fn.triggerName, data }],
        triggerMetadata: {},
      },
      metadata: fn.metadata,
      log: (level: LogLevel, category: string, message: string) => {
        // Like Core Tools' console: the app's logs from information, the library's from warning.
        const order = ['trace', 'debug', 'information', 'warning', 'error', 'critical'];
        if (order.indexOf(level) < (category === 'user' ? 2 : 3)) return;
        const tag = level === 'warning' ? 'WARN ' : level === 'information' ? '' : 'ERROR ';
        this.log(`[${name}] ${tag}${message}`);
      },
    });
    const { context, inputs } = await model.getArguments();
    const result = await model.invokeFunction(context, inputs, fn.callback);
    return model.getResponse(context, result);
  }

  // #region HTTP

  listen(port: number, hostname = '127.0.0.1'): Promise<{ url: string; port: number }> {
    if (this.#server || this.#closed)
      return Promise.reject(new Error('already listening or closed'));
    const server = http.createServer((req, res) => {
      const started = performance.now();
      const pathname = (req.url ?? '/').split('?')[0] ?? '/'; // Never the query: it may carry a token.
      // The client going away (a dropped long-poll) aborts this; the app may stop waiting on it.
      const gone = new AbortController();
      res.on('close', () => {
        if (!res.writableFinished) gone.abort();
      });
      void this.#serve(req, gone.signal)
        .catch((err: unknown) => {
          this.log(`${req.method} ${pathname} failed: ${errorText(err)}`);
          return problem500();
        })
        .then((result) => {
          this.log(
            `${req.method} ${pathname} -> ${result.status} in ${Math.round(performance.now() - started)}ms`,
          );
          // A body the handler did not read is not drained on a kept-alive connection: close it.
          if (!req.complete) result.headers.connection = 'close';
          res.writeHead(result.status, result.headers).end(result.body);
        });
    });
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, hostname, () => {
        server.off('error', reject);
        const { port: bound } = server.address() as AddressInfo;
        const host = hostname.includes(':') ? `[${hostname}]` : hostname;
        resolve({ url: `http://${host}:${bound}`, port: bound });
      });
    });
  }

  async #serve(req: http.IncomingMessage, signal: AbortSignal): Promise<Answer> {
    const method = (req.method ?? 'GET').toUpperCase();
    let url: URL;
    try {
      // Concatenated, not resolved, so that `//x` stays a path.
      url = new URL(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`);
    } catch {
      return answer(400);
    }
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return answer(413);

    const route = this.#route(method, url.pathname);
    // Like Azure: a route that exists for other methods is still a plain 404.
    if (!route) return answer(404);
    const { fn, params } = route;

    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : value;
    }
    const query: Record<string, string> = {};
    for (const [key, value] of url.searchParams) {
      query[key] = key in query ? `${query[key]},${value}` : value;
    }
    const hasBody =
      method !== 'GET' &&
      method !== 'HEAD' &&
      (Number(headers['content-length'] ?? 0) > 0 || headers['transfer-encoding'] !== undefined);
    let tooLarge = false;
    // The init the library's own streaming path gives HttpRequest: a native Request, read lazily.
    const nativeRequest = new Request(url, {
      method,
      headers,
      ...(hasBody && {
        body: lazyBody(req, MAX_BODY_BYTES, () => (tooLarge = true)),
        duplex: 'half' as const,
      }),
    });
    try {
      const response = await this.#invoke(fn, { http: { nativeRequest, params, query } }, signal);
      if (tooLarge) return answer(413);
      const output = response.returnValue?.http;
      if (!output) return answer(204);
      if (output.cookies?.length)
        throw new Error('response cookies are not supported by the local host');
      const status = Number(output.statusCode ?? 200);
      const body = output.body?.bytes ?? Buffer.from(output.body?.string ?? '');
      return answer(status, { ...output.headers }, Buffer.from(body));
    } catch (err) {
      if (tooLarge) return answer(413);
      this.log(`[${fn.info.name}] ERROR Executed with error: ${errorText(err)}`);
      return problem500();
    }
  }

  /** The function for a method and path (prefix included), trying routes in precedence order. */
  #route(method: string, pathname: string) {
    const segments = pathname.split('/').slice(1).map(decodeSegment);
    const prefix = this.routePrefix === '' ? [] : this.routePrefix.toLowerCase().split('/');
    if (prefix.some((part, i) => segments[i]?.toLowerCase() !== part)) return undefined;
    const rest = segments.slice(prefix.length);
    if (rest.at(-1) === '') rest.pop(); // A trailing slash.
    for (const fn of this.#http) {
      const params = fn.methods.has(method) ? matchRoute(fn.route, rest) : undefined;
      if (params) return { fn, params };
    }
    return undefined;
  }

  // #endregion

  // #region timers

  startTimers(): void {
    if (this.#closed) return;
    for (const timer of this.#timers.values()) {
      timer.job ??= new Cron(timer.info.schedule ?? '', { ...NCRONTAB, unref: true }, () => {
        this.runTimer(timer.info.name).catch(() => undefined); // Logged by #runTimer.
      });
    }
  }

  runTimer(name: string): Promise<void> {
    const timer = this.#timers.get(name.toLowerCase());
    if (!timer) return Promise.reject(new Error(`No timer function named "${name}".`));
    if (timer.running) {
      this.log(`[${timer.info.name}] previous run still in progress; skipped`);
      return timer.running;
    }
    timer.running = this.#runTimer(timer).finally(() => (timer.running = undefined));
    return timer.running;
  }

  async #runTimer(timer: TimerFunction): Promise<void> {
    const started = performance.now();
    const now = new Date();
    // The TimerInfo the Functions host passes (camel-cased by the library).
    const info = {
      schedule: { adjustForDST: false },
      scheduleStatus: {
        last: (timer.last ?? new Date(0)).toISOString(),
        next: (timer.cron.nextRun(now) ?? now).toISOString(),
        lastUpdated: now.toISOString(),
      },
      isPastDue: false,
    };
    timer.last = now;
    const took = () => `${Math.round(performance.now() - started)}ms`;
    try {
      await this.#invoke(timer, { json: JSON.stringify(info) });
      this.log(`TIMER ${timer.info.name} -> ok in ${took()}`);
    } catch (err) {
      this.log(`[${timer.info.name}] ERROR Executed with error: ${errorText(err)}`);
      this.log(`TIMER ${timer.info.name} -> failed in ${took()}`);
      throw err;
    }
  }

  // #endregion

  close(): Promise<void> {
    this.#closed ??= (async () => {
      for (const timer of this.#timers.values()) timer.job?.stop();
      const server = this.#server;
      if (server) {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      }
      await Promise.allSettled([...this.#timers.values()].flatMap((t) => t.running ?? []));
    })();
    return this.#closed;
  }
}

/** An NCRONTAB expression as a croner schedule (`nextRun`), in the machine's time zone. */
export function parseSchedule(expression: string): Cron {
  try {
    return new Cron(expression, NCRONTAB);
  } catch (err) {
    throw new Error(`Invalid NCRONTAB expression "${expression}": ${(err as Error).message}`);
  }
}

/** package.json `main`: one file, or `*` in the file name (e.g. `dist/functions/*.js`). */
export function mainFiles(appRoot: string, main: string): string[] {
  const [dir, base] = [path.posix.dirname(main), path.posix.basename(main)];
  if (dir.includes('*'))
    throw new Error(`package.json main "${main}": only the file name may hold *`);
  const [before = '', after = '', ...more] = base.split('*');
  if (more.length > 0) throw new Error(`package.json main "${main}": at most one *`);
  const matches = (name: string) =>
    base.includes('*')
      ? name.startsWith(before) && name.endsWith(after) && name.length >= base.length - 1
      : name === base;
  const folder = path.join(appRoot, dir);
  const names = fs.existsSync(folder) ? fs.readdirSync(folder, { withFileTypes: true }) : [];
  return names
    .filter((entry) => entry.isFile() && matches(entry.name))
    .map((entry) => path.posix.join(dir, entry.name))
    .sort();
}

function describeFunction(metadata: Metadata, callback: Callback): HttpFunction | TimerFunction {
  const { name, bindings } = metadata;
  const [triggerName = '', binding = {}] =
    Object.entries(bindings).find(
      ([, b]) => b.direction === 'in' && /Trigger$/.test(b.type ?? ''),
    ) ?? [];
  try {
    if (binding.type === 'httpTrigger') {
      const route = typeof binding.route === 'string' ? binding.route : name;
      const methods = (binding.methods as string[] | undefined)?.map((m) => m.toUpperCase());
      const authLevel = typeof binding.authLevel === 'string' ? binding.authLevel : 'function';
      const info = {
        name,
        trigger: 'http',
        route,
        ...(methods && { methods }),
        authLevel,
      } as const;
      const allowed = new Set(methods ?? ['GET', 'POST']);
      return {
        info,
        metadata,
        callback,
        triggerName,
        route: compileRoute(route),
        methods: allowed,
      };
    }
    if (binding.type === 'timerTrigger') {
      if (binding.runOnStartup) throw new Error('runOnStartup is not supported by the local host');
      const schedule = String(binding.schedule);
      const info = { name, trigger: 'timer', schedule } as const;
      return { info, metadata, callback, triggerName, cron: parseSchedule(schedule) };
    }
    throw new Error(
      `trigger "${binding.type}" is not supported by the local host (HTTP and timer only)`,
    );
  } catch (err) {
    throw new Error(`Function "${name}": ${(err as Error).message}`);
  }
}

/**
 * Loads the app as the Node.js worker does: `require('@azure/functions-core')` answers with this
 * host's stand-in, then every file matching package.json `main` is required in sorted order.
 * The app's modules stay in the require cache, so this works once per process.
 */
export function loadFunctionApp(options: {
  appRoot: string;
  log?: (line: string) => void;
}): Promise<LocalHost> {
  return Promise.resolve().then(() => load(options.appRoot, options.log));
}

function load(root: string, logTo: ((line: string) => void) | undefined): LocalHost {
  const appRoot = path.resolve(root);
  const state = globalThis as { [LOADED]?: string };
  if (state[LOADED] !== undefined) {
    throw new Error(
      `loadFunctionApp can only be called once per process (already loaded ${state[LOADED]}).`,
    );
  }
  state[LOADED] = appRoot;
  const log = logTo ?? ((line: string) => console.log(line));
  const readJson = (file: string) =>
    JSON.parse(fs.readFileSync(path.join(appRoot, file), 'utf8')) as Record<string, unknown>;

  const main = readJson('package.json').main;
  if (typeof main !== 'string') throw new Error(`${appRoot}/package.json has no "main"`);
  const files = mainFiles(appRoot, main);
  if (files.length === 0)
    throw new Error(`No files match package.json main "${main}" under ${appRoot} (build first?).`);
  const hostJson = fs.existsSync(path.join(appRoot, 'host.json')) ? readJson('host.json') : {};
  const prefix = (hostJson.extensions as { http?: { routePrefix?: unknown } } | undefined)?.http
    ?.routePrefix;
  const routePrefix = typeof prefix === 'string' ? prefix.replace(/^\/+|\/+$/g, '') : 'api';

  let model: ProgrammingModel | undefined;
  let streaming = false;
  const registered: { metadata: Metadata; callback: Callback }[] = [];
  const core = {
    setProgrammingModel: (m: ProgrammingModel) => (model = m),
    registerFunction: (metadata: Metadata, callback: Callback) => {
      if (registered.some((r) => r.metadata.name.toLowerCase() === metadata.name.toLowerCase())) {
        throw new Error(`A function named "${metadata.name}" is already registered.`);
      }
      registered.push({ metadata, callback });
      return { dispose: () => undefined };
    },
    registerHook: () => {
      throw new Error('app.hook is not supported by the local host');
    },
    log: (level: LogLevel, _category: string, message: string) => {
      if (message === 'HTTP streaming enabled.') streaming = true;
      if (level === 'warning' || level === 'error' || level === 'critical') log(message);
    },
  };
  const internals = Module as unknown as {
    _load: (request: string, ...rest: unknown[]) => unknown;
  };
  const originalLoad = internals._load;
  internals._load = function (this: unknown, request, ...rest) {
    return request === '@azure/functions-core' ? core : originalLoad.call(this, request, ...rest);
  };

  const appRequire = createRequire(path.join(appRoot, 'package.json'));
  for (const file of files) appRequire(path.join(appRoot, file));
  if (streaming)
    throw new Error(
      'HTTP streaming (app.setup({ enableHttpStream })) is not supported by the local host.',
    );
  if (!model)
    throw new Error('The app registered no programming model (is @azure/functions loaded?).');

  const described = registered.map((r) => describeFunction(r.metadata, r.callback));
  const httpFunctions = described.filter((f): f is HttpFunction => 'route' in f);
  const timers = described.filter((f): f is TimerFunction => 'cron' in f);
  if (httpFunctions.some((f) => f.info.authLevel !== 'anonymous')) {
    log('Function keys are not checked locally (authLevel is ignored, as with Core Tools).');
  }
  return new FunctionHost(routePrefix, model, httpFunctions, timers, log);
}
