// Tests the local Functions host against a fixture app, in-process and over real HTTP.
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalHost, LocalHttpRequest } from '../dev/local-host';
import { loadFunctionApp, matchFiles, parseNcrontab } from '../dev/local-host';

const appRoot = path.join(__dirname, 'fixtures', 'mini-app');
const hookEvents = (): string[] =>
  (globalThis as { __miniAppHookEvents?: string[] }).__miniAppHookEvents ?? [];

interface Answer {
  status: number;
  header(name: string): string | undefined;
  text: string;
}

let host: LocalHost;
let baseUrl: string;
const logLines: string[] = [];

beforeAll(async () => {
  host = await loadFunctionApp({ appRoot, log: (line) => logLines.push(line) });
  ({ url: baseUrl } = await host.listen(0));
});

afterAll(async () => {
  await host?.close();
});

/** The same request through dispatch() and over HTTP. */
const transports: [string, (req: LocalHttpRequest) => Promise<Answer>][] = [
  [
    'dispatch',
    async (req) => {
      const res = await host.dispatch(req);
      return { status: res.status, header: (n) => res.headers[n], text: res.text() };
    },
  ],
  [
    'http',
    async (req) => {
      const res = await fetch(baseUrl + req.path, {
        method: req.method,
        headers: req.headers,
        body: req.body,
      });
      const text = await res.text();
      return { status: res.status, header: (n) => res.headers.get(n) ?? undefined, text };
    },
  ],
];

describe('loadFunctionApp', () => {
  it('registers every function with its trigger details', () => {
    const byName = Object.fromEntries(host.functions.map((f) => [f.name, f]));
    expect(Object.keys(byName).sort()).toEqual(
      [
        'boom',
        'echo',
        'getFile',
        'getItem',
        'itemByName',
        'latestItem',
        'tick',
        'tickCount',
      ].sort(),
    );
    expect(byName.getItem).toMatchObject({
      trigger: 'http',
      route: 'items/{id:int}',
      methods: ['GET'],
      authLevel: 'function',
    });
    expect(byName.boom).toMatchObject({ trigger: 'http', route: 'boom', methods: ['GET'] });
    expect(byName.tick).toMatchObject({ trigger: 'timer', schedule: '0 0 3 * * *' });
    expect(host.routePrefix).toBe('api');
  });

  it('runs appStart hooks and says key checks are off', () => {
    expect(hookEvents()).toContain('appStart');
    expect(logLines).toContain(
      'Function keys are not checked locally (authLevel is ignored, as with Core Tools).',
    );
  });

  it('refuses to load a second app in the same process', async () => {
    await expect(loadFunctionApp({ appRoot })).rejects.toThrow(/once per process/);
  });
});

describe.each(transports)('HTTP via %s', (_name, send) => {
  it('matches typed route parameters and passes the query', async () => {
    const res = await send({ method: 'GET', path: '/api/items/42?q=hello' });
    expect(res.status).toBe(200);
    expect(res.header('content-type')).toMatch(/application\/json/);
    expect(JSON.parse(res.text)).toEqual({ id: 42, q: 'hello' });
  });

  it('prefers literals, then constrained parameters, then plain ones', async () => {
    const latest = await send({ method: 'GET', path: '/api/ITEMS/latest' });
    expect(JSON.parse(latest.text)).toEqual({ latest: true });
    const named = await send({ method: 'GET', path: '/api/items/widget' });
    expect(JSON.parse(named.text)).toEqual({ name: 'widget' });
    const decoded = await send({ method: 'GET', path: '/api/items/a%2Fb%20c' });
    expect(JSON.parse(decoded.text)).toEqual({ name: 'a/b c' });
  });

  it('gives a catch-all the rest of the path, decoded per segment', async () => {
    const nested = await send({ method: 'GET', path: '/api/files/dir/sub%2Fdir/file%20name.txt' });
    expect(JSON.parse(nested.text)).toEqual({ path: 'dir/sub/dir/file name.txt' });
    const empty = await send({ method: 'GET', path: '/api/files' });
    expect(JSON.parse(empty.text)).toEqual({ path: null });
  });

  it('echoes a POSTed JSON body, a header and a cookie', async () => {
    const res = await send({
      method: 'POST',
      path: '/api/echo',
      headers: { 'Content-Type': 'application/json', 'X-Test': 'abc' },
      body: JSON.stringify({ hello: 'world' }),
    });
    expect(res.status).toBe(201);
    expect(res.header('x-echo')).toBe('abc');
    expect(res.header('set-cookie')).toBe('seen=1; HttpOnly');
    const json = JSON.parse(res.text) as { body: unknown; method: string; url: string };
    expect(json.body).toEqual({ hello: 'world' });
    expect(json.method).toBe('POST');
    expect(json.url).toMatch(/^http:\/\/[^/]+\/api\/echo$/);
  });

  it('answers 404 for a wrong method, an unknown route or a missing prefix', async () => {
    expect((await send({ method: 'POST', path: '/api/items/42', body: '{}' })).status).toBe(404);
    expect((await send({ method: 'GET', path: '/api/echo' })).status).toBe(404);
    expect((await send({ method: 'GET', path: '/api/nope' })).status).toBe(404);
    expect((await send({ method: 'GET', path: '/items/42' })).status).toBe(404);
  });

  it('turns a thrown error into a generic 500 problem', async () => {
    const res = await send({ method: 'GET', path: '/api/boom' });
    expect(res.status).toBe(500);
    expect(res.header('content-type')).toBe('application/problem+json');
    expect(JSON.parse(res.text)).toEqual({
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
    });
    expect(res.text).not.toContain('secret');
    expect(logLines.some((l) => l.includes('[boom]') && l.includes('secret detail'))).toBe(true);
  });
});

