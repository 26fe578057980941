// Deliveries over real loopback HTTP: signatures checked by independent verifiers, status mapping, timeouts, Event Grid.
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  REPLICATED_EVENT_TYPE,
  STALLED_EVENT_TYPE,
  replicatedEventId,
} from '../../src/events/replicated-event';
import { appliesTo, classifyAttempt, toDeliveryRequest } from '../../src/events/delivery-request';
import { makeEventGridSink } from '../../src/events/event-grid-sink';
import { sendDelivery } from '../../src/events/send-delivery';
import type { GateEvent, StoredEvent, Subscription } from '../../src/events/types';
import { instantFromDate } from '../../src/replication/timestamp';
import { aDigest, aPushEvent, aSubscription as aStoredSubscription } from '../support/fixtures';

const SECRET = 'whsec_' + Buffer.from('a 32-byte signing key for tests!').toString('base64');
const FLUX_TOKEN = 'flux-receiver-token-5f2b9c0d';
const EVENT_GRID_KEY = 'fake-event-grid-topic-key==';
const TIMEOUT_MS = 300;

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  raw: Buffer;
}

/** Starts a loopback server; resolves with its base URL. */
async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  // The hanging route keeps a socket open: close it rather than wait for it.
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

const received = new Map<string, Received>();
const LONG_ERROR = `upstream\n\n  overloaded:\t${'x'.repeat(100_000)}`;

const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://receiver');
    received.set(url.pathname, {
      path: url.pathname,
      headers: req.headers,
      raw: Buffer.concat(chunks),
    });
    const route = url.pathname.split('/')[1];
    switch (route) {
      case 'ok':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks');
        return;
      case 'gone':
        res.writeHead(410).end('subscription removed');
        return;
      case 'throttle':
        res.writeHead(429, { 'retry-after': '7' }).end('slow down');
        return;
      case 'unavailable':
        res.writeHead(503, { 'content-type': 'text/plain' }).end(LONG_ERROR);
        return;
      case 'redirect':
        res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end();
        return;
      case 'echo':
        // A receiver that quotes the request's headers in its error body.
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify(req.headers));
        return;
      case 'hang':
        return; // never answers
      default:
        res.writeHead(404).end();
    }
  });
});

let base = '';
let refusedUrl = '';

beforeAll(async () => {
  base = await listen(receiver);
  const closed = createServer();
  refusedUrl = `${await listen(closed)}/nobody-home`;
  await close(closed);
});

afterAll(async () => {
  await close(receiver);
});

const aSubscription = (path: string, overrides: Partial<Subscription> = {}): Subscription =>
  aStoredSubscription({
    id: `sub-${randomUUID()}`,
    url: `${base}${path}`,
    secret: SECRET,
    createdAt: instantFromDate(new Date()),
    ...overrides,
  });

function aReplicatedEvent(): StoredEvent {
  const registry = 'contoso.azurecr.io';
  const repository = 'team/app';
  const tag = '1.2';
  const digest = aDigest();
  return {
    event: {
      specversion: '1.0',
      id: replicatedEventId(registry, repository, tag, digest),
      type: REPLICATED_EVENT_TYPE,
      source: `/registries/${registry}`,
      subject: `${repository}:${tag}`,
      time: '2026-03-14T09:27:10.123456789Z',
      datacontenttype: 'application/json',
      data: {
        registry,
        repository,
        tag,
        digest,
        regions: [
          { region: 'westeurope', arrivedAt: '2026-03-14T09:26:53.589793238Z' },
          { region: 'eastus', arrivedAt: '2026-03-14T09:27:10.123456789Z' },
        ],
        pushedAt: '2026-03-14T09:26:53.589793238Z',
        replicatedAt: '2026-03-14T09:27:10.123456789Z',
        durationMs: 16534,
      },
    },
    acrPayload: aPushEvent({ registry, repository, tag, digest }),
    recordedAt: instantFromDate(new Date()),
  };
}

