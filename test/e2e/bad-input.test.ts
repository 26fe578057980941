// Hostile and broken requests to the running app: refused with problem+json, never a 5xx, nothing stored.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  READ_TOKEN,
  startApp,
  WEBHOOK_TOKEN,
  type RunningApp,
} from '../support/app-host';
import { aPushEvent } from '../support/fixtures';

const ROTATED_TOKEN = 'bad-input-rotated-webhook-token-0001';
const REGISTRY = 'bad-input.azurecr.io';
const REPO = 'bad-input/rows';
const HOOK = '/api/webhooks/acr/westus';
const SUBSCRIPTION_SECRET = `whsec_${Buffer.from('bad-input subscription secret!!').toString('base64')}`;
const HEADER_SECRET = 'hdr-secret-bad-input-5f2b9c0d3e4a';
/** Controls accepted before the rows: the only tags that may exist afterwards. */
const CONTROL_TAGS = ['control', 'control-nested-32'];
const MAX_BODY_BYTES = 65536;

interface RawRequest {
  method?: string;
  /** Sent as is (no client-side normalisation), query string included. */
  path: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  /** Sends the body in 1 KiB chunks without a content-length. */
  chunked?: boolean;
}

interface RawResponse {
  status: number;
  contentType: string | undefined;
  text: string;
}

interface Expected {
  status: number;
  /** Must be in `errors[].field`, and in `detail` unless it is `(body)` (then `detail` is checked). */
  field?: string;
  title?: string;
  detail?: RegExp;
  /** No route matches, so the host answers an empty 404 before any function runs (as Azure does). */
  byHost?: true;
}

interface Row extends Expected {
  name: string;
  /** The tag this request would have recorded, were it accepted: distinct per row. */
  tag: string;
  request: RawRequest;
}

interface Problem {
  type: string;
  status: number;
  title: string;
  detail: string;
  errors?: { field: string; detail: string }[];
}

type Event = Record<string, unknown>;

let app: RunningApp;
/** Every response body of this file but the one that shows a new subscription's secret. */
const seen: string[] = [];

/** Over plain node:http, so paths, duplicate headers and bytes go out exactly as written. */
function send(req: RawRequest, record = true): Promise<RawResponse> {
  const { hostname, port } = new URL(app.url);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      { hostname, port, method: req.method ?? 'POST', path: req.path, headers: req.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (record) seen.push(text);
          resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], text });
        });
      },
    );
    outgoing.on('error', reject);
    const body = req.body === undefined ? undefined : Buffer.from(req.body);
    if (body && req.chunked) {
      for (let at = 0; at < body.length; at += 1024) outgoing.write(body.subarray(at, at + 1024));
      outgoing.end();
    } else {
      outgoing.end(body);
    }
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const hookHeaders = { 'content-type': 'application/json', ...bearer(WEBHOOK_TOKEN) };
const admin = bearer(ADMIN_TOKEN);
const part = (event: Event, key: 'target' | 'request') => event[key] as Record<string, unknown>;
const nested = (levels: number): string => '['.repeat(levels) + ']'.repeat(levels);
/** A valid event's JSON text with one more top-level member, written as raw JSON. */
const withMember = (event: Event, name: string, rawJson: string): string =>
  `${JSON.stringify(event).slice(0, -1)},${JSON.stringify(name)}:${rawJson}}`;

let rowCount = 0;
const nextTag = () => `row-${String(++rowCount).padStart(3, '0')}`;

/** A valid push of `tag`, to which `change` then does something. */
function pushOf(tag: string, change: (event: Event) => void = () => {}): Event {
  const event = aPushEvent({ registry: REGISTRY, repository: REPO, tag });
  change(event);
  return event;
}

/** A webhook whose JSON body `change` breaks. */
function badEvent(name: string, change: (event: Event) => void, expected: Expected): Row {
  const tag = nextTag();
  const body = JSON.stringify(pushOf(tag, change));
  return { name, tag, request: { path: HOOK, headers: hookHeaders, body }, ...expected };
}

/** A webhook whose body is made from a valid event of the row's tag, but is not a valid JSON event. */
function badBody(
  name: string,
  body: (event: Event) => string | Buffer,
  expected: Expected,
  headers: Record<string, string> = hookHeaders,
): Row {
  const tag = nextTag();
  return { name, tag, request: { path: HOOK, headers, body: body(pushOf(tag)) }, ...expected };
}

/** A valid event of the row's tag, sent with a broken request line or headers. */
function badRequest(
  name: string,
  request: { path?: string; headers: Record<string, string | string[]> },
  expected: Expected,
): Row {
  const tag = nextTag();
  return {
    name,
    tag,
    request: { path: HOOK, ...request, body: JSON.stringify(pushOf(tag)) },
    ...expected,
  };
}

