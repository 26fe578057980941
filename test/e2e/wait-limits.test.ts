// Long-polls over HTTP on an instance that holds at most two: 503 + Retry-After beyond, and a place freed when a client goes away.
import { describe, expect, it, vi } from 'vitest';
import { useApp } from '../support/app-host';

const app = useApp({ MAX_WAITERS: '2' });

const REF = '/api/replications/contoso.azurecr.io/public/products/web';
/** A bound for a busy machine, not a measured time. */
const SETTLED = { timeout: 30_000, interval: 100 };

describe('long-polls beyond MAX_WAITERS', () => {
  it('are refused with 503 and Retry-After, and a client that goes away frees its place', async () => {
    const clients = [new AbortController(), new AbortController()];
    const held = clients.map((client, i) =>
      app.call(`${REF}:held-${i}?wait=120`, { signal: client.signal }).catch(() => undefined),
    );

    // Once both are held on the instance, a third is refused at once.
    await vi.waitFor(async () => {
      const third = await app.call(`${REF}:third?wait=1`);
      expect(third.status).toBe(503);
      expect(third.headers.get('retry-after')).toBe('5');
      const problem = (await third.json()) as { detail: string };
      expect(problem.detail).toMatch(/MAX_WAITERS/);
    }, SETTLED);
    // A plain status read is not a long-poll: it is still answered.
    expect((await app.call(`${REF}:third`)).status).toBe(404);

    // The clients hang up long before their 120 s: the instance stops waiting for them.
    for (const client of clients) client.abort();
    await Promise.all(held);
    await vi.waitFor(async () => {
      const next = await app.call(`${REF}:third?wait=1`);
      expect(next.status).toBe(404);
    }, SETTLED);
  });
});