describe('logging and hooks', () => {
  it('logs one line per request and the handler logs with the function name', async () => {
    await host.dispatch({ method: 'GET', path: '/api/items/7?key=secret' });
    expect(logLines).toContain('[getItem] item 7');
    const line = logLines.filter((l) => l.startsWith('GET /api/items/7')).pop();
    expect(line).toMatch(/^GET \/api\/items\/7 -> 200 in \d+ms$/);
    expect(hookEvents()).toContain('pre:getItem');
  });
});

describe('timers', () => {
  it('runs a timer on demand with a timer object', async () => {
    const before = (await host.dispatch({ method: 'GET', path: '/api/ticks' })).json() as {
      ticks: number;
    };
    await host.runTimer('tick');
    const after = (await host.dispatch({ method: 'GET', path: '/api/ticks' })).json() as {
      ticks: number;
      lastTimer: { isPastDue: boolean; schedule: unknown; scheduleStatus: { next: string } };
    };
    expect(after.ticks).toBe(before.ticks + 1);
    expect(after.lastTimer.isPastDue).toBe(false);
    expect(after.lastTimer.schedule).toEqual({ adjustForDST: false });
    expect(new Date(after.lastTimer.scheduleStatus.next).getHours()).toBe(3);
  });

  it('skips a run that overlaps one in progress', async () => {
    const before = (await host.dispatch({ method: 'GET', path: '/api/ticks' })).json() as {
      ticks: number;
    };
    await Promise.all([host.runTimer('tick'), host.runTimer('tick')]);
    const after = (await host.dispatch({ method: 'GET', path: '/api/ticks' })).json() as {
      ticks: number;
    };
    expect(after.ticks).toBe(before.ticks + 1);
  });

  it('rejects unknown timers and schedules without firing early', async () => {
    await expect(host.runTimer('nope')).rejects.toThrow(/No timer function/);
    host.startTimers();
  });
});

describe('NCRONTAB', () => {
  const at = (text: string): Date => new Date(text);

  it('finds the next occurrence for steps, lists, ranges and names', () => {
    expect(parseNcrontab('*/15 * * * * *').next(at('2024-01-01T10:00:07'))).toEqual(
      at('2024-01-01T10:00:15'),
    );
    expect(parseNcrontab('0 5,35 9-10 * * *').next(at('2024-01-01T09:35:00'))).toEqual(
      at('2024-01-01T10:05:00'),
    );
    expect(parseNcrontab('0 0 12 * * MON').next(at('2024-01-03T00:00:00'))).toEqual(
      at('2024-01-08T12:00:00'),
    );
    expect(parseNcrontab('0 30 1 29 Feb *').next(at('2024-03-01T00:00:00'))).toEqual(
      at('2028-02-29T01:30:00'),
    );
  });

  it('rejects malformed expressions', () => {
    expect(() => parseNcrontab('* * * * *')).toThrow(/6 fields/);
    expect(() => parseNcrontab('61 * * * * *')).toThrow(/second value "61"/);
  });
});

describe('matchFiles', () => {
  it('expands * and ** in sorted order', () => {
    expect(matchFiles(appRoot, 'functions/*.js')).toEqual([
      'functions/boom.js',
      'functions/echo.js',
      'functions/files.js',
      'functions/hooks.js',
      'functions/items.js',
      'functions/tick.js',
    ]);
    expect(matchFiles(appRoot, '**/echo.js')).toEqual(['functions/echo.js']);
    expect(matchFiles(appRoot, 'functions/missing.js')).toEqual([]);
  });
});

describe('close', () => {
  it('stops the server and runs appTerminate hooks', async () => {
    await host.close();
    expect(hookEvents()).toContain('appTerminate');
    await expect(fetch(`${baseUrl}/api/items/1`)).rejects.toThrow();
  });
});