/** A read of the row's (never recorded) tag through a broken path or query. */
function badRead(
  name: string,
  path: (tag: string) => string,
  expected: Expected,
  headers: Record<string, string | string[]> = bearer(READ_TOKEN),
): Row {
  const tag = nextTag();
  return { name, tag, request: { method: 'GET', path: path(tag), headers }, ...expected };
}

const status = (reference: string, query = '') =>
  `/api/replications/${REGISTRY}/${reference}${query}`;
const hex64 = 'a'.repeat(64);
const forbidden: Expected = { status: 403, title: 'Forbidden', detail: /admin token/ };
const readForbidden: Expected = {
  status: 403,
  title: 'Forbidden',
  detail: /needs a read or admin token: webhook tokens only deliver arrivals/,
};
const unauthorized: Expected = { status: 401, title: 'Unauthorized', detail: /bearer token/ };
const notUtf8: Expected = { status: 400, title: 'Invalid body', detail: /not valid UTF-8/ };
const malformed: Expected = {
  status: 400,
  title: 'Invalid JSON',
  field: '(body)',
  detail: /not valid JSON/,
};
const unsupported: Expected = { status: 415, field: 'content-type' };
/** Auth is checked first: a 400 for the region proves the token was accepted. */
const regionAfterAuth: Expected = { status: 400, field: 'path.region' };
// Filled in beforeAll: the subscription the admin rows try to read and delete.
const subscription = { id: '00000000-0000-4000-8000-000000000000' };

