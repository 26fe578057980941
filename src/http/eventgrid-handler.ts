// POST/OPTIONS /api/webhooks/eventgrid: ACR arrivals delivered (and retried) by Azure Event Grid, either schema.
import type { HttpHandler, HttpResponseInit } from '@azure/functions';
import { changedState, recordArrival } from '../app/record-arrival';
import type { RegionsDeps } from '../app/required-regions';
import { acrEventSchema, toIntent, type Intent } from '../replication/acr-event';
import {
  cloudEventSchema,
  eventGridEventSchema,
  fromCloudEvent,
  fromEventGridEvent,
  imageActionOf,
  SUBSCRIPTION_VALIDATION_EVENT,
  validationDataSchema,
  type DeliveredEvent,
} from '../replication/event-grid-event';
import { regionNameSchema } from '../replication/names';
import type { Guard } from './guard';
import { json, readJsonBody } from './handle';
import { fieldErrors, HttpProblem, type FieldError } from './problem';
import { isRecord } from '../util/values';
import { ImplausibleTimestampError } from '../app/ports';

export interface EventGridDeps extends RegionsDeps {
  guard: Guard;
  maxBodyBytes: number;
}

const CONTENT_TYPES = [
  'application/json',
  'application/cloudevents+json',
  'application/cloudevents-batch+json',
];

type Planned =
  | {
      kind: 'arrival';
      event: DeliveredEvent;
      intent: Arrival;
      region: string;
      payload: Record<string, unknown>;
    }
  | { kind: 'ignore'; event: DeliveredEvent; reason: string }
  | { kind: 'validation'; event: DeliveredEvent; code: string };

type Arrival = Extract<Intent, { kind: 'push' | 'delete' }>;

export interface EventResult {
  id: string;
  type: string;
  /** `recorded` changed the stored state; `unchanged` was already known (or matched no tag). */
  outcome: 'recorded' | 'unchanged' | 'ignored';
  region?: string;
  reason?: string;
}

/** What one delivered event asks for, or the field errors that make it invalid. */
function plan(event: DeliveredEvent, at: string): Planned | FieldError[] {
  if (event.type === SUBSCRIPTION_VALIDATION_EVENT) {
    const data = validationDataSchema.safeParse(event.data);
    if (!data.success) return fieldErrors(data.error, `${at}data`);
    return { kind: 'validation', event, code: data.data.validationCode };
  }
  const action = imageActionOf(event.type);
  if (action === undefined) {
    return { kind: 'ignore', event, reason: 'not an image push or delete' };
  }
  if (!isRecord(event.data)) {
    return [{ field: `${at}data`, detail: 'must be the ACR event object' }];
  }
  if (isRecord(event.data.connectedRegistry)) {
    // A connected (on-premises) registry is not a replica region of the registry.
    return { kind: 'ignore', event, reason: 'connected registry events are not replica arrivals' };
  }
  const errors: FieldError[] = [];
  const region = regionNameSchema.safeParse(event.data.location);
  if (!region.success) errors.push(...fieldErrors(region.error, `${at}data.location`));
  // Kept as the webhook body (relayed to `acr` subscriptions), so without Event Grid's location;
  // the action is filled in should a producer leave it out.
  const { location: _location, ...fields } = event.data;
  const payload = { ...fields, action: fields.action ?? action };
  const parsed = acrEventSchema.safeParse(payload);
  if (!parsed.success) errors.push(...fieldErrors(parsed.error, `${at}data`));
  else if (parsed.data.action !== action) {
    errors.push({ field: `${at}data.action`, detail: `must be ${action} for ${event.type}` });
  }
  if (errors.length > 0 || !parsed.success || !region.success) return errors;
  const intent = toIntent(parsed.data, { countQuarantine: false });
  if (intent.kind !== 'push' && intent.kind !== 'delete') {
    return { kind: 'ignore', event, reason: `${parsed.data.action} events are not arrivals` };
  }
  return { kind: 'arrival', event, intent, region: region.data, payload };
}

