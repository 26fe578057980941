// A loopback HTTP proxy in front of the Cosmos DB server that counts round trips and request charges by operation.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OperationCount {
  requests: number;
  /** Sum of `x-ms-request-charge`: always 1 per request on the embedded server. */
  charge: number;
  /** Responses by status code, e.g. 412 for a lost If-Match race. */
  statuses: Record<string, number>;
}

export type Counts = Record<string, OperationCount>;

export interface CountingProxy {
  endpoint: string;
  snapshot(): Counts;
  close(): Promise<void>;
}

interface DocBody {
  id?: unknown;
  type?: unknown;
  outboxSize?: unknown;
}

const parseBody = (body: Buffer): DocBody => {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null ? parsed : {};
  } catch {
    return {};
  }
};

/** What an item is, from the app's id scheme (src/store/ids.ts) and the bench's own baselines. */
const ID_PREFIXES: [string, string][] = [
  ['tag:', 'tag'],
  ['digest:', 'tag'],
  ['deleted:', 'deletions'],
  ['delivery:', 'delivery'],
  ['naive:', 'naive tag'],
  ['arrival:', 'arrival'],
];
const docTypeOf = (id: string): string =>
  id === 'regions' ? 'registry' : (ID_PREFIXES.find(([p]) => id.startsWith(p))?.[1] ?? 'item');

/** Names what a request does, in the terms of the app's store (see docs/benchmarks.md). */
export function classify(
  method: string,
  path: string,
  headers: http.IncomingHttpHeaders,
  body: Buffer,
  hadOutbox: (docPath: string) => boolean,
): { kind: string; docPath?: string; outboxSize?: number } {
  const segments = path.split('?')[0]?.split('/').filter(Boolean).map(decodeURIComponent) ?? [];
  // A document is known by database, container and id, whether it was created or replaced.
  const docKey = (id: string): string => `${segments[1]}/${segments[3]}/${id}`;
  if (segments.length === 0) return { kind: 'sdk: account metadata' };
  if (segments[4] === 'pkranges') return { kind: 'sdk: partition key ranges' };
  if (segments[4] !== 'docs') return { kind: `sdk: ${method} database/container` };
  const id = segments[5];
  if (id === undefined) {
    if (headers['x-ms-cosmos-is-query-plan-request'] !== undefined) return { kind: 'query plan' };
    if (headers['x-ms-documentdb-isquery'] !== undefined) {
      const text = body.toString('utf8');
      const about = /c\.type = '(\w+)'/.exec(text)?.[1] ?? 'other';
      return { kind: `query ${about}` };
    }
    if (headers['x-ms-cosmos-is-batch-request'] !== undefined) {
      // One request for a tag and what its write decided: named by the items it writes.
      const operations = JSON.parse(body.toString('utf8')) as { resourceBody?: DocBody }[];
      const types = operations.map((o) =>
        typeof o.resourceBody?.type === 'string' ? o.resourceBody.type : 'other',
      );
      return { kind: `batch ${types.join('+')}` };
    }
    const doc = parseBody(body);
    const type = typeof doc.type === 'string' ? doc.type : 'other';
    if (headers['x-ms-documentdb-is-upsert'] === 'true') return { kind: `upsert ${type}` };
    if (type !== 'tag' || typeof doc.id !== 'string') return { kind: `create ${type}` };
    const outboxSize = typeof doc.outboxSize === 'number' ? doc.outboxSize : 0;
    return { kind: 'create tag', docPath: docKey(doc.id), outboxSize };
  }
  const docType = docTypeOf(id);
  if (method === 'GET') return { kind: `read ${docType}` };
  if (method === 'PUT' && docType === 'tag') {
    const outboxSize = parseBody(body).outboxSize;
    const size = typeof outboxSize === 'number' ? outboxSize : 0;
    // Only publishing empties an outbox that a write filled: that is the outbox clear.
    const kind = size === 0 && hadOutbox(docKey(id)) ? 'outbox clear' : 'replace tag';
    return { kind, docPath: docKey(id), outboxSize: size };
  }
  return { kind: `${method.toLowerCase()} ${docType}` };
}

export async function startCountingProxy(target: URL): Promise<CountingProxy> {
  const agent = new http.Agent({ keepAlive: true });
  const counts: Counts = {};
  /** Tag documents whose last successful write left events in the outbox. */
  const withOutbox = new Set<string>();

  const record = (kind: string, status: number, charge: number): void => {
    const entry = (counts[kind] ??= { requests: 0, charge: 0, statuses: {} });
    entry.requests += 1;
    entry.charge += charge;
    entry.statuses[status] = (entry.statuses[status] ?? 0) + 1;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      const { kind, docPath, outboxSize } = classify(method, path, req.headers, body, (p) =>
        withOutbox.has(p),
      );
      const upstream = http.request(
        {
          host: target.hostname,
          port: target.port,
          method,
          path,
          headers: { ...req.headers, host: target.host },
          agent,
        },
        (answer) => {
          const status = answer.statusCode ?? 0;
          const charge = Number(answer.headers['x-ms-request-charge'] ?? 0);
          record(kind, status, Number.isFinite(charge) ? charge : 0);
          if (docPath && status >= 200 && status < 300) {
            if ((outboxSize ?? 0) > 0) withOutbox.add(docPath);
            else withOutbox.delete(docPath);
          }
          res.writeHead(status, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', (error) => {
        record(kind, 502, 0);
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: `proxy: ${error.message}` }));
      });
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}/`,
    snapshot: () => structuredClone(counts),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}

/** What happened between two snapshots. */
export function diffCounts(after: Counts, before: Counts): Counts {
  const out: Counts = {};
  for (const [kind, a] of Object.entries(after)) {
    const b = before[kind];
    const requests = a.requests - (b?.requests ?? 0);
    if (requests === 0) continue;
    const statuses: Record<string, number> = {};
    for (const [code, n] of Object.entries(a.statuses)) {
      const d = n - (b?.statuses[code] ?? 0);
      if (d !== 0) statuses[code] = d;
    }
    out[kind] = { requests, charge: a.charge - (b?.charge ?? 0), statuses };
  }
  return out;
}

export const totalRequests = (counts: Counts): number =>
  Object.values(counts).reduce((sum, c) => sum + c.requests, 0);

export const totalCharge = (counts: Counts): number =>
  Object.values(counts).reduce((sum, c) => sum + c.charge, 0);
