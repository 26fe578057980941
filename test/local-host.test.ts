// Tests the local Functions host (dev/local-host.ts) against a fixture app, over real HTTP.
import * as http from 'node:http';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalHost } from '../dev/local-host';
import {
  compileRoute,
  loadFunctionApp,
  MAX_BODY_BYTES,
  mainFiles,
  matchRoute,
  parseSchedule,
} from '../dev/local-host';
import { partialUpload } from './support/partial-upload';

const appRoot = path.join(__dirname, 'fixtures', 'mini-app');

let host: LocalHost;
let baseUrl: string;
const logLines: string[] = [];

beforeAll(async () => {
  host = await loadFunctionApp({ appRoot, log: (line) => logLines.push(line) });
  ({ url: baseUrl } = await host.listen(0));
});

afterAll(async () => {
  await host?.close();
  // Closing stops the server: nothing answers on its port afterwards. (Checked here, after every
  // test, since an app loads once per process and a closed host cannot listen again.)
  if (baseUrl !== undefined) await expect(fetch(`${baseUrl}/api/items/1`)).rejects.toThrow();
});

const get = async (pathAndQuery: string) => {
  const res = await fetch(baseUrl + pathAndQuery);
  return { status: res.status, body: (await res.text()) || 'null' };
};
const getJson = async (pathAndQuery: string): Promise<unknown> =>
  JSON.parse((await get(pathAndQuery)).body);

