// Property-based fuzzing over HTTP: never a 5xx, and only events our own schema accepts change state.
import type { CosmosClient } from '@azure/cosmos';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../../src/http/handle';
import { acrEventSchema, ignoredAction } from '../../src/replication/acr-event';
import { ADMIN_TOKEN, READ_TOKEN, useApp, WEBHOOK_TOKEN } from '../support/app-host';
import { directClient } from '../support/cosmos';

const ROTATED_TOKEN = 'fuzz-rotated-webhook-token-0001';
const REGISTRY = 'fuzz.azurecr.io';
/** Read by the status-route properties; nothing is ever written to it, so every answer is 400 or 404. */
const UNWRITTEN_REGISTRY = 'never-written.azurecr.io';
const HOOK = '/api/webhooks/acr/westus';
/** Fixed, so a failure replays; fast-check prints it (and the shrunk case) when a property fails. */
const SEED = 20260314;

const app = useApp({ WEBHOOK_TOKENS: `${ROTATED_TOKEN},${WEBHOOK_TOKEN}` });
let cosmos: CosmosClient;
const seen: string[] = [];

beforeAll(async () => {
  cosmos = directClient(app.cosmos);
  // The app creates its container on first use; the snapshots need it to exist.
  expect((await app.call(`/api/replications/${REGISTRY}`)).status).toBe(200);
}, 60_000);

let lastSnapshot: string[] | undefined;
/** So the properties can show they reached both sides of the oracle. */
const answered = { accepted: 0, refused: 0, writes: 0 };

/** Every item with its ETag: any write changes it. */
async function storeSnapshot(): Promise<string[]> {
  const { resources } = await cosmos
    .database(app.database)
    .container('replication')
    .items.query<{ id: string; pk: string; _etag: string }>('SELECT c.id, c.pk, c._etag FROM c')
    .fetchAll();
  return resources.map((r) => `${r.pk} ${r.id} ${r._etag}`).sort();
}

async function answer(response: Response) {
  const text = await response.text();
  seen.push(text);
  return { status: response.status, contentType: response.headers.get('content-type'), text };
}

/** An error answer is RFC 9457 problem+json that says what went wrong. */
function expectProblem(res: { status: number; contentType: string | null; text: string }) {
  expect(res.contentType).toBe('application/problem+json');
  expect(JSON.parse(res.text)).toMatchObject({
    status: res.status,
    title: expect.any(String) as unknown,
    detail: expect.stringMatching(/\S/) as unknown,
  });
}

/** Containers nested in a JSON value, without recursion. */
function depthOf(value: unknown): number {
  let deepest = 0;
  const pending: [unknown, number][] = [[value, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, depth] = next;
    if (typeof item !== 'object' || item === null) continue;
    deepest = Math.max(deepest, depth);
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return deepest;
}

// Characters that break parsers and validators: controls, lone surrogates, direction overrides, separators.
const hostileChar = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
  {
    weight: 2,
    arbitrary: fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '\u0000',
      '\u001f',
      '\u202e',
      '\u200b',
      '\ufeff',
      '\ud800',
      '\udfff',
      '\u{1f680}',
      '/',
      ':',
      '@',
      '%',
      '.',
      '..',
      '\\',
      '"',
      '\n',
      '?',
      '#',
    ),
  },
);
const hostileString = fc.string({ unit: hostileChar, maxLength: 40 });
const jsonValue = fc.jsonValue({ maxDepth: 4, stringUnit: hostileChar });

const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });
const validTag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,20}$/);
const validRepository = fc.stringMatching(/^[a-z0-9]{1,8}(\/[a-z0-9]{1,8}){0,2}$/);

/** Values that are sometimes valid where they land, so mutations reach the 202 path too. */
const replacement = fc.oneof(
  { weight: 4, arbitrary: jsonValue },
  { weight: 1, arbitrary: hostileString },
  {
    weight: 1,
    arbitrary: fc.constantFrom('push', 'delete', 'quarantine', 'ping', 'chart_push', 'Push', ''),
  },
  { weight: 1, arbitrary: validTag },
  { weight: 1, arbitrary: hex(64).map((h) => `sha256:${h}`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '2026-03-14T09:26:53.589793238Z',
      '2026-03-14T10:26:53+01:00',
      '2026-02-30T00:00:00+01:00',
      '2026-03-14T24:00:00+00:00',
      '2026-03-14 09:26:53Z',
      'contoso.azurecr.io',
      'CONTOSO.azurecr.io:443',
    ),
  },
);

const PATHS = [
  'id',
  'timestamp',
  'action',
  'target',
  'request',
  'target.mediaType',
  'target.size',
  'target.length',
  'target.digest',
  'target.repository',
  'target.tag',
  'request.id',
  'request.host',
  'request.method',
  'request.useragent',
] as const;
const PARENTS = ['', 'target', 'request'] as const;

