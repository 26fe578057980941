// `npm start` runs Azurite for `func start` (timer triggers need storage); it must listen on loopback and stop cleanly.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startAzurite } from '../../dev/start';
import { appRoot } from '../support/app-host';

const installed = fs.existsSync(path.join(appRoot, 'node_modules', '.bin', 'azurite'));

/** Three distinct ports that were free a moment ago. */
async function freePorts(): Promise<number[]> {
  const servers = [net.createServer(), net.createServer(), net.createServer()];
  await Promise.all(
    servers.map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

function isFree(port: number): Promise<boolean> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

describe('startAzurite', () => {
  it('serves blob on 127.0.0.1 and frees the port on close', async (ctx) => {
    ctx.skip(!installed, 'node_modules/.bin/azurite not found (azurite is an optional dependency)');
    const location = fs.mkdtempSync(path.join(os.tmpdir(), 'azurite-test-'));
    const [blob = 0, queue = 0, table = 0] = await freePorts();
    const ports = { blob, queue, table };
    const azurite = await startAzurite(appRoot, { location, ports, timeoutMs: 15_000 });
    try {
      const response = await fetch(`http://127.0.0.1:${ports.blob}/devstoreaccount1?comp=list`);
      expect(response.status).toBeGreaterThan(0);
      expect(response.headers.get('server') ?? '').toMatch(/Azurite/);
    } finally {
      await azurite.close();
      fs.rmSync(location, { recursive: true, force: true });
    }
    for (const port of [blob, queue, table]) expect(await isFree(port)).toBe(true);
  }, 20_000);
});