/** Builds the request for a subscription, sends it, and returns what the receiver got. */
async function deliver(subscription: Subscription, stored: StoredEvent) {
  const request = toDeliveryRequest(subscription, stored, {
    webhookId: stored.event.id,
    at: new Date(),
  });
  const result = await sendDelivery(request, { timeoutMs: 2000 });
  const got = received.get(new URL(subscription.url).pathname);
  if (got === undefined) throw new Error(`the receiver got nothing at ${subscription.url}`);
  return { request, result, got };
}

describe('signed deliveries, verified by what a receiver actually got', () => {
  it('cloudevents: the standardwebhooks verifier accepts the received bytes and headers', async () => {
    const stored = aReplicatedEvent();
    const { result, got } = await deliver(aSubscription(`/ok/${randomUUID()}`), stored);
    expect(classifyAttempt(result)).toBe('delivered');
    expect(result.status).toBe(200);
    expect(result.error).toBeUndefined();

    const headers = flatHeaders(got.headers);
    expect(headers['content-type']).toBe('application/cloudevents+json; charset=utf-8');
    expect(headers['user-agent']).toBe('acr-replication-gate');
    expect(headers['webhook-id']).toBe(stored.event.id);
    const verified = new Webhook(SECRET).verify(got.raw, headers);
    expect(verified).toEqual(stored.event);
    // And a tampered body does not verify.
    const tampered = Buffer.from(got.raw.toString('utf8').replace('1.2', '1.3'));
    expect(() => new Webhook(SECRET).verify(tampered, headers)).toThrow();
  });

  it('flux-generic-hmac: X-Signature matches an HMAC recomputed over the received bytes', async () => {
    const stored = aReplicatedEvent();
    const sub = aSubscription(`/ok/${randomUUID()}`, {
      format: 'flux-generic-hmac',
      secret: FLUX_TOKEN,
    });
    const { result, got } = await deliver(sub, stored);
    expect(classifyAttempt(result)).toBe('delivered');

    const signature = got.headers['x-signature'];
    expect(typeof signature).toBe('string');
    const [algorithm, hex] = String(signature).split('=');
    expect(algorithm).toBe('sha256');
    const expected = createHmac('sha256', Buffer.from(FLUX_TOKEN)).update(got.raw).digest();
    expect(timingSafeEqual(Buffer.from(hex ?? '', 'hex'), expected)).toBe(true);
    expect(got.headers['content-type']).toBe('application/json');
    expect(JSON.parse(got.raw.toString('utf8'))).toEqual(stored.event);
  });

  it('acr: the relayed body is the original push payload, readable by ACR receivers', async () => {
    const stored = aReplicatedEvent();
    const { result, got } = await deliver(
      aSubscription(`/ok/${randomUUID()}`, { format: 'acr' }),
      stored,
    );
    expect(classifyAttempt(result)).toBe('delivered');
    expect(got.headers['content-type']).toBe('application/json');

    const body = JSON.parse(got.raw.toString('utf8')) as {
      action: string;
      target: { repository: string; tag: string; digest: string };
      request: { host: string };
    };
    expect(body).toEqual(stored.acrPayload);
    // What Flux's `acr` Receiver, Keel's /v1/webhooks/azure and Argo CD Image Updater read.
    expect(body.action).toBe('push');
    expect(body.target.repository).toBe('team/app');
    expect(body.target.tag).toBe('1.2');
    expect(body.target.digest).toBe(stored.event.data.digest);
    expect(body.request.host).toBe('contoso.azurecr.io');
  });

  it('acr: a stalled event is not relayed', () => {
    const stored = aReplicatedEvent();
    const stalled: StoredEvent = {
      event: { ...stored.event, type: STALLED_EVENT_TYPE },
      recordedAt: stored.recordedAt,
    };
    expect(appliesTo(aSubscription('/ok/x', { format: 'acr' }), stalled)).toBe(false);
  });

  it('custom headers arrive, but cannot replace content-type or the signature', async () => {
    const stored = aReplicatedEvent();
    const sub = aSubscription(`/ok/${randomUUID()}`, {
      headers: {
        Authorization: 'Bearer receiver-token',
        'Content-Type': 'text/plain',
        'webhook-signature': 'v1,Zm9yZ2Vk',
        'Webhook-Id': 'forged',
        'X-Signature': 'sha256=00',
      },
    });
    const { got } = await deliver(sub, stored);
    const headers = flatHeaders(got.headers);
    expect(headers.authorization).toBe('Bearer receiver-token');
    expect(headers['content-type']).toBe('application/cloudevents+json; charset=utf-8');
    expect(headers['webhook-id']).toBe(stored.event.id);
    expect(headers['webhook-signature']).not.toContain('Zm9yZ2Vk');
    expect(headers['x-signature']).toBeUndefined();
    expect(() => new Webhook(SECRET).verify(got.raw, headers)).not.toThrow();
  });
});