type Mutation =
  | { kind: 'drop'; path: (typeof PATHS)[number] }
  | { kind: 'replace'; path: (typeof PATHS)[number]; value: unknown }
  | { kind: 'insert'; parent: (typeof PARENTS)[number]; key: string; value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('drop' as const), path: fc.constantFrom(...PATHS) }),
  fc.record({
    kind: fc.constant('replace' as const),
    path: fc.constantFrom(...PATHS),
    value: replacement,
  }),
  fc.record({
    kind: fc.constant('insert' as const),
    parent: fc.constantFrom(...PARENTS),
    key: fc.oneof(
      hostileString,
      fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', '_etag', 'id', ''),
    ),
    value: replacement,
  }),
);

const basePush = fc.record({
  id: fc.uuid(),
  repository: validRepository,
  tag: validTag,
  digest: hex(64).map((h) => `sha256:${h}`),
});

type Json = Record<string, unknown>;

function aPush(base: { id: string; repository: string; tag: string; digest: string }): Json {
  return {
    id: base.id,
    timestamp: '2026-03-14T09:26:53.589793238Z',
    action: 'push',
    target: {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      size: 1042,
      length: 1042,
      digest: base.digest,
      repository: base.repository,
      tag: base.tag,
    },
    request: { id: 'r1', host: REGISTRY, method: 'PUT', useragent: 'docker/27.0.3' },
  };
}

