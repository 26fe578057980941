// GET /api/events (the feed), GET /api/events/{id}, POST /api/events/{id}/redeliver.
import type { HttpHandler } from '@azure/functions';
import { z } from 'zod';
import type { Store } from '../app/ports';
import type { PublishDeps } from '../app/publish-events';
import { getEvent, readFeed, redeliver } from '../app/read-events';
import { fromCursor } from '../store/event-repository';
import { READ_ROLES, type Authenticate } from './auth';
import { handle, json, parseOr400 } from './handle';
import { HttpProblem } from './problem';

export interface EventDeps extends PublishDeps {
  store: PublishDeps['store'] & Pick<Store, 'events'>;
  authenticate: Authenticate;
}

export const feedQuerySchema = z.object({
  after: z
    .string()
    .max(500)
    .transform((cursor, ctx) => {
      const sortKey = fromCursor(cursor);
      if (sortKey === undefined) {
        ctx.addIssue({ code: 'custom', message: 'is not a cursor this API returned' });
        return z.NEVER;
      }
      return sortKey;
    })
    .optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});
export const eventIdParamsSchema = z.object({
  id: z.string().regex(/^[0-9a-f-]{36}$/, 'must be an event id'),
});

const notFound = (id: string) =>
  new HttpProblem({ status: 404, title: 'Not Found', detail: `no event ${id}` });

/** Pollers keep the returned cursor and pass it as `after`; an empty page keeps their cursor. */
export function makeEventFeedHandler(deps: EventDeps): HttpHandler {
  return handle(async (request) => {
    deps.authenticate(request, READ_ROLES);
    const query = parseOr400(
      feedQuerySchema,
      Object.fromEntries(request.query.entries()),
      'query',
      'query',
    );
    const page = await readFeed(deps, query.after, query.limit);
    const last = page.items.at(-1);
    return json(200, {
      events: page.items.map((item) => item.event),
      cursor: last?.cursor ?? request.query.get('after') ?? null,
    });
  });
}

export function makeGetEventHandler(deps: EventDeps): HttpHandler {
  return handle(async (request) => {
    deps.authenticate(request, READ_ROLES);
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
  return handle(async (request, context) => {
    deps.authenticate(request, ['admin']);
    const { id } = parseOr400(eventIdParamsSchema, request.params, 'path', 'path');
    const pending = await redeliver(deps, id);
    if (!pending) throw notFound(id);
    context.log(`redelivery of ${id} requested: ${pending.length} delivery(ies)`);
    deps.deliverNow(pending);
    return json(202, { id, deliveries: pending });
  });
}