describe('sendDelivery against loopback receivers', () => {
  const stored = aReplicatedEvent();
  const send = (path: string, timeoutMs = 2000) =>
    sendDelivery(
      toDeliveryRequest(aSubscription(path), stored, {
        webhookId: stored.event.id,
        at: new Date(),
      }),
      { timeoutMs },
    );

  it('records when the attempt started and how long it took', async () => {
    const now = new Date('2026-03-14T09:30:00.000Z');
    const request = toDeliveryRequest(aSubscription('/ok/clock'), stored, {
      webhookId: stored.event.id,
      at: new Date(),
    });
    const result = await sendDelivery(request, { timeoutMs: 2000, now: () => now });
    expect(result.at).toBe('2026-03-14T09:30:00.000000000Z');
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('200 → delivered', async () => {
    const result = await send('/ok/plain');
    expect(result).toMatchObject({ status: 200 });
    expect(classifyAttempt(result)).toBe('delivered');
  });

  it('410 → gone', async () => {
    const result = await send('/gone/1');
    expect(result.status).toBe(410);
    expect(classifyAttempt(result)).toBe('gone');
  });

  it('429 with Retry-After: 7 → retry after 7 s', async () => {
    const result = await send('/throttle/1');
    expect(result.status).toBe(429);
    expect(result.retryAfterMs).toBe(7000);
    expect(classifyAttempt(result)).toBe('retry');
  });

  it('503 → retry, with a short one-line excerpt of the body', async () => {
    const result = await send('/unavailable/1');
    expect(result.status).toBe(503);
    expect(classifyAttempt(result)).toBe('retry');
    expect(result.error).toContain('upstream overloaded: x');
    expect(result.error).toContain('503');
    expect(result.error?.length).toBeLessThanOrEqual(300);
    expect(result.error).not.toMatch(/[\n\r\t]/);
  });

  it('302 → retry: a redirect is not followed and not a success', async () => {
    const result = await send('/redirect/1');
    expect(result.status).toBe(302);
    expect(classifyAttempt(result)).toBe('retry');
    expect(result.error).toContain('redirect');
    expect(received.has('/elsewhere')).toBe(false);
  });

  it('a receiver that never answers times out within timeoutMs, without a status', async () => {
    const started = Date.now();
    const result = await send('/hang/1', TIMEOUT_MS);
    const elapsed = Date.now() - started;
    expect(result.status).toBeUndefined();
    expect(result.error).toMatch(/timed out after 300 ms/);
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 1000);
    expect(classifyAttempt(result)).toBe('retry');
  });

  it('a refused connection → an error without a status', async () => {
    const request = toDeliveryRequest(aSubscription('/x', { url: refusedUrl }), stored, {
      webhookId: stored.event.id,
      at: new Date(),
    });
    const result = await sendDelivery(request, { timeoutMs: 2000 });
    expect(result.status).toBeUndefined();
    expect(result.error).toMatch(/ECONNREFUSED/);
    expect(classifyAttempt(result)).toBe('retry');
  });
});

describe('secrets in attempt results', () => {
  const GITHUB_TOKEN = 'ghp_SECRET0123456789abcdefghijklmnopqrst';
  const API_KEY = 'key-with-"quotes"-SECRET';

  it('redacts every configured header value and the secret from an echoing receiver', async () => {
    for (const format of ['github-dispatch', 'flux-generic-hmac'] as const) {
      const subscription = aSubscription('/echo/x', {
        format,
        secret: format === 'flux-generic-hmac' ? 'flux-SECRET-token-0123456789' : SECRET,
        headers: { Authorization: `Bearer ${GITHUB_TOKEN}`, 'X-Api-Key': API_KEY },
      });
      const stored = aReplicatedEvent();
      const request = toDeliveryRequest(subscription, stored, {
        webhookId: stored.event.id,
        at: new Date(),
      });
      const result = await sendDelivery(request, { timeoutMs: 5_000 });
      expect(result.status).toBe(500);
      // The echo did reach the excerpt: the header names are there, their values are not.
      expect(result.error).toContain('authorization');
      expect(result.error).toContain('[redacted]');
      expect(result.error).not.toContain('SECRET');
      expect(result.error).not.toContain(GITHUB_TOKEN.slice(0, 12));
    }
  });

  it('does not quote a header value fetch refuses (a subscription stored before values were checked)', async () => {
    const subscription = aSubscription('/ok/x', {
      format: 'github-dispatch',
      headers: { 'X-Api-Key': 'abc\u0000SECRET-after-nul' },
    });
    const stored = aReplicatedEvent();
    const request = toDeliveryRequest(subscription, stored, {
      webhookId: stored.event.id,
      at: new Date(),
    });
    const result = await sendDelivery(request, { timeoutMs: 5_000 });
    expect(result.status).toBeUndefined();
    expect(result.error).toMatch(/invalid header value/i);
    expect(result.error).not.toContain('SECRET');
  });
});

describe('Event Grid sink against a loopback fake of the publish API', () => {
  interface Publish {
    query: URLSearchParams;
    headers: IncomingHttpHeaders;
    body: unknown;
  }
  const publishes: Publish[] = [];
  const eventGrid = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://eventgrid');
      if (req.method !== 'POST' || url.pathname !== '/api/events') {
        res.writeHead(404).end();
        return;
      }
      if (req.headers['aeg-sas-key'] !== EVENT_GRID_KEY) {
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end(
            JSON.stringify({ error: { code: 'Unauthorized', message: 'The key is not valid.' } }),
          );
        return;
      }
      publishes.push({
        query: url.searchParams,
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown,
      });
      res.writeHead(200).end();
    });
  });
  let endpoint = '';

  beforeAll(async () => {
    endpoint = `${await listen(eventGrid)}/api/events`;
  });

  afterAll(async () => {
    await close(eventGrid);
  });

  it('publishes the event as a CloudEvents batch with the topic key', async () => {
    const stored = aReplicatedEvent();
    const sink = makeEventGridSink({ endpoint, key: EVENT_GRID_KEY, timeoutMs: 2000 });
    const result = await sink.send(stored.event);
    expect(result.status).toBe(200);
    expect(result.error).toBeUndefined();
    expect(classifyAttempt(result)).toBe('delivered');

    const publish = publishes.at(-1);
    expect(publish?.query.get('api-version')).toBeTruthy();
    expect(publish?.headers['content-type']).toBe(
      'application/cloudevents-batch+json; charset=utf-8',
    );
    expect(Array.isArray(publish?.body)).toBe(true);
    const [sent] = publish?.body as GateEvent[];
    expect(sent).toMatchObject({
      specversion: '1.0',
      id: stored.event.id,
      type: REPLICATED_EVENT_TYPE,
      source: stored.event.source,
      subject: stored.event.subject,
      datacontenttype: 'application/json',
      data: stored.event.data,
    });
    // Event Grid takes a Date: the time survives to the millisecond.
    expect(sent?.time.slice(0, 23)).toBe(stored.event.time.slice(0, 23));
  });

  it('a wrong key → 401 as the attempt status, with the reason', async () => {
    const sink = makeEventGridSink({ endpoint, key: 'wrong-key', timeoutMs: 2000 });
    const result = await sink.send(aReplicatedEvent().event);
    expect(result.status).toBe(401);
    expect(result.error).toBeTruthy();
    expect(classifyAttempt(result)).toBe('retry');
  });

  it('an unreachable topic → an error without a status', async () => {
    const sink = makeEventGridSink({ endpoint: refusedUrl, key: EVENT_GRID_KEY, timeoutMs: 2000 });
    const result = await sink.send(aReplicatedEvent().event);
    expect(result.status).toBeUndefined();
    expect(result.error).toBeTruthy();
  });
});