const rows: Row[] = [
  // Not JSON, or not an object.
  badBody('malformed JSON', () => '{"id": "x", "action": push}', malformed),
  badBody('truncated JSON', (e) => JSON.stringify(e).slice(0, -12), malformed),
  badBody('JSON followed by garbage', (e) => `${JSON.stringify(e)} trailing`, malformed),
  badBody('an empty body', () => '', malformed),
  badBody('a JSON array of events', (e) => JSON.stringify([e]), { status: 400, field: '(body)' }),
  badBody('a JSON string', () => '"push"', { status: 400, field: '(body)' }),
  badBody('a JSON number', () => '42', { status: 400, field: '(body)' }),
  badBody('JSON null', () => 'null', { status: 400, field: '(body)' }),
  badBody(
    'a raw control character inside a JSON string',
    (e) => JSON.stringify(e).replace('"PUT"', '"P\u0001T"'),
    malformed,
  ),

  // Content types.
  badBody('text/plain', (e) => JSON.stringify(e), unsupported, {
    ...hookHeaders,
    'content-type': 'text/plain',
  }),
  badBody('a form', (e) => `payload=${encodeURIComponent(JSON.stringify(e))}`, unsupported, {
    ...hookHeaders,
    'content-type': 'application/x-www-form-urlencoded',
  }),
  badBody('no content-type', (e) => JSON.stringify(e), unsupported, bearer(WEBHOOK_TOKEN)),
  badBody('JSON inside multipart/form-data', (e) => JSON.stringify(e), unsupported, {
    ...hookHeaders,
    'content-type': 'multipart/form-data; boundary=x',
  }),
  badBody('application/json-patch+json', (e) => JSON.stringify(e), unsupported, {
    ...hookHeaders,
    'content-type': 'application/json-patch+json',
  }),

  // Wrong types.
  badEvent('timestamp as a number', (e) => (e.timestamp = 1773480413), {
    status: 400,
    field: 'timestamp',
  }),
  badEvent('target as a string', (e) => (e.target = `${REPO}:x`), { status: 400, field: 'target' }),
  badEvent('size as a string', (e) => (part(e, 'target').size = '1042'), {
    status: 400,
    field: 'target.size',
  }),
  badEvent('a negative size', (e) => (part(e, 'target').size = -1), {
    status: 400,
    field: 'target.size',
  }),
  badEvent('tag as a number', (e) => (part(e, 'target').tag = 12), {
    status: 400,
    field: 'target.tag',
  }),
  badEvent('action as an array', (e) => (e.action = ['push']), { status: 400, field: 'action' }),
  badEvent('an unknown action', (e) => (e.action = 'PUSH'), { status: 400, field: 'action' }),
  badEvent('request.host as an object', (e) => (part(e, 'request').host = { name: REGISTRY }), {
    status: 400,
    field: 'request.host',
  }),

  // Missing fields.
  badEvent('no id', (e) => delete e.id, { status: 400, field: 'id' }),
  badEvent('no timestamp', (e) => delete e.timestamp, { status: 400, field: 'timestamp' }),
  badEvent('no action', (e) => delete e.action, { status: 400, field: 'action' }),
  badEvent('no target', (e) => delete e.target, { status: 400, field: 'target' }),
  badEvent('no target.digest', (e) => delete part(e, 'target').digest, {
    status: 400,
    field: 'target.digest',
  }),
  badEvent('no target.repository', (e) => delete part(e, 'target').repository, {
    status: 400,
    field: 'target.repository',
  }),
  badEvent('no request', (e) => delete e.request, { status: 400, field: 'request' }),
  badEvent('no request.host', (e) => delete part(e, 'request').host, {
    status: 400,
    field: 'request.host',
  }),
  badEvent('an empty id', (e) => (e.id = ''), { status: 400, field: 'id' }),

  // Repositories.
  ...[
    ['upper case', 'Bad-Input/Rows'],
    ['a .. component', 'bad-input/../rows'],
    ['a leading /', `/${REPO}`],
    ['a trailing /', `${REPO}/`],
    ['an empty component', 'bad-input//rows'],
    ['300 characters', `bad-input/${'r'.repeat(290)}`],
    ['a NUL', 'bad-input/ro\u0000ws'],
    ['a right-to-left override', 'bad-input/\u202erows'],
    ['a Cyrillic homoglyph', 'bad-input/r\u043ews'],
  ].map(([what, repository]) =>
    badEvent(`a repository with ${what}`, (e) => (part(e, 'target').repository = repository), {
      status: 400,
      field: 'target.repository',
    }),
  ),

  // Tags.
  ...[
    ['129 characters', 't'.repeat(129)],
    ['a leading .', '.hidden'],
    ['a /', 'v1/extra'],
    ['a :', 'v1:extra'],
    ['an emoji', 'v1-\u{1f680}'],
    ['a NUL', 'v1\u0000'],
    ['a lone surrogate (escaped in JSON)', 'v1-\ud800'],
    ['a zero-width space', 'v1\u200b'],
  ].map(([what, tag]) =>
    badEvent(`a tag with ${what}`, (e) => (part(e, 'target').tag = tag), {
      status: 400,
      field: 'target.tag',
    }),
  ),

  // Digests.
  ...[
    ['no algorithm', hex64],
    ['a short hex', 'sha256:abc123'],
    ['upper-case sha256 hex', `sha256:${'A'.repeat(64)}`],
    ['63 hex digits', `sha256:${'a'.repeat(63)}`],
    ['65 hex digits', `sha256:${'a'.repeat(65)}`],
    ['300 characters', `sha512:${'a'.repeat(293)}`],
    ['an empty algorithm', `:${hex64}`],
  ].map(([what, digest]) =>
    badEvent(`a digest with ${what}`, (e) => (part(e, 'target').digest = digest), {
      status: 400,
      field: 'target.digest',
    }),
  ),

  // Timestamps.
  ...[
    ['a space for T', '2026-03-14 09:26:53Z'],
    ['a day-first date', '14/03/2026 09:26:53'],
    ['no zone', '2026-03-14T09:26:53'],
    ['ten fractional digits', '2026-03-14T09:26:53.5897932381Z'],
    ['February 30th', '2026-02-30T00:00:00Z'],
    ['February 30th at an offset', '2026-02-30T00:00:00+01:00'],
    ['24:00 at an offset', '2026-03-14T24:00:00+00:00'],
    ['a leap second', '2026-03-14T23:59:60Z'],
    ['month 13', '2026-13-01T00:00:00Z'],
    ['an offset of 25 hours', '2026-03-14T09:26:53+25:00'],
    ['an offset past year 9999', '9999-12-31T23:59:59-01:00'],
    ['an offset before year 0001', '0000-01-01T00:00:00+01:00'],
    ['year 0000', '0000-01-01T00:00:00Z'],
    ['words', 'yesterday'],
  ].map(([what, timestamp]) =>
    badEvent(`a timestamp with ${what}`, (e) => (e.timestamp = timestamp), {
      status: 400,
      field: 'timestamp',
    }),
  ),

  // Over-long values and hostile hosts.
  badEvent('an id of 201 characters', (e) => (e.id = 'i'.repeat(201)), {
    status: 400,
    field: 'id',
  }),
  badEvent('a 300-character host', (e) => (part(e, 'request').host = `${'h'.repeat(290)}.io`), {
    status: 400,
    field: 'request.host',
  }),
  badEvent('a host with a NUL', (e) => (part(e, 'request').host = 'bad\u0000input.azurecr.io'), {
    status: 400,
    field: 'request.host',
  }),
  badEvent('a host with an emoji', (e) => (part(e, 'request').host = '\u{1f680}.azurecr.io'), {
    status: 400,
    field: 'request.host',
  }),
  badEvent('a host with a path', (e) => (part(e, 'request').host = `${REGISTRY}/x`), {
    status: 400,
    field: 'request.host',
  }),
  badEvent(
    'a mediaType of 201 characters',
    (e) => (part(e, 'target').mediaType = 'm'.repeat(201)),
    {
      status: 400,
      field: 'target.mediaType',
    },
  ),
  badEvent(
    'a useragent of 1001 characters',
    (e) => (part(e, 'request').useragent = 'u'.repeat(1001)),
    {
      status: 400,
      field: 'request.useragent',
    },
  ),

  // Nesting and size.
  badBody(
    '10 000 levels of arrays in an unknown field',
    (e) => withMember(e, 'x', nested(10_000)),
    {
      status: 400,
      title: 'Invalid body',
      field: 'x',
    },
  ),
  badBody(
    '10 000 levels of objects in an unknown field',
    (e) => withMember(e, 'y', `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`),
    { status: 400, title: 'Invalid body', field: 'y' },
  ),
  badBody('one level over the nesting limit', (e) => withMember(e, 'z', nested(32)), {
    status: 400,
    field: 'z',
  }),
  badBody('10 000 levels of arrays as the body', () => nested(10_000), {
    status: 400,
    field: '0',
  }),
  badBody('a body over the limit', (e) => withMember(e, 'pad', `"${'p'.repeat(MAX_BODY_BYTES)}"`), {
    status: 413,
    title: 'Payload Too Large',
    detail: /at most 65536 bytes/,
  }),
  ((tag) => ({
    name: 'a chunked body over the limit (no content-length)',
    tag,
    request: {
      path: HOOK,
      headers: hookHeaders,
      body: withMember(pushOf(tag), 'pad', `"${'p'.repeat(2 * MAX_BODY_BYTES)}"`),
      chunked: true,
    },
    status: 413,
    title: 'Payload Too Large',
  }))(nextTag()),

  // Bytes that are not UTF-8.
  badBody(
    'a lone surrogate as raw bytes (CESU-8)',
    (e) => {
      const [before = '', after = ''] = JSON.stringify(e).replace('"PUT"', '"P@@T"').split('@@');
      return Buffer.concat([
        Buffer.from(before),
        Buffer.from([0xed, 0xa0, 0x80]),
        Buffer.from(after),
      ]);
    },
    notUtf8,
  ),
  badBody(
    'an overlong encoding of /',
    (e) => {
      const text = JSON.stringify(e).replace(`"${REPO}"`, '"bad-input@@rows"');
      const [before = '', after = ''] = text.split('@@');
      return Buffer.concat([Buffer.from(before), Buffer.from([0xc0, 0xaf]), Buffer.from(after)]);
    },
    notUtf8,
  ),
  badBody(
    'a multi-byte sequence cut short',
    (e) => {
      return Buffer.concat([
        Buffer.from(JSON.stringify(e).slice(0, -1)),
        Buffer.from([0xe2, 0x82]),
      ]);
    },
    notUtf8,
  ),
  badBody(
    'Latin-1 bytes',
    (e) => Buffer.from(JSON.stringify(e).replace('PUT', 'P\u00e9T'), 'latin1'),
    notUtf8,
  ),

  // Region names in the path (the body is a valid push).
  ...[
    ['west-us', 'west-us'],
    ['WEST US', 'WEST%20US'],
    ['50 characters', 'w'.repeat(50)],
    ['../x, encoded', '..%2Fx'],
    ['a NUL', 'westus%00'],
    ['a zero-width space', 'west%E2%80%8Bus'],
    ['invalid UTF-8', '%ED%A0%80'],
    ['one character', 'w'],
  ].map(([what, region]) =>
    badRequest(
      `region ${what}`,
      { path: `/api/webhooks/acr/${region}`, headers: hookHeaders },
      {
        status: 400,
        field: 'path.region',
      },
    ),
  ),
  badRequest(
    'region %2e%2e (a dot segment)',
    { path: '/api/webhooks/acr/%2e%2e', headers: hookHeaders },
    {
      status: 404,
      byHost: true,
    },
  ),
  badRequest(
    'region ../x, raw',
    { path: '/api/webhooks/acr/../x', headers: hookHeaders },
    {
      status: 404,
      byHost: true,
    },
  ),

  // Tokens on the receiver (the body is a valid push).
  badRequest(
    'no Authorization header',
    { headers: { 'content-type': 'application/json' } },
    {
      ...unauthorized,
      detail: /must carry a bearer token/,
    },
  ),
  badRequest(
    'a wrong token',
    { headers: { ...hookHeaders, ...bearer('not-the-token-at-all-0000') } },
    unauthorized,
  ),
  badRequest(
    'the token with one character changed',
    {
      headers: { ...hookHeaders, ...bearer(`${WEBHOOK_TOKEN.slice(0, -1)}8`) },
    },
    unauthorized,
  ),
  badRequest(
    'the token in upper case',
    {
      headers: { ...hookHeaders, ...bearer(WEBHOOK_TOKEN.toUpperCase()) },
    },
    unauthorized,
  ),
  badRequest(
    'the token without its last character',
    {
      headers: { ...hookHeaders, ...bearer(WEBHOOK_TOKEN.slice(0, -1)) },
    },
    unauthorized,
  ),
  badRequest(
    'the token with a character appended',
    {
      headers: { ...hookHeaders, ...bearer(`${WEBHOOK_TOKEN}x`) },
    },
    unauthorized,
  ),
  badRequest(
    'the token and a second word',
    {
      headers: { ...hookHeaders, ...bearer(`${WEBHOOK_TOKEN} extra`) },
    },
    unauthorized,
  ),
  badRequest(
    'the token with a trailing no-break space',
    {
      headers: { ...hookHeaders, authorization: `Bearer ${WEBHOOK_TOKEN}\u00a0` },
    },
    unauthorized,
  ),
  badRequest(
    'the token as Basic credentials',
    {
      headers: {
        ...hookHeaders,
        authorization: `Basic ${Buffer.from(`acr:${WEBHOOK_TOKEN}`).toString('base64')}`,
      },
    },
    unauthorized,
  ),
  badRequest(
    'the token without a scheme',
    {
      headers: { ...hookHeaders, authorization: WEBHOOK_TOKEN },
    },
    unauthorized,
  ),
  badRequest(
    'Bearer and no token',
    { headers: { ...hookHeaders, authorization: 'Bearer ' } },
    unauthorized,
  ),
  badRequest(
    'the token in ?code= only',
    {
      path: `${HOOK}?code=${WEBHOOK_TOKEN}`,
      headers: { 'content-type': 'application/json' },
    },
    unauthorized,
  ),
  // Node keeps the first of duplicate Authorization headers; Azure joins them (also refused).
  badRequest(
    'two Authorization headers, the wrong one first',
    {
      headers: {
        'content-type': 'application/json',
        authorization: ['Bearer not-the-token-at-all-0000', `Bearer ${WEBHOOK_TOKEN}`],
      },
    },
    unauthorized,
  ),
  badRequest(
    'a read token on the receiver',
    { headers: { ...hookHeaders, ...bearer(READ_TOKEN) } },
    { status: 403, title: 'Forbidden', detail: /needs a webhook token/ },
  ),
  {
    name: 'a read token on the Event Grid receiver',
    tag: nextTag(),
    request: {
      path: '/api/webhooks/eventgrid',
      headers: { 'content-type': 'application/cloudevents+json', ...bearer(READ_TOKEN) },
      body: '{}',
    },
    status: 403,
    title: 'Forbidden',
    detail: /needs a webhook token/,
  },
  badRequest(
    'an admin token on the receiver',
    { headers: { ...hookHeaders, ...admin } },
    {
      status: 403,
      title: 'Forbidden',
      detail: /webhook token/,
    },
  ),
  // RFC 9110: the scheme is case-insensitive and whitespace around a field value is not part of it.
  badRequest(
    'scheme "bearer" in lower case: accepted',
    {
      path: '/api/webhooks/acr/west-us',
      headers: { ...hookHeaders, authorization: `bearer ${WEBHOOK_TOKEN}` },
    },
    regionAfterAuth,
  ),
  badRequest(
    'scheme "BEARER" in upper case: accepted',
    {
      path: '/api/webhooks/acr/west-us',
      headers: { ...hookHeaders, authorization: `BEARER ${WEBHOOK_TOKEN}` },
    },
    regionAfterAuth,
  ),
  badRequest(
    'the token with a trailing space: trimmed by HTTP, accepted',
    {
      path: '/api/webhooks/acr/west-us',
      headers: { ...hookHeaders, authorization: `Bearer ${WEBHOOK_TOKEN} ` },
    },
    regionAfterAuth,
  ),

  // The status route: path tricks in {registry} and {*reference}.
  badRead('reference ..%2F..', () => status('..%2F..'), { status: 400, field: 'path.reference' }),
  badRead('reference %2e%2e%2f%2e%2e', () => status('%2e%2e%2f%2e%2e'), {
    status: 400,
    field: 'path.reference',
  }),
  badRead('reference with %00', (tag) => status(`${REPO}%00:${tag}`), {
    status: 400,
    field: 'path.reference',
  }),
  badRead('reference with a double slash', (tag) => status(`bad-input//rows:${tag}`), {
    status: 400,
    field: 'path.reference',
  }),
  badRead('reference after a double slash', (tag) => status(`/${REPO}:${tag}`), {
    status: 400,
    field: 'path.reference',
  }),
  badRead('reference repo:tag/extra', (tag) => status(`${REPO}:${tag}/extra`), {
    status: 400,
    field: 'path.reference',
  }),
  badRead('reference @sha256: without a repository', () => status(`@sha256:${hex64}`), {
    status: 400,
    field: 'path.reference',
  }),
  badRead('reference with an empty digest', () => status(`${REPO}@sha256:`), {
    status: 400,
    field: 'path.reference',
  }),
  badRead('reference with an empty tag', () => status(`${REPO}:`), {
    status: 400,
    field: 'path.reference',
  }),
  badRead('reference of 700 characters', (tag) => status(`${'r'.repeat(690)}:${tag}`), {
    status: 400,
    field: 'path.reference',
  }),
  badRead('reference with invalid UTF-8', (tag) => status(`${REPO}%ED%A0%80:${tag}`), {
    status: 400,
    field: 'path.reference',
  }),
  badRead('registry with an underscore', (tag) => `/api/replications/bad_input/${REPO}:${tag}`, {
    status: 400,
    field: 'path.registry',
  }),
  badRead('registry with a NUL', (tag) => `/api/replications/bad%00input.io/${REPO}:${tag}`, {
    status: 400,
    field: 'path.registry',
  }),
  badRead('registry %2e%2e (a dot segment)', (tag) => `/api/replications/%2e%2e/${REPO}:${tag}`, {
    status: 404,
    byHost: true,
  }),
  badRead('wait=abc', (tag) => status(`${REPO}:${tag}`, '?wait=abc'), {
    status: 400,
    field: 'query.wait',
  }),
  badRead('wait over 200 seconds', (tag) => status(`${REPO}:${tag}`, '?wait=201'), {
    status: 400,
    field: 'query.wait',
  }),
  badRead('a short digest to wait for', (tag) => status(`${REPO}:${tag}`, '?digest=sha256:abc'), {
    status: 400,
    field: 'query.digest',
  }),
  badRead('a read without a token', (tag) => status(`${REPO}:${tag}`), unauthorized, {}),

  // The list route.
  badRead(
    'a forged continuation token',
    () => {
      return `/api/replications/${REGISTRY}?continuationToken=${encodeURIComponent('{"a":1}')}`;
    },
    { status: 400, field: 'query.continuationToken' },
  ),
  badRead('an unknown status filter', () => `/api/replications/${REGISTRY}?status=done`, {
    status: 400,
    field: 'query.status',
  }),
  badRead('a page of 101', () => `/api/replications/${REGISTRY}?pageSize=101`, {
    status: 400,
    field: 'query.pageSize',
  }),
  badRead('an upper-case repository filter', () => `/api/replications/${REGISTRY}?repository=A/B`, {
    status: 400,
    field: 'query.repository',
  }),
  badRead('a forged event cursor', () => '/api/events?after=zzz', {
    status: 400,
    field: 'query.after',
  }),

  // Read routes refuse webhook tokens: a leaked CI secret must not be able to forge arrivals.
  badRead(
    'a status read with a webhook token',
    (tag) => status(`${REPO}:${tag}`),
    readForbidden,
    bearer(WEBHOOK_TOKEN),
  ),
  badRead(
    'a long-poll with the rotated webhook token',
    (tag) => status(`${REPO}:${tag}`, '?wait=1'),
    readForbidden,
    bearer(ROTATED_TOKEN),
  ),
  badRead(
    'the list with a webhook token',
    () => `/api/replications/${REGISTRY}`,
    readForbidden,
    bearer(WEBHOOK_TOKEN),
  ),
  badRead(
    'the event feed with a webhook token',
    () => '/api/events',
    readForbidden,
    bearer(WEBHOOK_TOKEN),
  ),
  badRead(
    'an event with a webhook token',
    () => '/api/events/730e2b85-df7a-504b-aaab-26de5b4af0a3',
    readForbidden,
    bearer(WEBHOOK_TOKEN),
  ),
  badRead(
    'the dashboard with a webhook token',
    () => '/api/dashboard',
    readForbidden,
    bearer(WEBHOOK_TOKEN),
  ),
  badRead(
    'the dashboard with a webhook token in ?token=',
    () => `/api/dashboard/${REGISTRY}?token=${WEBHOOK_TOKEN}`,
    readForbidden,
    {},
  ),

  // Admin routes refuse webhook and read tokens, the rotated webhook token too.
  badRead(
    'GET a registry with a webhook token',
    () => `/api/registries/${REGISTRY}`,
    forbidden,
    bearer(WEBHOOK_TOKEN),
  ),
  badRead('GET a registry with a read token', () => `/api/registries/${REGISTRY}`, forbidden),
  {
    name: 'PUT a registry with a read token',
    tag: nextTag(),
    request: {
      method: 'PUT',
      path: `/api/registries/${REGISTRY}`,
      headers: { 'content-type': 'application/json', ...bearer(READ_TOKEN) },
      body: JSON.stringify({ regions: ['westus'] }),
    },
    ...forbidden,
  },
  {
    name: 'PUT a registry with a webhook token',
    tag: nextTag(),
    request: {
      method: 'PUT',
      path: `/api/registries/${REGISTRY}`,
      headers: hookHeaders,
      body: JSON.stringify({ regions: ['westus'] }),
    },
    ...forbidden,
  },
  {
    name: 'PUT a registry with the rotated webhook token',
    tag: nextTag(),
    request: {
      method: 'PUT',
      path: `/api/registries/${REGISTRY}`,
      headers: { ...hookHeaders, ...bearer(ROTATED_TOKEN) },
      body: JSON.stringify({ regions: ['westus'] }),
    },
    ...forbidden,
  },
  {
    name: 'PUT a registry without a token',
    tag: nextTag(),
    request: {
      method: 'PUT',
      path: `/api/registries/${REGISTRY}`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ regions: ['westus'] }),
    },
    ...unauthorized,
  },
  {
    name: 'POST a subscription with a webhook token',
    tag: nextTag(),
    request: {
      path: '/api/subscriptions',
      headers: hookHeaders,
      body: JSON.stringify({ url: 'http://127.0.0.1:9/refused' }),
    },
    ...forbidden,
  },
  badRead(
    'GET the subscriptions with a webhook token',
    () => '/api/subscriptions',
    forbidden,
    bearer(WEBHOOK_TOKEN),
  ),
  badRead('GET the subscriptions with a read token', () => '/api/subscriptions', forbidden),
  {
    name: 'GET a subscription with a webhook token',
    tag: nextTag(),
    request: {
      method: 'GET',
      get path() {
        return `/api/subscriptions/${subscription.id}`;
      },
      headers: bearer(WEBHOOK_TOKEN),
    },
    ...forbidden,
  },
  {
    name: 'DELETE a subscription with a webhook token',
    tag: nextTag(),
    request: {
      method: 'DELETE',
      get path() {
        return `/api/subscriptions/${subscription.id}`;
      },
      headers: bearer(WEBHOOK_TOKEN),
    },
    ...forbidden,
  },
  {
    name: 'redeliver an event with a webhook token',
    tag: nextTag(),
    request: {
      path: '/api/events/730e2b85-df7a-504b-aaab-26de5b4af0a3/redeliver',
      headers: bearer(WEBHOOK_TOKEN),
    },
    ...forbidden,
  },
];

