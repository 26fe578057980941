// Local Azure Functions host: serves the app's real @azure/functions registrations without Core Tools.
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import Module, { createRequire } from 'node:module';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

export interface RegisteredFunction {
  name: string;
  /** 'http', 'timer', or another trigger type without its 'Trigger' suffix (e.g. 'cosmosDB'). */
  trigger: string;
  route?: string;
  methods?: string[];
  authLevel?: string;
  schedule?: string;
}

export interface LocalHttpRequest {
  method: string;
  /** Path including the query string, e.g. `/api/x?y=1`. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface LocalHttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  text(): string;
  json(): unknown;
}

export interface LocalHost {
  readonly functions: readonly RegisteredFunction[];
  /** The `extensions.http.routePrefix` from host.json ('' when routes are unprefixed). */
  readonly routePrefix: string;
  /** In-process request; same code path as a request over HTTP. */
  dispatch(req: LocalHttpRequest): Promise<LocalHttpResponse>;
  /** Port 0 picks an ephemeral port. */
  listen(port: number, hostname?: string): Promise<{ url: string; port: number }>;
  startTimers(): void;
  runTimer(name: string): Promise<void>;
  /** Stops the server and timers and runs appTerminate hooks. */
  close(): Promise<void>;
}

export interface LoadFunctionAppOptions {
  appRoot: string;
  log?: (line: string) => void;
}

// #region @azure/functions-core shapes (the worker's built-in module; no typings ship in node_modules)

type RpcLogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';
type RpcLogCategory = 'user' | 'system' | 'customMetric';
type FunctionCallback = (...args: unknown[]) => unknown;
type HookCallback = (context: object) => unknown;

interface RpcBindingInfo {
  type?: string | null;
  direction?: string | null;
  [key: string]: unknown;
}

interface FunctionMetadata {
  name: string;
  functionId?: string;
  bindings: Record<string, RpcBindingInfo>;
}

interface RpcNullable<T> {
  value?: T | null;
}

interface RpcHttpCookie {
  name?: string | null;
  value?: string | null;
  domain?: RpcNullable<string> | null;
  path?: RpcNullable<string> | null;
  expires?: RpcNullable<{ seconds?: number | { toString(): string } | null }> | null;
  secure?: RpcNullable<boolean> | null;
  httpOnly?: RpcNullable<boolean> | null;
  sameSite?: string | null;
  maxAge?: RpcNullable<number> | null;
}

interface RpcHttpData {
  method?: string | null;
  url?: string | null;
  headers?: Record<string, string> | null;
  query?: Record<string, string> | null;
  params?: Record<string, string> | null;
  body?: RpcTypedData | null;
  statusCode?: string | null;
  cookies?: RpcHttpCookie[] | null;
}

interface RpcTypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  http?: RpcHttpData | null;
  int?: number | null;
  double?: number | null;
}

interface RpcParameterBinding {
  name: string;
  data: RpcTypedData;
}

interface RpcInvocationResponse {
  invocationId?: string | null;
  outputData?: { name?: string | null; data?: RpcTypedData | null }[] | null;
  returnValue?: RpcTypedData | null;
}

type InvocationState = 'preInvocationHooks' | 'postInvocationHooks' | 'invocation';

interface CoreInvocationContext {
  invocationId: string;
  request: {
    invocationId: string;
    functionId: string;
    inputData: RpcParameterBinding[];
    triggerMetadata: Record<string, RpcTypedData>;
  };
  metadata: FunctionMetadata;
  state?: InvocationState;
  log(level: RpcLogLevel, category: RpcLogCategory, message: string): void;
}

interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], callback: FunctionCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<RpcInvocationResponse>;
}

interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreCtx: CoreInvocationContext): InvocationModel | Promise<InvocationModel>;
}

/** Same contract as the worker's Disposable (based on VS Code's). */
class Disposable {
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => {
      for (const item of items) item.dispose();
    });
  }

  #callOnDispose: (() => unknown) | undefined;

  constructor(callOnDispose: () => unknown) {
    this.#callOnDispose = callOnDispose;
  }

  dispose(): unknown {
    const callback = this.#callOnDispose;
    this.#callOnDispose = undefined;
    return callback?.();
  }
}

// #endregion

const CORE_MODULE = '@azure/functions-core';
const SHIM_VERSION = '4.0.0-local';
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
const PROBLEM_500 = JSON.stringify({
  type: 'about:blank',
  title: 'Internal Server Error',
  status: 500,
});
const LOADED_FLAG = Symbol.for('acr-replication-gate.local-host.loaded');

interface Registration {
  metadata: FunctionMetadata;
  callback: FunctionCallback;
}

/** The object `require('@azure/functions-core')` returns while the local host is loaded. */
class CoreShim {
  readonly version = SHIM_VERSION;
  readonly hostVersion = SHIM_VERSION;
  readonly Disposable = Disposable;
  readonly registrations = new Map<string, Registration>();
  readonly appHookData: Record<string, unknown> = {};
  readonly appLevelHookData: Record<string, unknown> = {};
  programmingModel: ProgrammingModel | undefined;
  startupFinished = false;
  httpStreamRequested = false;
  #hooks = new Map<string, HookCallback[]>();

  constructor(private readonly emitLog: (line: string) => void) {}

  setProgrammingModel = (model: ProgrammingModel): void => {
    this.programmingModel = model;
  };

  getProgrammingModel = (): ProgrammingModel | undefined => this.programmingModel;

  registerFunction = (metadata: FunctionMetadata, callback: FunctionCallback): Disposable => {
    if (this.startupFinished) {
      throw new Error('A function can only be registered during app startup.');
    }
    const key = metadata.name.toLowerCase();
    if (this.registrations.has(key)) {
      // Function names are case-insensitive in Azure; the host rejects duplicates.
      throw new Error(`A function named "${metadata.name}" is already registered.`);
    }
    this.registrations.set(key, { metadata, callback });
    return new Disposable(() => {
      if (this.startupFinished) {
        throw new Error('A function can only be disposed during app startup.');
      }
      this.registrations.delete(key);
    });
  };