/** A chunked upload (no content-length) of `size` bytes; resolves with the status. */
function chunkedUpload(size: number, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${baseUrl}/api/upload`, { method: 'POST', headers });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const write = (left: number): void => {
      if (left <= 0) return void req.end();
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
      if (req.write(piece)) write(left - piece.length);
      else req.once('drain', () => write(left - piece.length));
    };
    write(size);
  });
}

describe('loadFunctionApp', () => {
  it('registers every function with its trigger details', () => {
    const byName = Object.fromEntries(host.functions.map((f) => [f.name, f]));
    expect(Object.keys(byName).sort()).toEqual(
      [
        'boom',
        'echo',
        'everySecond',
        'getFile',
        'getItem',
        'latestItem',
        'list',
        'page',
        'status',
        'tick',
        'tickCount',
        'upload',
      ].sort(),
    );
    expect(byName.getItem).toMatchObject({
      trigger: 'http',
      route: 'items/{id}',
      methods: ['GET'],
      authLevel: 'function',
    });
    expect(byName.boom).toMatchObject({ trigger: 'http', route: 'boom', methods: ['GET'] });
    expect(byName.tick).toMatchObject({ trigger: 'timer', schedule: '0 0 3 * * *' });
    expect(host.routePrefix).toBe('api');
  });

  it('says key checks are off', () => {
    expect(logLines).toContain(
      'Function keys are not checked locally (authLevel is ignored, as with Core Tools).',
    );
  });

  it('refuses to load a second app in the same process', async () => {
    await expect(loadFunctionApp({ appRoot })).rejects.toThrow(/once per process/);
  });
});

describe('routes', () => {
  it('matches parameters and passes the query', async () => {
    const res = await get('/api/items/42?q=hello');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ id: '42', q: 'hello' });
  });

  it('prefers a literal segment to a parameter, case-insensitively, and decodes parameters', async () => {
    expect(await getJson('/api/ITEMS/latest')).toEqual({ latest: true });
    expect(await getJson('/api/items/a%2Fb%20c')).toEqual({ id: 'a/b c', q: null });
  });

  it('gives a catch-all the rest of the path, decoded per segment', async () => {
    expect(await getJson('/api/files/dir/sub%2Fdir/file%20name.txt')).toEqual({
      path: 'dir/sub/dir/file name.txt',
    });
    expect(await getJson('/api/files')).toEqual({ path: null });
  });

  it('orders {registry} before {registry}/{*reference} by precedence, not registration', async () => {
    expect(await getJson('/api/replications/contoso.azurecr.io')).toEqual({
      list: { registry: 'contoso.azurecr.io' },
    });
    expect(await getJson('/api/replications/contoso.azurecr.io/team/app:1.2')).toEqual({
      status: { registry: 'contoso.azurecr.io', reference: 'team/app:1.2' },
    });
  });

  it('matches an optional last parameter with or without it', async () => {
    expect(await getJson('/api/pages')).toEqual({ name: null });
    expect(await getJson('/api/pages/')).toEqual({ name: null });
    expect(await getJson('/api/pages/home')).toEqual({ name: 'home' });
    expect((await get('/api/pages/home/more')).status).toBe(404);
  });

  it('answers 404 for a wrong method, an unknown route or a missing prefix', async () => {
    const post = await fetch(`${baseUrl}/api/items/42`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(404);
    expect((await get('/api/echo')).status).toBe(404);
    expect((await get('/api/nope')).status).toBe(404);
    expect((await get('/items/42')).status).toBe(404);
  });
});

describe('route templates', () => {
  const match = (template: string, path: string) =>
    matchRoute(compileRoute(template), path.split('/'));

  it('matches literal segments with any number of parameters', () => {
    expect(match('azure-pipelines/checks', 'Azure-Pipelines/checks')).toEqual({});
    expect(match('azure-pipelines/checks', 'azure-pipelines')).toBeUndefined();
    expect(
      match('github/environments/{owner}/{repo}/{environment}', 'github/environments/o/r/prod'),
    ).toEqual({ owner: 'o', repo: 'r', environment: 'prod' });
    expect(
      match('github/environments/{owner}/{repo}/{environment}', 'github/environments/o/r'),
    ).toBeUndefined();
    expect(match('gatekeeper/{region}', 'gatekeeper/westus/x')).toBeUndefined();
  });

  it('rejects what the host does not implement, naming the route', () => {
    expect(() => compileRoute('items/{id:int}')).toThrow(
      /route "items\/\{id:int\}": .* not supported/,
    );
    expect(() => compileRoute('items/{id=1}')).toThrow(/not supported/);
    expect(() => compileRoute('items/v{id}')).toThrow(/not supported/);
    expect(() => compileRoute('{*rest}/x')).toThrow(/must be the last segment/);
    expect(() => compileRoute('{name?}/x')).toThrow(/must be the last segment/);
  });
});

describe('requests and responses', () => {
  it('echoes a POSTed JSON body and a header', async () => {
    const res = await fetch(`${baseUrl}/api/echo`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Test': 'abc' },
      body: JSON.stringify({ hello: 'world' }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-echo')).toBe('abc');
    const json = (await res.json()) as { body: unknown; method: string; url: string };
    expect(json.body).toEqual({ hello: 'world' });
    expect(json.method).toBe('POST');
    expect(json.url).toMatch(/^http:\/\/[^/]+\/api\/echo$/);
  });

  it('turns a thrown error into a generic 500 problem and logs the detail', async () => {
    const res = await fetch(`${baseUrl}/api/boom`);
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
    });
    expect(text).not.toContain('secret');
    expect(logLines.some((l) => l.includes('[boom]') && l.includes('secret detail'))).toBe(true);
  });

  it('logs one line per request, without the query, and the handler logs with the function name', async () => {
    await get('/api/items/7?key=secret');
    expect(logLines).toContain('[getItem] item 7');
    const line = logLines.filter((l) => l.startsWith('GET /api/items/7')).pop();
    expect(line).toMatch(/^GET \/api\/items\/7 -> 200 in \d+ms$/);
  });
});

describe('request bodies', () => {
  it('lets a handler refuse a 10 MB upload before it is sent: the host does not read ahead', async () => {
    const answer = await partialUpload(`${baseUrl}/api/upload`, {}, MAX_BODY_BYTES, 64 * 1024);
    expect(answer.status).toBe(401);
    expect(answer.headers.connection).toBe('close');
  });

  it('gives the handler a body of exactly the limit', async () => {
    const res = await fetch(`${baseUrl}/api/upload`, {
      method: 'POST',
      headers: { 'x-key': 'let-me-in' },
      body: Buffer.alloc(MAX_BODY_BYTES, 'x'),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ bytes: MAX_BODY_BYTES });
  });

  it('answers 413 for a declared length over the limit, before the handler runs', async () => {
    const answer = await partialUpload(
      `${baseUrl}/api/upload`,
      { 'x-key': 'let-me-in' },
      MAX_BODY_BYTES + 1,
      0,
    );
    expect(answer.status).toBe(413);
    expect(answer.headers.connection).toBe('close');
  });

  it('answers 413 when a chunked body the handler reads goes over the limit', async () => {
    expect(await chunkedUpload(MAX_BODY_BYTES + 1, { 'x-key': 'let-me-in' })).toBe(413);
    expect(await chunkedUpload(1000, { 'x-key': 'let-me-in' })).toBe(200);
  });
});

describe('timers', () => {
  const ticks = async () =>
    (await getJson('/api/ticks')) as {
      ticks: number;
      lastTimer: { isPastDue: boolean; schedule: unknown; scheduleStatus: { next: string } };
    };

  it('runs a timer on demand with a timer object', async () => {
    const before = await ticks();
    await host.runTimer('tick');
    const after = await ticks();
    expect(after.ticks).toBe(before.ticks + 1);
    expect(after.lastTimer.isPastDue).toBe(false);
    expect(after.lastTimer.schedule).toEqual({ adjustForDST: false });
    expect(new Date(after.lastTimer.scheduleStatus.next).getHours()).toBe(3);
  });

  it('skips a run that overlaps one in progress', async () => {
    const before = await ticks();
    await Promise.all([host.runTimer('tick'), host.runTimer('tick')]);
    expect((await ticks()).ticks).toBe(before.ticks + 1);
    expect(logLines).toContain('[tick] previous run still in progress; skipped');
  });

  it('rejects unknown timers', async () => {
    await expect(host.runTimer('nope')).rejects.toThrow(/No timer function/);
  });

  it('fires timers on their schedule once started', async () => {
    const fired = new Promise<{ isPastDue: boolean; scheduleStatus: { next: string } }>(
      (resolve) => {
        (globalThis as { __miniAppEverySecond?: typeof resolve }).__miniAppEverySecond = resolve;
      },
    );
    host.startTimers();
    const timer = await fired;
    expect(timer.isPastDue).toBe(false);
    expect(Date.parse(timer.scheduleStatus.next) % 1000).toBe(0);
  });
});

describe('NCRONTAB schedules (croner)', () => {
  const at = (text: string): Date => new Date(text);
  const next = (expression: string, after: string) => parseSchedule(expression).nextRun(at(after));

  it("computes the app's schedules", () => {
    expect(next('*/10 * * * * *', '2024-01-01T10:00:07')).toEqual(at('2024-01-01T10:00:10'));
    expect(next('0 * * * * *', '2024-01-01T10:00:07')).toEqual(at('2024-01-01T10:01:00'));
    expect(next('0 */5 * * * *', '2024-01-01T10:00:07')).toEqual(at('2024-01-01T10:05:00'));
  });

  it('finds the next occurrence for steps, lists, ranges and names', () => {
    expect(next('*/15 * * * * *', '2024-01-01T10:00:07')).toEqual(at('2024-01-01T10:00:15'));
    expect(next('0 5,35 9-10 * * *', '2024-01-01T09:35:00')).toEqual(at('2024-01-01T10:05:00'));
    expect(next('0 0 12 * * MON', '2024-01-03T00:00:00')).toEqual(at('2024-01-08T12:00:00'));
    expect(next('0 30 1 29 Feb *', '2024-03-01T00:00:00')).toEqual(at('2028-02-29T01:30:00'));
  });

  it('needs day-of-month and day-of-week both to match, as NCRONTAB does', () => {
    // The 13th that is a Friday, not every 13th and every Friday.
    expect(next('0 0 0 13 * FRI', '2024-01-01T00:00:00')).toEqual(at('2024-09-13T00:00:00'));
  });

  it('rejects malformed expressions', () => {
    expect(() => parseSchedule('* * * * *')).toThrow(
      /Invalid NCRONTAB expression "\* \* \* \* \*"/,
    );
    expect(() => parseSchedule('61 * * * * *')).toThrow(/Invalid NCRONTAB expression "61/);
  });
});

describe('package.json main', () => {
  it('expands * in the file name in sorted order', () => {
    expect(mainFiles(appRoot, 'functions/*.js')).toEqual([
      'functions/boom.js',
      'functions/echo.js',
      'functions/files.js',
      'functions/items.js',
      'functions/tick.js',
      'functions/upload.js',
    ]);
    expect(mainFiles(appRoot, 'functions/echo.js')).toEqual(['functions/echo.js']);
    expect(mainFiles(appRoot, 'functions/missing.js')).toEqual([]);
    expect(() => mainFiles(appRoot, '**/echo.js')).toThrow(/only the file name/);
  });
});