/** The events of a delivery with their paths (`[2].` in a batch, `` for a single CloudEvent). */
function unpack(
  body: unknown,
  contentType: string,
): { at: string; item: unknown }[] | FieldError[] {
  if (contentType === 'application/cloudevents+json' || (isRecord(body) && 'specversion' in body)) {
    return [{ at: '', item: body }];
  }
  if (!Array.isArray(body)) {
    return [{ field: '(body)', detail: 'must be a JSON array of events' }];
  }
  if (body.length === 0) return [{ field: '(body)', detail: 'must hold at least one event' }];
  return (body as unknown[]).map((item, i) => ({ at: `[${i}].`, item }));
}

function parseEnvelope(
  item: unknown,
  at: string,
  cloudEvents: boolean,
): DeliveredEvent | FieldError[] {
  const prefix = at.replace(/\.$/, '') || undefined;
  if (cloudEvents || (isRecord(item) && 'specversion' in item)) {
    const parsed = cloudEventSchema.safeParse(item);
    return parsed.success ? fromCloudEvent(parsed.data) : fieldErrors(parsed.error, prefix);
  }
  const parsed = eventGridEventSchema.safeParse(item);
  return parsed.success ? fromEventGridEvent(parsed.data) : fieldErrors(parsed.error, prefix);
}

export function makeEventGridHandler(deps: EventGridDeps): HttpHandler {
  // The webhook token, as `Authorization: Bearer …` or as `?token=…` (the route's declared access):
  // an Event Grid subscription's URL always reaches the validation handshake, a header may not.
  // Not `?code=`: that is the Functions host's key parameter.
  return deps.guard('eventGridWebhook', async (request, context) => {
    const body = await readJsonBody(request, deps.maxBodyBytes, CONTENT_TYPES);
    const contentType = (request.headers.get('content-type') ?? '').split(';')[0]?.trim();
    const cloudEvents = contentType?.toLowerCase().startsWith('application/cloudevents') ?? false;

    // A delivery that is not a list of events (or an empty one) is refused whole: nothing in it.
    const unpacked = unpack(body, contentType?.toLowerCase() ?? '');
    const envelope = unpacked.filter((entry): entry is FieldError => 'field' in entry);
    if (envelope.length > 0) throw invalidDelivery(envelope);

    // Each event on its own: Event Grid answers a batch as a whole and never retries a 400, so
    // one invalid event must not take the valid ones of its batch down with it.
    const rejected: RejectedEvent[] = [];
    const planned: { index: number; at: string; step: Planned }[] = [];
    unpacked.forEach((entry, index) => {
      if ('field' in entry) return;
      const event = parseEnvelope(entry.item, entry.at, cloudEvents);
      const step = Array.isArray(event) ? event : plan(event, entry.at);
      if (Array.isArray(step)) rejected.push(rejection(index, entry.item, step));
      else planned.push({ index, at: entry.at, step });
    });

    const validation = planned.find((p) => p.step.kind === 'validation')?.step;
    const results: EventResult[] = [];
    // In order, one at a time: a 503 half-way leaves the rest for Event Grid's retry of the batch.
    for (const { index, at, step } of planned) {
      const { id, type } = step.event;
      if (step.kind === 'validation') continue;
      if (step.kind === 'ignore') {
        results.push({ id, type, outcome: 'ignored', reason: step.reason });
        continue;
      }
      let outcome: Awaited<ReturnType<typeof recordArrival>>;
      try {
        outcome = await recordArrival(deps, step.intent, step.region, step.payload);
      } catch (error) {
        if (!(error instanceof ImplausibleTimestampError)) throw error;
        rejected.push(
          rejection(index, step.event, [{ field: `${at}data.timestamp`, detail: error.message }], {
            id,
            type,
          }),
        );
        continue;
      }
      const recorded = changedState(outcome);
      context.log(
        `eventgrid ${step.intent.kind} ${step.intent.registry}/${step.intent.repository}@${step.intent.digest} ` +
          `in ${step.region}: ${recorded ? 'recorded' : 'already known'}`,
      );
      results.push({ id, type, outcome: recorded ? 'recorded' : 'unchanged', region: step.region });
    }
    rejected.sort((a, b) => a.index - b.index);
    // Nothing valid: a 400 (nothing was stored), which Event Grid dead-letters where configured.
    if (rejected.length === unpacked.length) {
      throw invalidDelivery(rejected.flatMap((r) => r.errors));
    }
    for (const r of rejected) {
      // The only trace of an event acknowledged but not recorded: someone must look at it.
      context.error(
        `ALERT eventgrid event [${r.index}] (id ${r.id ?? '?'}, type ${r.type ?? '?'}) of a batch of ${unpacked.length} ` +
          `not recorded, the rest acknowledged: ${r.errors.map((e) => `${e.field}: ${e.detail}`).join('; ')}`,
      );
    }
    if (validation?.kind === 'validation') {
      context.log(`eventgrid subscription validation answered (event ${validation.event.id})`);
      return json(200, { validationResponse: validation.code });
    }
    return json(200, rejected.length > 0 ? { results, rejected } : { results });
  });
}

