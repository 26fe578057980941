// Loopback proxy between the app and the embedded Cosmos DB that injects throttling, errors, delays and dropped connections.
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * - `429`: Cosmos DB's throttling answer (`x-ms-retry-after-ms`), which the SDK retries itself.
 * - `503`, `408`: answered by the proxy; the request never reaches the server.
 * - `delay`: forwarded, and the answer held back `delayMs`.
 * - `delay-request`: held back `delayMs` before it is forwarded: the write lands late (a GC pause
 *   or a 429 retry on the way). Not in ALL_FAULTS; ask for it by name.
 * - `drop-request`: the connection is destroyed before anything is forwarded.
 * - `drop-response`: forwarded and answered by the server, then the connection is destroyed:
 *   the write happened, but the client never learns it.
 */
export type FaultKind =
  '429' | '503' | '408' | 'delay' | 'delay-request' | 'drop-request' | 'drop-response';
export const ALL_FAULTS: readonly FaultKind[] = [
  '429',
  '503',
  '408',
  'delay',
  'drop-request',
  'drop-response',
];

export interface FaultSettings {
  /** Share of requests that get a fault, 0..1. 0 turns faults off. */
  rate: number;
  kinds?: readonly FaultKind[];
  /** How long `delay` holds an answer back. Default 200. */
  delayMs?: number;
  /** What a `429` asks the client to wait. Default 20. */
  retryAfterMs?: number;
  /** Which requests are eligible (default: all). */
  match?: (request: { method: string; path: string; headers: http.IncomingHttpHeaders }) => boolean;
}

export interface FaultStats {
  /** Requests received from the client. */
  requests: number;
  /** Requests that reached the server (including `delay` and `drop-response`). */
  forwarded: number;
  injected: Record<FaultKind, number>;
}

export interface FaultProxy {
  /** What the app's COSMOS_ENDPOINT should be, e.g. `http://127.0.0.1:40123/`. */
  endpoint: string;
  setFaults(settings: FaultSettings): void;
  /** Live counters. */
  readonly stats: FaultStats;
  close(): Promise<void>;
}

/** mulberry32: small, fast, and the same sequence for the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade'];

const cosmosError = (status: number, code: string, message: string, extra = {}) => ({
  status,
  headers: {
    'content-type': 'application/json',
    'x-ms-activity-id': randomUUID(),
    'x-ms-request-charge': '0',
    ...extra,
  },
  body: Buffer.from(JSON.stringify({ code, message })),
});

interface Answer {
  status: number;
  headers: http.OutgoingHttpHeaders;
  body: Buffer;
}

/**
 * Faults are drawn from the seeded generator in the order requests arrive, so a run with the
 * same seed and the same request order injects the same faults.
 */
export async function startFaultProxy(options: {
  target: string;
  seed?: number;
}): Promise<FaultProxy> {
  const target = new URL(options.target);
  const random = seededRandom(options.seed ?? 1);
  const agent = new http.Agent({ keepAlive: true });
  const timers = new Set<NodeJS.Timeout>();
  let faults: Required<Omit<FaultSettings, 'match'>> & Pick<FaultSettings, 'match'> = {
    rate: 0,
    kinds: ALL_FAULTS,
    delayMs: 200,
    retryAfterMs: 20,
  };
  const stats: FaultStats = {
    requests: 0,
    forwarded: 0,
    injected: {
      '429': 0,
      '503': 0,
      '408': 0,
      delay: 0,
      'delay-request': 0,
      'drop-request': 0,
      'drop-response': 0,
    },
  };

  const pickFault = (
    method: string,
    path: string,
    headers: http.IncomingHttpHeaders,
  ): FaultKind | undefined => {
    // Always draw twice, so one request's eligibility never shifts the next one's draw.
    const hit = random() < faults.rate;
    const kind = faults.kinds[Math.floor(random() * faults.kinds.length)];
    if (!hit || kind === undefined) return undefined;
    return (faults.match?.({ method, path, headers }) ?? true) ? kind : undefined;
  };

  const forward = (req: http.IncomingMessage, body: Buffer): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = {
        ...req.headers,
        host: target.host,
        'content-length': String(body.length),
      };
      for (const h of HOP_BY_HOP) delete headers[h];
      const upstream = http.request(
        {
          hostname: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers,
          agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const answer = Buffer.concat(chunks);
            const out: http.OutgoingHttpHeaders = { ...res.headers };
            for (const h of HOP_BY_HOP) delete out[h];
            out['content-length'] = String(answer.length);
            resolve({ status: res.statusCode ?? 502, headers: out, body: answer });
          });
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });

  const later = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    stats.requests += 1;
    const fault = pickFault(req.method ?? 'GET', req.url ?? '/', req.headers);
    if (fault) stats.injected[fault] += 1;

    let answer: Answer;
    switch (fault) {
      case '429':
        answer = cosmosError(
          429,
          'TooManyRequests',
          'Request rate is large. More Request Units may be needed, so no changes were made.',
          { 'x-ms-retry-after-ms': String(faults.retryAfterMs), 'x-ms-substatus': '3200' },
        );
        break;
      case '503':
        answer = cosmosError(503, 'ServiceUnavailable', 'Service is currently unavailable.');
        break;
      case '408':
        answer = cosmosError(408, 'RequestTimeout', 'Request timed out.');
        break;
      case 'drop-request':
        req.socket.destroy();
        return;
      default:
        if (fault === 'delay-request') await later(faults.delayMs);
        stats.forwarded += 1;
        answer = await forward(req, body);
    }
    if (fault === 'drop-response') {
      req.socket.destroy();
      return;
    }
    if (fault === 'delay') await later(faults.delayMs);
    if (res.destroyed) return;
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => {
      // The server went away (or we are closing): the client sees a dropped connection.
      req.socket.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}/`,
    stats,
    setFaults(settings) {
      faults = {
        rate: Math.min(1, Math.max(0, settings.rate)),
        kinds: settings.kinds?.length ? settings.kinds : ALL_FAULTS,
        delayMs: settings.delayMs ?? 200,
        retryAfterMs: settings.retryAfterMs ?? 20,
        ...(settings.match ? { match: settings.match } : {}),
      };
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      });
      return closing;
    },
  };
}
