// The outbound guard on real connections: refused before any byte leaves, after DNS, on every attempt.
import { createServer } from 'node:http';
import type { LookupAddress } from 'node:dns';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendDelivery } from '../../src/events/send-delivery';
import { makeOutboundGuard } from '../../src/net/outbound-guard';

let port = 0;
let received = 0;
const receiver = createServer((req, res) => {
  received += 1;
  req.resume();
  res.writeHead(200).end('ok');
});
beforeAll(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  port = (receiver.address() as AddressInfo).port;
});
afterAll(async () => {
  receiver.closeAllConnections();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

const post = (url: string, guard = makeOutboundGuard({ enabled: true })) =>
  sendDelivery({ url, headers: {}, body: '{}' }, { timeoutMs: 5_000, fetch: guard.fetch });

describe('the outbound guard', () => {
  it('lets the receiver be reached when off (local runs and tests)', async () => {
    const before = received;
    const result = await post(`http://127.0.0.1:${port}/x`, makeOutboundGuard({ enabled: false }));
    expect(result.status).toBe(200);
    expect(received).toBe(before + 1);
  });

  it('refuses a loopback address given as a literal, a name, or IPv4-mapped IPv6, on every attempt', async () => {
    const before = received;
    for (const host of ['127.0.0.1', 'localhost', '[::ffff:127.0.0.1]', '127.0.0.1']) {
      const result = await post(`http://${host}:${port}/x`);
      expect(result.status).toBeUndefined();
      expect(result.error).toMatch(/refused to connect to .*loopback.*OUTBOUND_GUARD/);
    }
    expect(received).toBe(before);
  });

  it('checks what the name resolves to at each attempt, not what it resolved to at creation', async () => {
    // A name that is public when the subscription is created, then points at loopback.
    const answers: LookupAddress[][] = [
      [{ address: '20.50.2.1', family: 4 }],
      [{ address: '127.0.0.1', family: 4 }],
    ];
    const guard = makeOutboundGuard({
      enabled: true,
      resolve: () => Promise.resolve(answers.shift() ?? []),
    });
    expect(await guard.refusal(`http://rebinding.example:${port}/x`)).toBeUndefined();
    const before = received;
    const result = await post(`http://rebinding.example:${port}/x`, guard);
    expect(result.error).toMatch(
      /refused to connect to rebinding\.example: 127\.0\.0\.1 is a loopback/,
    );
    expect(received).toBe(before);
  });

  it('explains a refusal at creation', async () => {
    const guard = makeOutboundGuard({ enabled: true });
    expect(await guard.refusal('http://169.254.169.254/metadata')).toMatch(/link-local/);
    expect(await guard.refusal(`http://localhost:${port}/`)).toMatch(/loopback/);
  });
});
