// GET /api/events (the feed), GET /api/events/{id}, POST /api/events/{id}/redeliver.
import type { HttpHandler } from '@azure/functions';
import { z } from 'zod';
import { eventCursor, InvalidEventCursorError, type Store } from '../app/ports';
import type { PublishDeps } from '../app/publish-events';
import { getEvent, readFeed, redeliver } from '../app/read-events';
import type { Guard } from './guard';
import { json, parseOr400 } from './handle';
import { HttpProblem } from './problem';

export interface EventDeps extends PublishDeps {
  store: PublishDeps['store'] & Pick<Store, 'events'>;
  guard: Guard;
}

export const feedQuerySchema = z.object({
  /** Opaque: the store checks it (InvalidEventCursorError, answered 400 naming `query.after`). */
  after: z.string().max(500).transform(eventCursor).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});
export const eventIdParamsSchema = z.object({
  id: z.string().regex(/^[0-9a-f-]{36}$/, 'must be an event id'),
});

const notFound = (id: string) =>
  new HttpProblem({ status: 404, title: 'Not Found', detail: `no event ${id}` });

/** Pollers keep the returned cursor and pass it as `after`; an empty page keeps their cursor. */
export function makeEventFeedHandler(deps: EventDeps): HttpHandler {
  return deps.guard('eventFeed', async (request) => {
    const query = parseOr400(
      feedQuerySchema,
      Object.fromEntries(request.query.entries()),
      'query',
      'query',
    );
    const page = await readFeed(deps, query.after, query.limit).catch((error: unknown) => {
      if (!(error instanceof InvalidEventCursorError)) throw error;
      const detail = 'is not a cursor this API returned';
      throw new HttpProblem({
        status: 400,
        title: 'Invalid query',
        detail: `query.after: ${detail}`,
        errors: [{ field: 'query.after', detail }],
      });
    });
    const last = page.items.at(-1);
    return json(200, {
      events: page.items.map((item) => item.event),
      cursor: last?.cursor ?? request.query.get('after') ?? null,
    });
  });
}

export function makeGetEventHandler(deps: EventDeps): HttpHandler {
  return deps.guard('getEvent', async (request) => {
    const { id } = parseOr400(eventIdParamsSchema, request.params, 'path', 'path');
    const found = await getEvent(deps, id);
    if (!found) throw notFound(id);
    return json(200, {
      event: found.event,
      recordedAt: found.recordedAt,
      deliveries: found.deliveries,
    });
  });
}

export function makeRedeliverHandler(
  deps: EventDeps & {
    deliverNow: (deliveries: Awaited<ReturnType<typeof redeliver>> & object) => void;
  },
): HttpHandler {
  return deps.guard('redeliverEvent', async (request, context) => {
    const { id } = parseOr400(eventIdParamsSchema, request.params, 'path', 'path');
    const pending = await redeliver(deps, id);
    if (!pending) throw notFound(id);
    context.log(`redelivery of ${id} requested: ${pending.length} delivery(ies)`);
    deps.deliverNow(pending);
    return json(202, { id, deliveries: pending });
  });
}