/** An event of a batch that was not recorded, by its index in the batch. */
export interface RejectedEvent {
  index: number;
  id?: string;
  type?: string;
  errors: FieldError[];
}

/** Names what can be read of a refused event: its id and type, when they are strings. */
function rejection(
  index: number,
  item: unknown,
  errors: FieldError[],
  known: { id?: string; type?: string } = {},
): RejectedEvent {
  // Echoed in the answer and the alert line: printable ASCII only, so no line can be forged.
  const text = (value: unknown) =>
    typeof value === 'string' && /^[\x20-\x7e]{1,200}$/.test(value) ? value : undefined;
  const id = known.id ?? (isRecord(item) ? text(item.id) : undefined);
  const type = known.type ?? (isRecord(item) ? text(item.eventType ?? item.type) : undefined);
  return {
    index,
    ...(id === undefined ? {} : { id }),
    ...(type === undefined ? {} : { type }),
    errors: errors.slice(0, 10),
  };
}

function invalidDelivery(errors: FieldError[]): HttpProblem {
  const first = errors[0];
  return new HttpProblem({
    status: 400,
    title: 'Invalid Event Grid delivery',
    ...(first === undefined ? {} : { detail: `${first.field}: ${first.detail}` }),
    errors: errors.slice(0, 20),
  });
}

/** Header values we echo must stay one plain token: a host name such as eventgrid.azure.net. */
const ORIGIN = /^[A-Za-z0-9.:-]{1,253}$/;

/** CloudEvents 1.0 abuse protection (HTTP webhook spec): Event Grid asks before its first delivery. */
export function makeEventGridOptionsHandler(deps: Pick<EventGridDeps, 'guard'>): HttpHandler {
  // Our endpoint URL carries ?token=, and Event Grid sends that URL to the handshake: without
  // the check (the route's declared access), any tenant could validate a subscription aimed at the gate.
  return deps.guard('eventGridHandshake', (request): Promise<HttpResponseInit> => {
    const origin = request.headers.get('webhook-request-origin')?.trim();
    if (!origin || !ORIGIN.test(origin)) {
      throw new HttpProblem({
        status: 400,
        title: 'Invalid abuse-protection request',
        detail: 'webhook-request-origin: must be the sender host, e.g. eventgrid.azure.net',
        errors: [{ field: 'webhook-request-origin', detail: 'must be a host name' }],
      });
    }
    return Promise.resolve({
      status: 200,
      headers: {
        'webhook-allowed-origin': origin,
        'webhook-allowed-rate': '*',
        allow: 'POST, OPTIONS',
        'cache-control': 'no-store',
      },
    });
  });
}