const isRecord = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Applies mutations where their parent is still an object; own properties only, `__proto__` included. */
function mutate(event: Json, mutations: readonly Mutation[]): Json {
  const copy = structuredClone(event);
  for (const m of mutations) {
    const path =
      m.kind !== 'insert' ? m.path.split('.') : m.parent === '' ? [m.key] : [m.parent, m.key];
    const key = path.at(-1) ?? '';
    const parent = path.slice(0, -1).reduce<unknown>((at, p) => (isRecord(at) ? at[p] : at), copy);
    if (!isRecord(parent)) continue;
    if (m.kind === 'drop') delete parent[key];
    else {
      Object.defineProperty(parent, key, {
        value: m.value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  return copy;
}

/**
 * POSTs a JSON value and checks the answer against our own schema, the oracle. With `perRun`,
 * a refused body must leave the store as it was; without, the caller checks once for all runs.
 */
async function postAndCheck(body: unknown, perRun: boolean): Promise<void> {
  const text = JSON.stringify(body);
  const parsed = JSON.parse(text) as unknown;
  const event = acrEventSchema.safeParse(parsed);
  // Chart and (uncounted) quarantine events are acknowledged by their action alone.
  const ignored = ignoredAction(parsed, { countQuarantine: false }) !== undefined;
  const acceptable = (event.success || ignored) && depthOf(parsed) <= MAX_JSON_DEPTH;
  // One snapshot per run: the store as the previous run left it (nothing else writes to it).
  const before = perRun ? (lastSnapshot ??= await storeSnapshot()) : [];
  lastSnapshot = undefined;
  const res = await answer(
    await app.call(HOOK, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: text,
    }),
  );
  expect(res.status).toBeLessThan(500);
  if (acceptable) {
    expect([200, 202]).toContain(res.status);
    answered.accepted++;
    if (!ignored && (event.data?.action === 'push' || event.data?.action === 'delete')) {
      answered.writes++;
    }
    return;
  }
  answered.refused++;
  expect([400, 413, 415]).toContain(res.status);
  expectProblem(res);
  if (!perRun) return;
  const after = await storeSnapshot();
  expect(after).toEqual(before);
  lastSnapshot = after;
}

/** Percent-encodes every byte but unreserved characters, `:` and `@` (so `/` too: one segment). */
function encodeSegment(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_~:@]/.test(char)
      ? char
      : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const utf8 = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));
/** A string or raw bytes (not always UTF-8) for one path segment or more. */
const pathBytes = fc.oneof(
  hostileString.map(utf8),
  fc.uint8Array({ maxLength: 30 }),
  fc
    .tuple(validRepository, fc.constantFrom(':', '@', '::', '@sha256:', ':@'), hostileString)
    .map(([repository, separator, rest]) => utf8(`${repository}${separator}${rest}`)),
);
// Segments that decode to `.` or `..` are dot segments: the URL parser removes them before routing.
const isDotSegment = (segment: string) => /^(\.|%2E){1,2}$/i.test(segment);

describe('fuzzing the ACR receiver', () => {
  it('answers arbitrary JSON with 2xx only when our schema accepts it, else problem+json', async () => {
    const start = { ...answered };
    const before = await storeSnapshot();
    await fc.assert(
      fc.asyncProperty(jsonValue, (value) => postAndCheck(value, false)),
      {
        numRuns: 150,
        seed: SEED,
        examples: [[null], [[]], ['push'], [{ action: 'ping' }], [{ action: 'chart_push' }]],
      },
    );
    // Arbitrary JSON is at most a ping or an ignored event: nothing at all may have been written.
    expect(answered.writes - start.writes).toBe(0);
    expect(await storeSnapshot()).toEqual(before);
  });

  it('answers mutated push events with 2xx only when our schema accepts them; a 4xx changes nothing', async () => {
    const start = { ...answered };
    // The first run snapshots the store as this test finds it.
    lastSnapshot = undefined;
    await fc.assert(
      fc.asyncProperty(
        basePush,
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        (base, mutations) => postAndCheck(mutate(aPush(base), mutations), true),
      ),
      {
        numRuns: 200,
        seed: SEED,
        // Regressions: Feb 30 at an offset got a 202, and deep nesting a 503 (now 400 past
        // MAX_JSON_DEPTH); an own `__proto__` member must not turn a push into something else.
        examples: [
          [
            {
              id: '5b0c1e8e-0000-4000-8000-000000000001',
              repository: 'r',
              tag: 't',
              digest: `sha256:${'0'.repeat(64)}`,
            },
            [{ kind: 'replace', path: 'timestamp', value: '2026-02-30T00:00:00+01:00' }],
          ],
          [
            {
              id: '5b0c1e8e-0000-4000-8000-000000000002',
              repository: 'r',
              tag: 't',
              digest: `sha256:${'1'.repeat(64)}`,
            },
            [
              {
                kind: 'insert',
                parent: 'target',
                key: 'x',
                value: JSON.parse('['.repeat(40) + ']'.repeat(40)) as unknown,
              },
            ],
          ],
          [
            {
              id: '5b0c1e8e-0000-4000-8000-000000000003',
              repository: 'r',
              tag: 't',
              digest: `sha256:${'2'.repeat(64)}`,
            },
            [{ kind: 'insert', parent: '', key: '__proto__', value: { action: 'ping' } }],
          ],
        ],
      },
    );
    expect(answered.writes - start.writes).toBeGreaterThan(20);
    expect(answered.refused - start.refused).toBeGreaterThan(100);
  });
});

describe('fuzzing the status route', () => {
  it('answers arbitrary references with 400 or 404 problem+json', async () => {
    const reference = fc.oneof(
      pathBytes.map((bytes) => encodeSegment(bytes)),
      fc
        .array(
          pathBytes.map((bytes) => encodeSegment(bytes)),
          { minLength: 1, maxLength: 4 },
        )
        .map((segments) => segments.join('/')),
    );
    await fc.assert(
      fc.asyncProperty(
        reference.filter((r) => r.replace(/\//g, '') !== '' && !r.split('/').some(isDotSegment)),
        async (encoded) => {
          const res = await answer(
            await app.call(`/api/replications/${UNWRITTEN_REGISTRY}/${encoded}`),
          );
          expect([400, 404]).toContain(res.status);
          expectProblem(res);
        },
      ),
      {
        numRuns: 150,
        seed: SEED,
        examples: [['..%2F..'], ['%00'], ['a//b:c'], ['a:b/c'], ['@sha256:'], ['a%ED%A0%80:b']],
      },
    );
  });

  it('answers arbitrary registries with 400 or 404 problem+json', async () => {
    await fc.assert(
      fc.asyncProperty(
        pathBytes.map((bytes) => encodeSegment(bytes)).filter((r) => r !== '' && !isDotSegment(r)),
        async (registry) => {
          const res = await answer(
            await app.call(`/api/replications/${registry}/never/recorded:x`),
          );
          expect([400, 404]).toContain(res.status);
          expectProblem(res);
        },
      ),
      { numRuns: 100, seed: SEED, examples: [['con_toso'], ['%00'], ['a%2Fb'], ['A.AZURECR.IO']] },
    );
  });

  it('leaves no token in any log line or answer', async () => {
    // Answers of its own, whatever ran before: every token (and a wrong one) on the receiver and
    // the status route, refused, accepted and stored alike.
    const from = seen.length;
    const bearer = fc.constantFrom(
      WEBHOOK_TOKEN,
      ROTATED_TOKEN,
      READ_TOKEN,
      ADMIN_TOKEN,
      'not-a-token-of-ours-0123456789',
    );
    const body = fc.oneof(
      jsonValue,
      fc
        .tuple(basePush, fc.array(mutation, { maxLength: 2 }))
        .map(([base, mutations]) => mutate(aPush(base), mutations)),
    );
    await fc.assert(
      fc.asyncProperty(body, bearer, async (value, token) => {
        const res = await answer(
          await app.call(HOOK, {
            method: 'POST',
            token,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(value),
          }),
        );
        expect(res.status).toBeLessThan(500);
      }),
      { numRuns: 300, seed: SEED },
    );
    await fc.assert(
      fc.asyncProperty(
        pathBytes.map((bytes) => encodeSegment(bytes)).filter((r) => r !== '' && !isDotSegment(r)),
        bearer,
        async (encoded, token) => {
          const res = await answer(
            await app.call(`/api/replications/${UNWRITTEN_REGISTRY}/${encoded}`, { token }),
          );
          expect(res.status).toBeLessThan(500);
        },
      ),
      { numRuns: 260, seed: SEED },
    );
    expect(seen.length - from).toBeGreaterThan(550);
    for (const token of [WEBHOOK_TOKEN, ROTATED_TOKEN, ADMIN_TOKEN, READ_TOKEN]) {
      expect(app.logs.filter((line) => line.includes(token))).toEqual([]);
      expect(seen.filter((body) => body.includes(token))).toEqual([]);
    }
  });
});