  registerHook = (hookName: string, callback: HookCallback): Disposable => {
    const list = this.#hooks.get(hookName) ?? [];
    list.push(callback);
    this.#hooks.set(hookName, list);
    return new Disposable(() => {
      const current = this.#hooks.get(hookName);
      const index = current?.indexOf(callback) ?? -1;
      if (current && index >= 0) current.splice(index, 1);
    });
  };

  log = (level: RpcLogLevel, category: RpcLogCategory, message: string): void => {
    // The library announces streaming through a debug log; the local host can't proxy streams.
    if (category === 'system' && message === 'HTTP streaming enabled.') {
      this.httpStreamRequested = true;
    }
    this.writeLog(level, category, message, undefined);
  };

  hooks(hookName: string): HookCallback[] {
    return [...(this.#hooks.get(hookName) ?? [])];
  }

  async executeHooks(hookName: string, context: object): Promise<void> {
    for (const callback of this.hooks(hookName)) {
      await callback(context);
    }
  }

  /** Routes a log line through 'log' hooks (user logs only, like the worker) and prints it. */
  writeLog(
    level: RpcLogLevel,
    category: RpcLogCategory,
    message: string,
    functionName: string | undefined,
    invocationContext?: unknown,
  ): void {
    let finalLevel = level;
    let finalMessage = message;
    const logHooks = this.hooks('log');
    if (category === 'user' && logHooks.length > 0) {
      const hookContext = {
        hookData: {},
        appHookData: this.appHookData,
        invocationContext,
        category,
        level,
        message,
      };
      for (const hook of logHooks) {
        try {
          hook(hookContext);
        } catch {
          // A failing log hook must not break the invocation that logged.
        }
      }
      finalLevel = hookContext.level;
      finalMessage = hookContext.message;
    }
    if (!shouldPrint(finalLevel, category)) return;
    const prefix = functionName ? `[${functionName}] ` : '';
    const levelTag =
      finalLevel === 'warning'
        ? 'WARN '
        : finalLevel === 'error' || finalLevel === 'critical'
          ? 'ERROR '
          : '';
    this.emitLog(`${prefix}${levelTag}${finalMessage}`);
  }
}

/** Like Core Tools' default console filter: user logs from information, host logs from warning. */
function shouldPrint(level: RpcLogLevel, category: RpcLogCategory): boolean {
  const order: RpcLogLevel[] = ['trace', 'debug', 'information', 'warning', 'error', 'critical'];
  const index = order.indexOf(level);
  if (index < 0) return false;
  return category === 'user' ? index >= 2 : index >= 3;
}

// #region file loading

interface LoaderState {
  [LOADED_FLAG]?: string;
}

type ModuleLoad = (request: string, parent: unknown, isMain: boolean) => unknown;

/** Makes `require('@azure/functions-core')` return the shim, as the Node.js worker does. */
function installCoreModule(shim: CoreShim): void {
  const moduleInternals = Module as unknown as { _load: ModuleLoad };
  const originalLoad = moduleInternals._load;
  moduleInternals._load = function (this: unknown, request, parent, isMain) {
    if (request === CORE_MODULE) return shim;
    return originalLoad.call(this, request, parent, isMain);
  };
}

function readJsonFile(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readRoutePrefix(appRoot: string): string {
  const hostJson = path.join(appRoot, 'host.json');
  if (!fs.existsSync(hostJson)) return 'api';
  const parsed = readJsonFile(hostJson);
  const extensions = isRecord(parsed) ? parsed.extensions : undefined;
  const httpSettings = isRecord(extensions) ? extensions.http : undefined;
  const prefix = isRecord(httpSettings) ? httpSettings.routePrefix : undefined;
  return typeof prefix === 'string' ? prefix.replace(/^\/+|\/+$/g, '') : 'api';
}

function globToRegExp(segment: string): RegExp {
  let source = '';
  for (const char of segment) {
    if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** Tiny glob for package.json `main`: literal segments, `*`, `?` and `**` (node 20 has no fs.glob). */
export function matchFiles(root: string, pattern: string): string[] {
  const parts = pattern
    .replace(/\\/g, '/')
    .replace(/^\.\//, '')
    .split('/')
    .filter((p) => p !== '' && p !== '.');
  const results = new Set<string>();

  const walk = (dir: string, index: number): void => {
    const part = parts[index];
    if (part === undefined) return;
    const isLast = index === parts.length - 1;
    if (part === '**') {
      if (isLast) return;
      walk(dir, index + 1);
      for (const entry of safeReadDir(dir)) {
        if (entry.isDirectory() && entry.name !== 'node_modules' && !entry.name.startsWith('.')) {
          walk(path.join(dir, entry.name), index);
        }
      }
      return;
    }
    if (!/[*?]/.test(part)) {
      const candidate = path.join(dir, part);
      if (isLast) {
        if (isFile(candidate)) results.add(candidate);
      } else if (isDirectory(candidate)) {
        walk(candidate, index + 1);
      }
      return;
    }
    const regex = globToRegExp(part);
    for (const entry of safeReadDir(dir)) {
      if (!regex.test(entry.name)) continue;
      const candidate = path.join(dir, entry.name);
      if (isLast) {
        if (entry.isFile()) results.add(candidate);
      } else if (entry.isDirectory()) {
        walk(candidate, index + 1);
      }
    }
  };

  walk(root, 0);
  return [...results].map((file) => path.relative(root, file).split(path.sep).join('/')).sort();
}

function safeReadDir(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

function isFile(file: string): boolean {
  return fs.statSync(file, { throwIfNoEntry: false })?.isFile() ?? false;
}

function isDirectory(dir: string): boolean {
  return fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

// #endregion

// #region routes

type Constraint = (value: string) => boolean;

type RouteSegment =
  | { kind: 'literal'; text: string; lower: string }
  | {
      kind: 'param';
      name: string;
      optional: boolean;
      catchAll: boolean;
      defaultValue: string | undefined;
      constraints: Constraint[];
    };

interface CompiledRoute {
  template: string;
  segments: RouteSegment[];
  literalCount: number;
  hasCatchAll: boolean;
  ranks: number[];
}

const INT32 = /^-?\d{1,10}$/;

function numberArgs(args: string | undefined): number[] {
  return (args ?? '').split(',').map((a) => Number(a.trim()));
}

function buildConstraint(spec: string): Constraint | undefined {
  const match = /^([a-z]+)(?:\((.*)\))?$/i.exec(spec.trim());
  if (!match) return undefined;
  const name = (match[1] ?? '').toLowerCase();
  const [a = NaN, b = NaN] = numberArgs(match[2]);
  switch (name) {
    case 'int':
      return (v) => INT32.test(v) && Math.abs(Number(v)) <= 2 ** 31;
    case 'long':
      return (v) => /^-?\d{1,19}$/.test(v);
    case 'alpha':
      return (v) => /^[a-z]+$/i.test(v);
    case 'bool':
      return (v) => /^(true|false)$/i.test(v);
    case 'guid':
      return (v) =>
        /^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$/i.test(v) ||
        /^[0-9a-f]{32}$/i.test(v);
    case 'double':
    case 'float':
    case 'decimal':
      return (v) => /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(v);
    case 'minlength':
      return (v) => v.length >= a;
    case 'maxlength':
      return (v) => v.length <= a;
    case 'length':
      return Number.isNaN(b) ? (v) => v.length === a : (v) => v.length >= a && v.length <= b;
    case 'min':
      return (v) => INT32.test(v) && Number(v) >= a;
    case 'max':
      return (v) => INT32.test(v) && Number(v) <= a;
    case 'range':
      return (v) => INT32.test(v) && Number(v) >= a && Number(v) <= b;
    default:
      return undefined; // Unknown constraints (regex, datetime, ...) are not enforced locally.
  }
}

/** Splits `id:int:range(1,5)` on colons that are outside parentheses. */
function splitConstraints(inner: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of inner) {
    if (char === '(') depth++;
    if (char === ')') depth = Math.max(0, depth - 1);
    if (char === ':' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  parts.push(current);
  return parts;
}

function parseRouteSegment(segment: string, template: string): RouteSegment {
  const isParam = segment.startsWith('{') && segment.endsWith('}');
  if (!isParam) {
    if (/[{}]/.test(segment)) {
      throw new Error(
        `Route "${template}": complex segment "${segment}" is not supported locally.`,
      );
    }
    return { kind: 'literal', text: segment, lower: segment.toLowerCase() };
  }
  let inner = segment.slice(1, -1).trim();
  let catchAll = false;
  if (inner.startsWith('*')) {
    catchAll = true;
    inner = inner.replace(/^\*{1,2}/, '');
  }
  let optional = false;
  if (inner.endsWith('?')) {
    optional = true;
    inner = inner.slice(0, -1);
  }
  const [nameAndDefault = '', ...constraintSpecs] = splitConstraints(inner);
  let name = nameAndDefault;
  let defaultValue: string | undefined;
  const equals = nameAndDefault.indexOf('=');
  if (equals >= 0) {
    name = nameAndDefault.slice(0, equals);
    defaultValue = nameAndDefault.slice(equals + 1);
  }
  // `{x:int=5}` puts the default after the last constraint.
  const lastSpec = constraintSpecs.at(-1);
  if (lastSpec !== undefined && lastSpec.includes('=') && !lastSpec.includes('(')) {
    const at = lastSpec.indexOf('=');
    defaultValue = lastSpec.slice(at + 1);
    constraintSpecs[constraintSpecs.length - 1] = lastSpec.slice(0, at);
  }
  name = name.trim();
  if (!name) throw new Error(`Route "${template}": parameter "${segment}" has no name.`);
  const constraints = constraintSpecs
    .map(buildConstraint)
    .filter((c): c is Constraint => c !== undefined);
  return { kind: 'param', name, optional, catchAll, defaultValue, constraints };
}

function compileRoute(template: string): CompiledRoute {
  const trimmed = template.replace(/^\/+|\/+$/g, '');
  const segments =
    trimmed === '' ? [] : trimmed.split('/').map((s) => parseRouteSegment(s, template));
  const catchAllIndex = segments.findIndex((s) => s.kind === 'param' && s.catchAll);
  if (catchAllIndex >= 0 && catchAllIndex !== segments.length - 1) {
    throw new Error(`Route "${template}": a catch-all parameter must be the last segment.`);
  }
  const ranks = segments.map((s) => {
    if (s.kind === 'literal') return 1;
    if (s.catchAll) return 5;
    if (s.optional || s.defaultValue !== undefined) return 4;
    return s.constraints.length > 0 ? 2 : 3;
  });
  return {
    template,
    segments,
    literalCount: segments.filter((s) => s.kind === 'literal').length,
    hasCatchAll: catchAllIndex >= 0,
    ranks,
  };
}

/** ASP.NET-like precedence: more literals first, catch-all last, then segment by segment. */
function compareRoutes(a: CompiledRoute, b: CompiledRoute): number {
  if (a.literalCount !== b.literalCount) return b.literalCount - a.literalCount;
  if (a.hasCatchAll !== b.hasCatchAll) return a.hasCatchAll ? 1 : -1;
  const length = Math.min(a.ranks.length, b.ranks.length);
  for (let i = 0; i < length; i++) {
    const diff = (a.ranks[i] ?? 0) - (b.ranks[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return b.ranks.length - a.ranks.length;
}

/** Matches decoded path segments (relative to the route prefix) against a route. */
function matchRoute(route: CompiledRoute, segments: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (const [index, segment] of route.segments.entries()) {
    const value = segments[index];
    if (segment.kind === 'literal') {
      if (value === undefined || value.toLowerCase() !== segment.lower) return undefined;
      continue;
    }
    if (segment.catchAll) {
      const rest = segments.slice(index).join('/');
      if (rest === '') {
        if (segment.defaultValue !== undefined) params[segment.name] = segment.defaultValue;
      } else {
        if (!segment.constraints.every((check) => check(rest))) return undefined;
        params[segment.name] = rest;
      }
      return params;
    }
    if (value === undefined) {
      if (!segment.optional && segment.defaultValue === undefined) return undefined;
      if (segment.defaultValue !== undefined) params[segment.name] = segment.defaultValue;
      continue;
    }
    if (value === '' || !segment.constraints.every((check) => check(value))) return undefined;
    params[segment.name] = value;
  }
  return segments.length <= route.segments.length ? params : undefined;
}

function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw; // Malformed escapes stay as sent.
  }
}

// #endregion

// #region NCRONTAB

export interface Schedule {
  /** The first occurrence strictly after `after`, or undefined when it never fires. */
  next(after: Date): Date | undefined;
}

const MONTH_NAMES = [
  'JAN',
  'FEB',
  'MAR',
  'APR',
  'MAY',
  'JUN',
  'JUL',
  'AUG',
  'SEP',
  'OCT',
  'NOV',
  'DEC',
];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

function parseCronField(
  field: string,
  min: number,
  max: number,
  label: string,
  names?: string[],
  nameOffset = 0,
): Set<number> {
  const values = new Set<number>();
  const toNumber = (text: string): number => {
    const nameIndex = names?.indexOf(text.toUpperCase()) ?? -1;
    const value = nameIndex >= 0 ? nameIndex + nameOffset : /^\d+$/.test(text) ? Number(text) : NaN;
    if (Number.isNaN(value) || value < min || value > max) {
      throw new Error(`${label} value "${text}" is out of range ${min}-${max}`);
    }
    return value;
  };
  for (const item of field.split(',')) {
    const [rangePart = '', stepPart] = item.split('/');
    const step = stepPart === undefined ? 1 : Number(stepPart);
    if (!Number.isInteger(step) || step < 1) throw new Error(`${label} step "${item}" is invalid`);
    let from: number;
    let to: number;
    if (rangePart === '*') {
      from = min;
      to = max;
    } else if (rangePart.includes('-')) {
      const [start = '', end = ''] = rangePart.split('-');
      from = toNumber(start);
      to = toNumber(end);
    } else {
      from = toNumber(rangePart);
      to = stepPart === undefined ? from : max;
    }
    if (from > to) throw new Error(`${label} range "${item}" is reversed`);
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

/** Parses a 6-field NCRONTAB expression (sec min hour day month day-of-week), in local time like Core Tools. */
export function parseNcrontab(expression: string): Schedule {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new Error(
      `Invalid NCRONTAB expression "${expression}": expected 6 fields (second minute hour day month day-of-week).`,
    );
  }
  const [sec = '', min = '', hour = '', day = '', month = '', dow = ''] = fields;
  let seconds: Set<number>, minutes: Set<number>, hours: Set<number>;
  let days: Set<number>, months: Set<number>, weekdays: Set<number>;
  try {
    seconds = parseCronField(sec, 0, 59, 'second');
    minutes = parseCronField(min, 0, 59, 'minute');
    hours = parseCronField(hour, 0, 23, 'hour');
    days = parseCronField(day, 1, 31, 'day');
    months = parseCronField(month, 1, 12, 'month', MONTH_NAMES, 1);
    weekdays = parseCronField(dow, 0, 7, 'day-of-week', DAY_NAMES);
  } catch (err) {
    throw new Error(`Invalid NCRONTAB expression "${expression}": ${errorMessage(err)}.`);
  }
  if (weekdays.has(7)) weekdays.add(0); // Both 0 and 7 mean Sunday.

  return {
    next(after: Date): Date | undefined {
      let t = new Date(after.getTime());
      t.setMilliseconds(0);
      t = new Date(t.getTime() + 1000);
      // Each step jumps to the next candidate unit; the bound covers several years of misses.
      for (let guard = 0; guard < 200_000; guard++) {
        const y = t.getFullYear();
        const mo = t.getMonth();
        const d = t.getDate();
        const h = t.getHours();
        const mi = t.getMinutes();
        const s = t.getSeconds();
        if (y > after.getFullYear() + 8) return undefined;
        if (!months.has(mo + 1)) t = new Date(y, mo + 1, 1, 0, 0, 0);
        // NCRONTAB requires day-of-month AND day-of-week to match.
        else if (!days.has(d) || !weekdays.has(t.getDay())) t = new Date(y, mo, d + 1, 0, 0, 0);
        else if (!hours.has(h)) t = new Date(y, mo, d, h + 1, 0, 0);
        else if (!minutes.has(mi)) t = new Date(y, mo, d, h, mi + 1, 0);
        else if (!seconds.has(s)) t = new Date(y, mo, d, h, mi, s + 1);
        else return t;
      }
      return undefined;
    },
  };
}

/** Timer schedules are NCRONTAB, a TimeSpan (`hh:mm:ss`), or `%AppSetting%` naming either. */
function parseSchedule(raw: string): Schedule {
  const setting = /^%(.+)%$/.exec(raw.trim());
  const expression = setting ? (process.env[setting[1] ?? ''] ?? '') : raw;
  if (setting && !expression) {
    throw new Error(`Timer schedule refers to app setting "${setting[1]}", which is not set.`);
  }
  const span = /^(?:(\d+)\.)?(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(expression.trim());
  if (span) {
    const [, d = '0', h = '0', m = '0', s = '0'] = span;
    const intervalMs = (((Number(d) * 24 + Number(h)) * 60 + Number(m)) * 60 + Number(s)) * 1000;
    if (intervalMs <= 0) throw new Error(`Timer schedule "${raw}" must be a positive interval.`);
    return { next: (after) => new Date(after.getTime() + intervalMs) };
  }
  return parseNcrontab(expression);
}

// #endregion

interface LoadedFunction {
  info: RegisteredFunction;
  metadata: FunctionMetadata;
  callback: FunctionCallback;
  triggerName: string;
  triggerType: string;
  route?: CompiledRoute;
  methods?: Set<string>;
  httpOutputName?: string;
  schedule?: Schedule;
  runOnStartup?: boolean;
}

interface TimerState {
  fn: LoadedFunction;
  schedule: Schedule;
  handle?: NodeJS.Timeout;
  running?: Promise<void>;
  last?: Date;
  next?: Date;
}

interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  setCookies: string[];
  body: Buffer;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function errorDetail(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function describeFunction(metadata: FunctionMetadata, callback: FunctionCallback): LoadedFunction {
  const entries = Object.entries(metadata.bindings);
  const trigger = entries.find(([, b]) => b.direction === 'in' && /trigger$/i.test(b.type ?? ''));
  if (!trigger) throw new Error(`Function "${metadata.name}" has no trigger binding.`);
  const [triggerName, binding] = trigger;
  const triggerType = binding.type ?? '';
  const lowerType = triggerType.toLowerCase();
  const info: RegisteredFunction = {
    name: metadata.name,
    trigger: triggerType.replace(/Trigger$/i, ''),
  };
  const loaded: LoadedFunction = { info, metadata, callback, triggerName, triggerType };

  if (lowerType === 'httptrigger') {
    const route = asString(binding.route) ?? metadata.name;
    const methods = Array.isArray(binding.methods)
      ? binding.methods
          .filter((m): m is string => typeof m === 'string')
          .map((m) => m.toUpperCase())
      : undefined;
    info.trigger = 'http';
    info.route = route;
    if (methods && methods.length > 0) info.methods = methods;
    info.authLevel = asString(binding.authLevel) ?? 'function';
    try {
      loaded.route = compileRoute(route);
    } catch (err) {
      throw new Error(`Function "${metadata.name}": ${errorMessage(err)}`);
    }
    if (info.methods) loaded.methods = new Set(info.methods);
    loaded.httpOutputName = entries.find(
      ([name, b]) =>
        b.direction === 'out' && (name === '$return' || b.type?.toLowerCase() === 'http'),
    )?.[0];
  } else if (lowerType === 'timertrigger') {
    const schedule = asString(binding.schedule) ?? '';
    info.trigger = 'timer';
    info.schedule = schedule;
    try {
      loaded.schedule = parseSchedule(schedule);
    } catch (err) {
      throw new Error(`Function "${metadata.name}": ${errorMessage(err)}`);
    }
    loaded.runOnStartup = binding.runOnStartup === true;
  }
  return loaded;
}

const SAME_SITE: Record<string, string | undefined> = {
  lax: 'Lax',
  strict: 'Strict',
  explicitNone: 'None',
};

function formatCookie(cookie: RpcHttpCookie): string {
  let text = `${cookie.name ?? ''}=${cookie.value ?? ''}`;
  if (cookie.domain?.value) text += `; Domain=${cookie.domain.value}`;
  if (cookie.path?.value) text += `; Path=${cookie.path.value}`;
  const seconds = cookie.expires?.value?.seconds;
  if (seconds !== undefined && seconds !== null) {
    text += `; Expires=${new Date(Number(seconds.toString()) * 1000).toUTCString()}`;
  }
  if (typeof cookie.maxAge?.value === 'number') text += `; Max-Age=${cookie.maxAge.value}`;
  if (cookie.secure?.value) text += '; Secure';
  if (cookie.httpOnly?.value) text += '; HttpOnly';
  const sameSite = SAME_SITE[cookie.sameSite ?? ''];
  if (sameSite) text += `; SameSite=${sameSite}`;
  return text;
}

function typedDataToBuffer(data: RpcTypedData | null | undefined): Buffer {
  if (!data) return Buffer.alloc(0);
  if (data.bytes)
    return Buffer.from(data.bytes.buffer, data.bytes.byteOffset, data.bytes.byteLength);
  if (typeof data.string === 'string') return Buffer.from(data.string, 'utf8');
  if (typeof data.json === 'string') return Buffer.from(data.json, 'utf8');
  if (typeof data.int === 'number') return Buffer.from(String(data.int));
  if (typeof data.double === 'number') return Buffer.from(String(data.double));
  return Buffer.alloc(0);
}

function bodyAllowed(status: number): boolean {
  return status >= 200 && status !== 204 && status !== 304;
}

function finishAnswer(answer: HttpAnswer): HttpAnswer {
  // The host owns framing; the handler's own length/encoding headers would be wrong after buffering.
  delete answer.headers['content-length'];
  delete answer.headers['transfer-encoding'];
  if (!bodyAllowed(answer.status)) {
    answer.body = Buffer.alloc(0);
  } else {
    answer.headers['content-length'] = String(answer.body.length);
  }
  return answer;
}

function emptyAnswer(status: number): HttpAnswer {
  return finishAnswer({ status, headers: {}, setCookies: [], body: Buffer.alloc(0) });
}

function problemAnswer(): HttpAnswer {
  return finishAnswer({
    status: 500,
    headers: { 'content-type': 'application/problem+json' },
    setCookies: [],
    body: Buffer.from(PROBLEM_500),
  });
}

function toLocalResponse(answer: HttpAnswer): LocalHttpResponse {
  const headers = { ...answer.headers };
  if (answer.setCookies.length > 0) headers['set-cookie'] = answer.setCookies.join(', ');
  const body = answer.body;
  return {
    status: answer.status,
    headers,
    body,
    text: () => body.toString('utf8'),
    json: () => JSON.parse(body.toString('utf8')) as unknown,
  };
}

function lowerCaseHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers ?? {})) result[key.toLowerCase()] = value;
  return result;
}

function formatHostForUrl(hostname: string): string {
  return hostname.includes(':') && !hostname.startsWith('[') ? `[${hostname}]` : hostname;
}

class FunctionAppHost implements LocalHost {
  readonly functions: readonly RegisteredFunction[];
  readonly routePrefix: string;
  readonly #shim: CoreShim;
  readonly #log: (line: string) => void;
  readonly #all: LoadedFunction[];
  readonly #http: LoadedFunction[];
  readonly #timers = new Map<string, TimerState>();
  #server: http.Server | undefined;
  #listenHost: string | undefined;
  #timersStarted = false;
  #closed: Promise<void> | undefined;

  constructor(
    shim: CoreShim,
    loaded: LoadedFunction[],
    routePrefix: string,
    log: (line: string) => void,
  ) {
    this.#shim = shim;
    this.#log = log;
    this.#all = loaded;
    this.routePrefix = routePrefix;
    this.functions = Object.freeze(loaded.map((f) => Object.freeze({ ...f.info })));
    this.#http = loaded
      .filter((f) => f.route !== undefined)
      .sort((a, b) => compareRoutes(a.route as CompiledRoute, b.route as CompiledRoute));
    for (const fn of loaded) {
      if (fn.schedule) this.#timers.set(fn.info.name.toLowerCase(), { fn, schedule: fn.schedule });
    }
  }

  // #region invocation

  /** Mirrors the Node.js worker's InvocationHandler: arguments, hooks, invoke, hooks, response. */
  async #invoke(
    fn: LoadedFunction,
    inputData: RpcParameterBinding[],
  ): Promise<RpcInvocationResponse> {
    const model = this.#shim.programmingModel;
    if (!model) throw new Error('No programming model was registered by the app.');
    const invocationId = randomUUID();
    // Filled in once the model has built the context; log hooks receive it.
    const current: { context?: unknown } = {};
    const coreCtx: CoreInvocationContext = {
      invocationId,
      request: {
        invocationId,
        functionId: fn.info.name,
        inputData,
        triggerMetadata: {},
      },
      metadata: fn.metadata,
      state: undefined,
      log: (level, category, message) =>
        this.#shim.writeLog(level, category, message, fn.info.name, current.context),
    };

    const invocationModel = await model.getInvocationModel(coreCtx);
    const { context, inputs: initialInputs } = await invocationModel.getArguments();
    current.context = context;
    const shim = this.#shim;
    const hookData: Record<string, unknown> = {};
    const preContext = {
      get hookData() {
        return hookData;
      },
      get appHookData() {
        return shim.appHookData;
      },
      get invocationContext() {
        return context;
      },
      functionCallback: fn.callback,
      inputs: initialInputs,
    };
    coreCtx.state = 'preInvocationHooks';
    try {
      await shim.executeHooks('preInvocation', preContext);
    } finally {
      coreCtx.state = undefined;
    }

    const postContext = {
      get hookData() {
        return hookData;
      },
      get appHookData() {
        return shim.appHookData;
      },
      get invocationContext() {
        return context;
      },
      inputs: preContext.inputs,
      result: null as unknown,
      error: null as unknown,
    };
    coreCtx.state = 'invocation';
    try {
      postContext.result = await invocationModel.invokeFunction(
        context,
        preContext.inputs,
        preContext.functionCallback,
      );
    } catch (err) {
      postContext.error = err;
    } finally {
      coreCtx.state = undefined;
    }

    coreCtx.state = 'postInvocationHooks';
    try {
      await shim.executeHooks('postInvocation', postContext);
    } finally {
      coreCtx.state = undefined;
    }
    if (postContext.error !== null && postContext.error !== undefined) {
      throw postContext.error instanceof Error
        ? postContext.error
        : new Error(errorMessage(postContext.error));
    }
    return invocationModel.getResponse(context, postContext.result);
  }

  // #endregion

  // #region HTTP

  dispatch(req: LocalHttpRequest): Promise<LocalHttpResponse> {
    const started = performance.now();
    const body = typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : req.body;
    return this.#handle(req.method, req.path, lowerCaseHeaders(req.headers), body, started).then(
      toLocalResponse,
    );
  }

  /** Shared by dispatch() and the node:http server; logs one line per request. */
  async #handle(
    rawMethod: string,
    rawPath: string,
    headers: Record<string, string>,
    body: Buffer | undefined,
    started: number,
  ): Promise<HttpAnswer> {
    const method = rawMethod.toUpperCase();
    let url: URL | undefined;
    let answer: HttpAnswer;
    try {
      url = this.#parseUrl(rawPath, headers.host);
      if (!url) {
        answer = emptyAnswer(400);
      } else if (body && body.length > MAX_BODY_BYTES) {
        answer = emptyAnswer(413);
      } else {
        answer = await this.#route(method, url, headers, body);
      }
    } catch (err) {
      this.#log(`${method} ${url?.pathname ?? rawPath} failed: ${errorDetail(err)}`);
      answer = problemAnswer();
    }
    this.#logRequest(method, url?.pathname ?? rawPath.split('?')[0] ?? '', answer.status, started);
    return answer;
  }

  #logRequest(method: string, pathname: string, status: number, started: number): void {
    // Path only: query strings may carry keys or tokens.
    this.#log(`${method} ${pathname} -> ${status} in ${Math.round(performance.now() - started)}ms`);
  }

  #parseUrl(rawPath: string, hostHeader: string | undefined): URL | undefined {
    const host = hostHeader ?? this.#listenHost ?? 'localhost';
    try {
      // Concatenate rather than resolve so `//x` stays a path, not a protocol-relative URL.
      if (rawPath.startsWith('/')) return new URL(`http://${host}${rawPath}`);
      const absolute = new URL(rawPath);
      return absolute.protocol === 'http:' || absolute.protocol === 'https:' ? absolute : undefined;
    } catch {
      try {
        return rawPath.startsWith('/') ? new URL(`http://localhost${rawPath}`) : undefined;
      } catch {
        return undefined;
      }
    }
  }

  async #route(
    method: string,
    url: URL,
    headers: Record<string, string>,
    body: Buffer | undefined,
  ): Promise<HttpAnswer> {
    const rawSegments = url.pathname.split('/').slice(1);
    const decoded = rawSegments.map(decodeSegment);
    const prefix = this.routePrefix === '' ? [] : this.routePrefix.split('/');
    for (const [index, part] of prefix.entries()) {
      if (decoded[index]?.toLowerCase() !== part.toLowerCase()) return emptyAnswer(404);
    }
    const segments = decoded.slice(prefix.length);
    if (segments.length > 0 && segments.at(-1) === '') segments.pop(); // trailing slash

    let selected: { fn: LoadedFunction; params: Record<string, string> } | undefined;
    for (const fn of this.#http) {
      if (fn.methods && !fn.methods.has(method)) continue;
      const params = matchRoute(fn.route as CompiledRoute, segments);
      if (params) {
        selected = { fn, params };
        break;
      }
    }
    // Like Azure, a route that exists for other methods is still a plain 404.
    if (!selected) return emptyAnswer(404);

    const query: Record<string, string> = {};
    for (const [key, value] of url.searchParams) {
      query[key] = key in query ? `${query[key]},${value}` : value;
    }
    const httpData: RpcHttpData = {
      method,
      url: url.href,
      headers,
      query,
      params: selected.params,
    };
    if (method !== 'GET' && method !== 'HEAD' && body && body.length > 0) {
      httpData.body = { bytes: body };
    }

    const { fn } = selected;
    let response: RpcInvocationResponse;
    try {
      response = await this.#invoke(fn, [{ name: fn.triggerName, data: { http: httpData } }]);
    } catch (err) {
      this.#shim.writeLog(
        'error',
        'system',
        `Executed with error: ${errorDetail(err)}`,
        fn.info.name,
      );
      return problemAnswer();
    }
    return this.#toAnswer(fn, response);
  }

  #toAnswer(fn: LoadedFunction, response: RpcInvocationResponse): HttpAnswer {
    const output =
      fn.httpOutputName === '$return'
        ? response.returnValue
        : response.outputData?.find((o) => o.name === fn.httpOutputName)?.data;
    const httpData = output?.http;
    if (!httpData) return emptyAnswer(204); // Nothing returned: an empty success.
    const status = Number.parseInt(httpData.statusCode ?? '200', 10);
    const headers = lowerCaseHeaders(httpData.headers ?? undefined);
    const setCookies: string[] = [];
    if (headers['set-cookie'] !== undefined) {
      setCookies.push(headers['set-cookie']);
      delete headers['set-cookie'];
    }
    for (const cookie of httpData.cookies ?? []) setCookies.push(formatCookie(cookie));
    return finishAnswer({
      status: Number.isInteger(status) && status >= 100 && status <= 999 ? status : 200,
      headers,
      setCookies,
      body: typedDataToBuffer(httpData.body),
    });
  }

  listen(port: number, hostname = '127.0.0.1'): Promise<{ url: string; port: number }> {
    if (this.#server) return Promise.reject(new Error('The local host is already listening.'));
    if (this.#closed) return Promise.reject(new Error('The local host is closed.'));
    const server = http.createServer((req, res) => {
      this.#serve(req, res);
    });
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, hostname, () => {
        server.off('error', reject);
        const address = server.address() as AddressInfo;
        this.#listenHost = `${formatHostForUrl(hostname)}:${address.port}`;
        resolve({ url: `http://${this.#listenHost}`, port: address.port });
      });
    });
  }

  #serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    const started = performance.now();
    const method = req.method ?? 'GET';
    const rawPath = req.url ?? '/';
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : value;
    }
    const tooLarge = (): void => {
      this.#logRequest(method, rawPath.split('?')[0] ?? '', 413, started);
      this.#write(res, emptyAnswer(413), true);
    };
    if (Number(headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
      tooLarge();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let aborted = false;
    req.on('data', (chunk: Buffer) => {
      if (aborted) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        aborted = true;
        chunks.length = 0;
        tooLarge();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => {
      aborted = true;
    });
    req.on('end', () => {
      if (aborted) return;
      const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
      this.#handle(method, rawPath, headers, body, started).then(
        (answer) => this.#write(res, answer, false),
        (err: unknown) => {
          // The path only: a query string can carry a token.
          this.#log(`${method} ${rawPath.split('?')[0] ?? ''} failed: ${errorDetail(err)}`);
          this.#write(res, problemAnswer(), false);
        },
      );
    });
  }

  #write(res: http.ServerResponse, answer: HttpAnswer, closeConnection: boolean): void {
    if (res.headersSent) return;
    try {
      const headers: http.OutgoingHttpHeaders = { ...answer.headers };
      if (answer.setCookies.length > 0) headers['set-cookie'] = answer.setCookies;
      if (closeConnection) headers.connection = 'close';
      res.writeHead(answer.status, headers);
      res.end(answer.body);
    } catch (err) {
      // Invalid header values from a handler end up here.
      this.#log(`Failed to write response: ${errorMessage(err)}`);
      if (!res.headersSent) {
        const problem = problemAnswer();
        res.writeHead(problem.status, problem.headers);
        res.end(problem.body);
      } else {
        res.destroy();
      }
    }
  }

