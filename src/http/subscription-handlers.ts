// POST/GET /api/subscriptions and GET/DELETE /api/subscriptions/{id}: where events go (admin).
import type { HttpHandler } from '@azure/functions';
import { z } from 'zod';
import { createSubscription, toSubscriptionView } from '../app/manage-subscriptions';
import type { Clock, Store } from '../app/ports';
import { RESERVED_HEADERS } from '../events/delivery-request';
import {
  ARRIVED_EVENT_TYPE,
  REPLICATED_EVENT_TYPE,
  STALLED_EVENT_TYPE,
} from '../events/replicated-event';
import { SUBSCRIPTION_FORMATS } from '../events/types';
import type { OutboundGuard } from '../net/outbound-guard';
import { regionNameSchema, registrySchema } from '../replication/names';
import type { Guard } from './guard';
import { json, parseOr400, readJsonBody } from './handle';
import { HttpProblem } from './problem';

export interface SubscriptionDeps {
  store: Pick<Store, 'subscriptions'>;
  clock: Clock;
  guard: Guard;
  maxBodyBytes: number;
  /** Refuses loopback, private and metadata destinations here, and again on every attempt. */
  outboundGuard?: Pick<OutboundGuard, 'refusal'>;
}

/** The final word: fetch's own Headers check, with a value already within the pattern above. */
function fetchAccepts(value: string): boolean {
  try {
    new Headers({ 'x-check': value });
    return true;
  } catch {
    return false;
  }
}

export const newSubscriptionSchema = z.strictObject({
  url: z
    .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
    .max(2048)
    .refine((u) => !new URL(u).username && !new URL(u).password, {
      message: 'must not carry credentials; use headers',
    }),
  format: z.enum(SUBSCRIPTION_FORMATS).default('cloudevents'),
  secret: z.string().min(16, 'must be at least 16 characters').max(256).optional(),
  filter: z
    .strictObject({
      registry: registrySchema.optional(),
      repository: z
        .string()
        .min(1)
        .max(256)
        .regex(/^[a-z0-9._\-/*]+$/, 'must be a repository glob')
        .optional(),
      tag: z
        .string()
        .min(1)
        .max(128)
        .regex(/^[A-Za-z0-9._\-*]+$/, 'must be a tag glob')
        .optional(),
      regions: z
        .array(regionNameSchema)
        .min(1)
        .max(50)
        .optional()
        .meta({ description: 'acrgate.tag.arrived events of these regions only' }),
    })
    .default({}),
  headers: z
    .record(
      z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be a header name'),
      z
        .string()
        .max(1024)
        // What fetch can send: tab, space, visible ASCII and Latin-1. NUL, CR, LF, other control
        // characters or anything beyond U+00FF would make every attempt fail, quoting the value.
        .regex(
          /^[\t\x20-\x7e\x80-\xff]*$/,
          'must be printable: no control characters, nothing beyond U+00FF',
        )
        .refine(fetchAccepts, { message: 'is not a value fetch can send' }),
    )
    .refine((h) => Object.keys(h).every((name) => !RESERVED_HEADERS.has(name.toLowerCase())), {
      message: 'must not set content-type, user-agent or signature headers',
    })
    .refine((h) => Object.keys(h).length <= 20, { message: 'at most 20 headers' })
    .default({}),
  types: z
    .array(z.enum([REPLICATED_EVENT_TYPE, STALLED_EVENT_TYPE, ARRIVED_EVENT_TYPE]))
    .max(10)
    .default([]),
});

export const subscriptionIdParamsSchema = z.object({
  id: z.uuid({ message: 'must be a subscription id' }),
});

export function makeCreateSubscriptionHandler(deps: SubscriptionDeps): HttpHandler {
  return deps.guard('createSubscription', async (request, context) => {
    const body = parseOr400(
      newSubscriptionSchema,
      await readJsonBody(request, deps.maxBodyBytes),
      'body',
    );
    if (
      body.format === 'cloudevents' &&
      body.secret !== undefined &&
      !/^whsec_[A-Za-z0-9+/=]{16,}$/.test(body.secret)
    ) {
      throw new HttpProblem({
        status: 400,
        title: 'Invalid body',
        detail:
          'secret: a cloudevents subscription is signed per Standard Webhooks: whsec_ followed by base64',
        errors: [{ field: 'secret', detail: 'must be whsec_ followed by base64' }],
      });
    }
    const refusal = await deps.outboundGuard?.refusal(body.url);
    if (refusal !== undefined) {
      throw new HttpProblem({
        status: 400,
        title: 'Invalid body',
        detail: `url: ${refusal}`,
        errors: [{ field: 'url', detail: refusal }],
      });
    }
    const subscription = await createSubscription(deps, body);
    context.log(
      `subscription ${subscription.id} created for ${new URL(subscription.url).origin} (${subscription.format})`,
    );
    // The secret is shown this once, so the receiver can be configured with it.
    return json(
      201,
      { ...toSubscriptionView(subscription), secret: subscription.secret },
      {
        location: `/api/subscriptions/${subscription.id}`,
      },
    );
  });
}

export function makeListSubscriptionsHandler(deps: SubscriptionDeps): HttpHandler {
  return deps.guard('listSubscriptions', async () => {
    const subscriptions = await deps.store.subscriptions.list();
    return json(200, { subscriptions: subscriptions.map(toSubscriptionView) });
  });
}

export function makeGetSubscriptionHandler(deps: SubscriptionDeps): HttpHandler {
  return deps.guard('getSubscription', async (request) => {
    const { id } = parseOr400(subscriptionIdParamsSchema, request.params, 'path', 'path');
    const subscription = await deps.store.subscriptions.get(id);
    if (!subscription)
      throw new HttpProblem({ status: 404, title: 'Not Found', detail: `no subscription ${id}` });
    return json(200, toSubscriptionView(subscription));
  });
}

export function makeDeleteSubscriptionHandler(deps: SubscriptionDeps): HttpHandler {
  return deps.guard('deleteSubscription', async (request) => {
    const { id } = parseOr400(subscriptionIdParamsSchema, request.params, 'path', 'path');
    if (!(await deps.store.subscriptions.delete(id))) {
      throw new HttpProblem({ status: 404, title: 'Not Found', detail: `no subscription ${id}` });
    }
    return { status: 204 };
  });
}
