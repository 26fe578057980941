// POST /api/gatekeeper/{region}: an OPA Gatekeeper external data provider (also called by Kyverno's apiCall) answering whether each image is in the region.
import type { HttpHandler } from '@azure/functions';
import { z } from 'zod';
import { checkImages, type CheckImagesDeps } from '../app/check-images';
import { StoreUnavailableError } from '../app/ports';
import { regionNameSchema } from '../replication/names';
import type { Guard } from './guard';
import { json, parseOr400, readJsonBody } from './handle';
import { HttpProblem } from './problem';

export interface GatekeeperDeps extends CheckImagesDeps {
  guard: Guard;
}

export const PROVIDER_API_VERSION = 'externaldata.gatekeeper.sh/v1beta1';
/** A pod names a few images; a namespace audit batches more. Beyond this, 413. */
export const MAX_PROVIDER_KEYS = 1000;
/** Its own limit, above MAX_BODY_BYTES: 1,000 keys of up to 1,024 characters fit. */
export const MAX_PROVIDER_BODY_BYTES = 1_200_000;

export const gatekeeperParamsSchema = z.object({ region: regionNameSchema });
export const gatekeeperQuerySchema = z.object({
  token: z
    .string()
    .max(512)
    .optional()
    .meta({ description: 'a read token: Gatekeeper sends no headers' }),
  code: z
    .string()
    .max(512)
    .optional()
    .meta({ description: 'on Azure, the function key if the route is set to authLevel function' }),
});

/** Gatekeeper's `ProviderRequest` (externaldata/v1beta1); `keys` may be absent (Go's omitempty). */
export const providerRequestSchema = z.object({
  apiVersion: z
    .string()
    .regex(/^externaldata\.gatekeeper\.sh\/v1(alpha1|beta1)?$/, `must be ${PROVIDER_API_VERSION}`)
    .optional(),
  kind: z.literal('ProviderRequest').optional(),
  request: z
    .object({ keys: z.array(z.string()).optional() })
    .optional()
    .meta({ description: '`keys`: image references as written in pod specs' }),
});

export function makeGatekeeperHandler(deps: GatekeeperDeps): HttpHandler {
  // Gatekeeper sends no headers: the read token may come as `?token=` (the route's declared access).
  return deps.guard('gatekeeperProvider', async (request, context) => {
    const { region } = parseOr400(gatekeeperParamsSchema, request.params, 'path', 'path');
    const body = parseOr400(
      providerRequestSchema,
      await readJsonBody(request, MAX_PROVIDER_BODY_BYTES),
      'body',
    );
    const keys = body.request?.keys ?? [];
    if (keys.length > MAX_PROVIDER_KEYS) {
      throw new HttpProblem({
        status: 413,
        title: 'Too many keys',
        detail: `request.keys: ${keys.length} keys; at most ${MAX_PROVIDER_KEYS} per request`,
        errors: [{ field: 'request.keys', detail: `at most ${MAX_PROVIDER_KEYS} keys` }],
      });
    }
    let response: Record<string, unknown>;
    try {
      // Idempotent: asking changes nothing (Gatekeeper requires it for mutation only).
      response = { idempotent: true, items: await checkImages(deps, region, keys) };
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      // The policy decides what an outage means (fail closed or open): say it, per protocol.
      context.error(`gatekeeper: store unavailable: ${error.message}`);
      response = {
        idempotent: true,
        items: [],
        systemError: 'the replication store could not be reached; nothing was checked',
      };
    }
    return json(200, { apiVersion: PROVIDER_API_VERSION, kind: 'ProviderResponse', response });
  });
}