  // #endregion

  // #region timers

  startTimers(): void {
    if (this.#timersStarted || this.#closed) return;
    this.#timersStarted = true;
    for (const state of this.#timers.values()) {
      if (state.fn.runOnStartup) this.#fire(state);
      this.#scheduleNext(state);
    }
  }

  runTimer(name: string): Promise<void> {
    const state = this.#timers.get(name.toLowerCase());
    if (!state) return Promise.reject(new Error(`No timer function named "${name}".`));
    if (state.running) {
      this.#log(`[${state.fn.info.name}] previous run still in progress; skipped`);
      return state.running;
    }
    return this.#runTimerOnce(state);
  }

  #scheduleNext(state: TimerState): void {
    if (this.#closed) return;
    const next = state.schedule.next(new Date());
    state.next = next;
    if (!next) {
      this.#log(`[${state.fn.info.name}] schedule "${state.fn.info.schedule}" never fires`);
      return;
    }
    const arm = (): void => {
      const delay = next.getTime() - Date.now();
      // setTimeout caps at ~24.8 days; re-arm until the occurrence is in range.
      state.handle = setTimeout(
        () => {
          if (next.getTime() - Date.now() > 0) {
            arm();
            return;
          }
          this.#fire(state);
          this.#scheduleNext(state);
        },
        Math.min(Math.max(delay, 0), MAX_TIMEOUT_MS),
      );
      state.handle.unref();
    };
    arm();
  }

  #fire(state: TimerState): void {
    if (state.running) {
      this.#log(`[${state.fn.info.name}] previous run still in progress; skipped`);
      return;
    }
    this.#runTimerOnce(state).catch(() => {
      // Already logged by #runTimerOnce.
    });
  }

  #runTimerOnce(state: TimerState): Promise<void> {
    const run = this.#executeTimer(state).finally(() => {
      state.running = undefined;
    });
    state.running = run;
    return run;
  }

  async #executeTimer(state: TimerState): Promise<void> {
    const started = performance.now();
    const now = new Date();
    const timer = {
      schedule: { adjustForDST: false },
      scheduleStatus: {
        last: (state.last ?? new Date(0)).toISOString(),
        next: (state.next ?? state.schedule.next(now) ?? now).toISOString(),
        lastUpdated: now.toISOString(),
      },
      isPastDue: false,
    };
    state.last = now;
    const name = state.fn.info.name;
    try {
      await this.#invoke(state.fn, [
        { name: state.fn.triggerName, data: { json: JSON.stringify(timer) } },
      ]);
      this.#log(`TIMER ${name} -> ok in ${Math.round(performance.now() - started)}ms`);
    } catch (err) {
      this.#shim.writeLog('error', 'system', `Executed with error: ${errorDetail(err)}`, name);
      this.#log(`TIMER ${name} -> failed in ${Math.round(performance.now() - started)}ms`);
      throw err;
    }
  }

  // #endregion

  close(): Promise<void> {
    this.#closed ??= this.#doClose();
    return this.#closed;
  }

  async #doClose(): Promise<void> {
    for (const state of this.#timers.values()) {
      if (state.handle) clearTimeout(state.handle);
      state.handle = undefined;
    }
    const server = this.#server;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    const running = [...this.#timers.values()].flatMap((s) => (s.running ? [s.running] : []));
    await Promise.allSettled(running);
    const shim = this.#shim;
    const terminateContext = {
      get hookData() {
        return shim.appLevelHookData;
      },
      get appHookData() {
        return shim.appHookData;
      },
    };
    try {
      await shim.executeHooks('appTerminate', terminateContext);
    } catch (err) {
      this.#log(`appTerminate hook failed: ${errorDetail(err)}`);
    }
  }

  /** Functions with triggers the local host can't drive (queues, Cosmos DB change feed, ...). */
  get unsupported(): LoadedFunction[] {
    return this.#all.filter((f) => !f.route && !f.schedule);
  }
}

