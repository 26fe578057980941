// GET /api/health: liveness, and whether the store answers.
import type { HttpHandler } from '@azure/functions';
import type { Store } from '../app/ports';
import type { Guard } from './guard';
import { json } from './handle';

export function makeHealthHandler(deps: { store: Pick<Store, 'ping'>; guard: Guard }): HttpHandler {
  return deps.guard('health', async (_request, context) => {
    const started = Date.now();
    try {
      await deps.store.ping();
      return json(200, {
        status: 'healthy',
        store: { status: 'reachable', latencyMs: Date.now() - started },
      });
    } catch (error) {
      context.warn(`health: store unreachable: ${(error as Error).message}`);
      return json(503, { status: 'unhealthy', store: { status: 'unreachable' } });
    }
  });
}