/** Every item of the container with its ETag: any write at all changes this. */
async function storeSnapshot(): Promise<string[]> {
  const items = await app.query<{ id: string; pk: string; _etag: string }>(
    'SELECT c.id, c.pk, c._etag FROM c',
  );
  return items.map((r) => `${r.pk} ${r.id} ${r._etag}`).sort();
}

let before: string[];
let created: RawResponse;

beforeAll(async () => {
  app = await startApp({
    WEBHOOK_TOKENS: `${ROTATED_TOKEN},${WEBHOOK_TOKEN}`,
    ADMIN_TOKENS: ADMIN_TOKEN,
    MAX_BODY_BYTES: String(MAX_BODY_BYTES),
  });
  // Controls: the same receiver records a valid push, and one nested right at the limit.
  const control = await send({
    path: HOOK,
    headers: hookHeaders,
    body: JSON.stringify(pushOf('control')),
  });
  expect(control.status).toBe(202);
  const atLimit = await send({
    path: HOOK,
    headers: hookHeaders,
    body: withMember(pushOf('control-nested-32'), 'x', nested(31)),
  });
  expect(atLimit.status).toBe(202);
  // The subscription whose secrets must never be shown again; this answer alone may show one.
  created = await send(
    {
      path: '/api/subscriptions',
      headers: { 'content-type': 'application/json', ...admin },
      body: JSON.stringify({
        url: 'http://127.0.0.1:9/bad-input',
        secret: SUBSCRIPTION_SECRET,
        headers: { 'x-api-key': HEADER_SECRET },
      }),
    },
    false,
  );
  expect(created.status).toBe(201);
  subscription.id = (JSON.parse(created.text) as { id: string }).id;
  before = await storeSnapshot();
}, 60_000);