/**
 * Loads the app like the Node.js worker: installs `@azure/functions-core`, requires every file
 * matching package.json `main` in sorted order, then runs appStart hooks.
 * The app's modules stay in the require cache, so this works once per process.
 */
export async function loadFunctionApp(options: LoadFunctionAppOptions): Promise<LocalHost> {
  const state = globalThis as LoaderState;
  const appRoot = path.resolve(options.appRoot);
  if (state[LOADED_FLAG] !== undefined) {
    throw new Error(
      `loadFunctionApp can only be called once per process (already loaded ${state[LOADED_FLAG]}).`,
    );
  }
  state[LOADED_FLAG] = appRoot;
  const log =
    options.log ??
    ((line: string): void => {
      console.log(line);
    });

  const pkg = readJsonFile(path.join(appRoot, 'package.json'));
  const main = isRecord(pkg) ? pkg.main : undefined;
  if (typeof main !== 'string' || main === '') {
    throw new Error(`${path.join(appRoot, 'package.json')} has no "main" entry point pattern.`);
  }
  const files = matchFiles(appRoot, main);
  if (files.length === 0) {
    throw new Error(`No files match package.json main "${main}" under ${appRoot} (build first?).`);
  }
  const routePrefix = readRoutePrefix(appRoot);

  const shim = new CoreShim(log);
  installCoreModule(shim);
  const appRequire = createRequire(path.join(appRoot, 'package.json'));
  for (const file of files) {
    appRequire(path.join(appRoot, file));
  }
  if (shim.httpStreamRequested) {
    throw new Error(
      'HTTP streaming (app.setup({ enableHttpStream: true })) is not supported by the local host.',
    );
  }

  const appStartContext = {
    get hookData() {
      return shim.appLevelHookData;
    },
    get appHookData() {
      return shim.appHookData;
    },
    functionAppDirectory: appRoot,
  };
  await shim.executeHooks('appStart', appStartContext);
  shim.startupFinished = true;

  const loaded = [...shim.registrations.values()].map((r) =>
    describeFunction(r.metadata, r.callback),
  );
  const host = new FunctionAppHost(shim, loaded, routePrefix, log);
  for (const fn of host.unsupported) {
    log(`[${fn.info.name}] ${fn.triggerType} is not supported by the local host; it will not run`);
  }
  if (loaded.some((f) => f.info.trigger === 'http' && f.info.authLevel !== 'anonymous')) {
    log('Function keys are not checked locally (authLevel is ignored, as with Core Tools).');
  }
  return host;
}
