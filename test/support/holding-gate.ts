// A hop in front of Cosmos DB that holds the first request `holds` picks until released, so a test
// can let other writes land while that one is in flight; every other request passes at once.
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function aGate(
  upstream: string,
  holds: (req: IncomingMessage, body: Buffer) => boolean,
) {
  const target = new URL(upstream);
  let release = (): void => undefined;
  const opened = new Promise<void>((resolve) => (release = resolve));
  let holding = (): void => undefined;
  /** Resolves when a picked request is being held. */
  const held = new Promise<void>((resolve) => (holding = resolve));
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const hold = holds(req, body);
      if (hold) holding();
      void (hold ? opened : Promise.resolve()).then(() => {
        const forward = httpRequest(
          {
            host: target.hostname,
            port: target.port,
            method: req.method,
            path: req.url,
            headers: req.headers,
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        forward.on('error', () => res.destroy());
        forward.end(body);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    held,
    release,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