afterAll(async () => {
  await app?.stop();
});

/**
 * Each row is sent once, by whichever test needs its answer first: a row's own test, or one
 * that checks what all of them left behind. So no test relies on another having run before it
 * (the file passes under `--sequence.shuffle`).
 */
const answers = new Map<Row, Promise<RawResponse>>();
function answerTo(row: Row): Promise<RawResponse> {
  let answer = answers.get(row);
  if (answer === undefined) {
    answer = send(row.request);
    answers.set(row, answer);
  }
  return answer;
}
/** Every row sent (one at a time, as their own tests would), and answered. */
async function everyRowAnswered(): Promise<void> {
  for (const row of rows) await answerTo(row);
}

describe('hostile and broken requests', () => {
  it('has a row for each case, each with its own tag', () => {
    expect(rows.length).toBeGreaterThanOrEqual(40);
    expect(new Set(rows.map((r) => r.tag)).size).toBe(rows.length);
    expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
  });

  it.each(rows)('$name: $status', async (row) => {
    const response = await answerTo(row);
    expect(response.status).toBe(row.status);
    if (row.byHost) {
      expect(response.text).toBe('');
      return;
    }
    expect(response.contentType).toBe('application/problem+json');
    const problem = JSON.parse(response.text) as Problem;
    expect(problem).toMatchObject({
      type: expect.stringMatching(/^urn:acr-replication-gate:problem:/) as unknown,
      status: row.status,
      title: expect.any(String) as unknown,
      detail: expect.stringMatching(/\S/) as unknown,
    });
    if (row.field !== undefined) {
      expect(problem.errors?.map((e) => e.field)).toContain(row.field);
      // `(body)` stands for the whole body: such rows say in `detail` what is wrong with it.
      if (row.field !== '(body)') expect(problem.detail).toContain(row.field);
      else expect(problem.detail).toMatch(row.detail ?? /^\(body\): /);
    }
    if (row.title !== undefined) expect(problem.title).toBe(row.title);
    if (row.detail !== undefined) expect(problem.detail).toMatch(row.detail);
  });

  it('recorded nothing from any of them', async () => {
    await everyRowAnswered();
    const list = await send({
      method: 'GET',
      path: `/api/replications/${REGISTRY}?pageSize=100`,
      headers: bearer(READ_TOKEN),
    });
    expect(list.status).toBe(200);
    const items = (JSON.parse(list.text) as { items: { tag: string }[] }).items;
    expect(items.map((i) => i.tag).sort()).toEqual(CONTROL_TAGS);

    const statuses = await Promise.all(
      rows.map((row) =>
        send({ method: 'GET', path: status(`${REPO}:${row.tag}`), headers: bearer(READ_TOKEN) }),
      ),
    );
    expect(statuses.map((s) => s.status)).toEqual(rows.map(() => 404));

    // No write anywhere: no tag, registry, subscription or event item was created or replaced.
    expect(await storeSnapshot()).toEqual(before);
    const regions = await send({
      method: 'GET',
      path: `/api/registries/${REGISTRY}`,
      headers: admin,
    });
    expect(JSON.parse(regions.text)).toMatchObject({ source: 'default' });
  });
});

describe('secrets', () => {
  /** The subscription read back, one and all: the answers that could show its secret again. */
  let reads: Promise<{ one: RawResponse; all: RawResponse }> | undefined;
  const readSubscriptions = () =>
    (reads ??= (async () => ({
      one: await send({
        method: 'GET',
        path: `/api/subscriptions/${subscription.id}`,
        headers: admin,
      }),
      all: await send({ method: 'GET', path: '/api/subscriptions', headers: admin }),
    }))());

  it('shows a subscription secret once, at creation, and never again', async () => {
    expect(created.text).toContain(SUBSCRIPTION_SECRET);
    const { one, all } = await readSubscriptions();
    expect(one.status).toBe(200);
    expect(JSON.parse(one.text)).toMatchObject({
      id: subscription.id,
      secretHint: expect.any(String) as unknown,
      headers: { 'x-api-key': '(set)' },
    });
    expect(all.text).toContain(subscription.id);
    for (const text of [one.text, all.text]) {
      expect(text).not.toContain(SUBSCRIPTION_SECRET.slice('whsec_'.length));
      expect(text).not.toContain(HEADER_SECRET);
    }
  });

  it('leaves no token or secret in any log line or answer', async () => {
    // Whatever ran before, every request of this file that carries a secret has been sent.
    await everyRowAnswered();
    await readSubscriptions();
    const secrets = [
      WEBHOOK_TOKEN,
      ROTATED_TOKEN,
      ADMIN_TOKEN,
      READ_TOKEN,
      SUBSCRIPTION_SECRET.slice('whsec_'.length),
      HEADER_SECRET,
      // The near misses sent above are as sensitive as the tokens they almost are.
      WEBHOOK_TOKEN.toUpperCase(),
      `${WEBHOOK_TOKEN.slice(0, -1)}8`,
    ];
    expect(app.logs.length).toBeGreaterThan(rows.length);
    expect(seen.length).toBeGreaterThanOrEqual(rows.length + 2);
    for (const secret of secrets) {
      expect(app.logs.filter((line) => line.includes(secret))).toEqual([]);
      expect(seen.filter((body) => body.includes(secret))).toEqual([]);
    }
  });
});

describe('a chunked body over MAX_BODY_BYTES', () => {
  it('is refused with 413 as soon as it passes the limit, not after it ends', async () => {
    const { hostname, port } = new URL(app.url);
    const answer = await new Promise<{ status: number; contentType: string | undefined }>(
      (resolve, reject) => {
        const req = httpRequest({
          hostname,
          port,
          method: 'POST',
          path: HOOK,
          // No length: the server learns the size only by reading.
          headers: {
            authorization: `Bearer ${WEBHOOK_TOKEN}`,
            'content-type': 'application/json',
            'transfer-encoding': 'chunked',
          },
        });
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => {
            req.destroy(); // The rest of the body is never sent.
            resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] });
          });
        });
        req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
        // Twice the limit, then nothing more: the body never ends.
        req.write(Buffer.alloc(2 * MAX_BODY_BYTES, ' '));
      },
    );
    expect(answer.status).toBe(413);
    expect(answer.contentType).toBe('application/problem+json');
  });
});
