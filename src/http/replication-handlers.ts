// GET /api/replications/{registry}/{*reference} and GET /api/replications/{registry}: the completion API.
import type { HttpHandler } from '@azure/functions';
import { z } from 'zod';
import { InvalidContinuationTokenError } from '../app/ports';
import { listStatuses, type Reference, type StatusBody } from '../app/read-status';
import { waitForReplication, type WaitDeps } from '../app/wait-for-replication';
import { checkScope, type RegionsDeps } from '../app/required-regions';
import {
  digestSchema,
  parseReference,
  regionNameSchema,
  registrySchema,
  repositorySchema,
} from '../replication/names';
import type { Guard } from './guard';
import { clientGoneSignal } from './client-gone';
import { json, parseOr400 } from './handle';
import { HttpProblem } from './problem';

export interface ReadDeps extends Pick<RegionsDeps, 'store' | 'defaultRegions'> {
  guard: Guard;
}

export interface StatusDeps extends ReadDeps, Omit<WaitDeps, keyof ReadDeps> {}

/** When a client refused for too many waiters should come back. */
const BUSY_RETRY_AFTER_SECONDS = 5;

/** Under the 230 s the Azure load balancer allows an HTTP request. */
export const MAX_WAIT_SECONDS = 200;

/** `repository:tag` or `repository@sha256:…`; the repository may contain `/`. */
export const referenceSchema = z
  .string()
  .max(600)
  .transform((text, ctx): Reference => {
    const parsed = parseReference(text);
    if (parsed.ok) return parsed.reference;
    ctx.addIssue({ code: 'custom', message: parsed.message });
    return z.NEVER;
  });

export const statusParamsSchema = z.object({
  registry: registrySchema,
  reference: referenceSchema,
});
/** `eastus,westeurope`: a comma-separated list of region names. */
export const regionListSchema = z
  .string()
  .max(2000)
  .transform((text) => text.split(',').map((r) => r.trim()))
  .pipe(z.array(regionNameSchema).min(1).max(50));

export const statusQuerySchema = z.object({
  wait: z.coerce.number().min(0).max(MAX_WAIT_SECONDS).optional(),
  digest: digestSchema.optional(),
  regions: regionListSchema.optional(),
});
export const listParamsSchema = z.object({ registry: registrySchema });
export const listQuerySchema = z.object({
  repository: repositorySchema.optional(),
  status: z.enum(['replicating', 'replicated', 'deleted']).optional(),
  continuationToken: z.string().max(4096).optional(),
  pageSize: z.coerce.number().int().min(1).max(100).default(50),
});

const queryObject = (query: URLSearchParams): Record<string, string> =>
  Object.fromEntries(query.entries());

const describe = (registry: string, reference: Reference): string =>
  reference.kind === 'tag'
    ? `${registry}/${reference.repository}:${reference.tag}`
    : `${registry}/${reference.repository}@${reference.digest}`;

/** The status of one tag; with `?wait=N`, a long-poll that answers the moment it is replicated. */
export function makeStatusHandler(deps: StatusDeps): HttpHandler {
  return deps.guard('replicationStatus', async (request, context) => {
    const { registry, reference } = parseOr400(statusParamsSchema, request.params, 'path', 'path');
    const query = parseOr400(statusQuerySchema, queryObject(request.query), 'query', 'query');
    let scope: string[] | undefined;
    if (query.regions !== undefined) {
      const checked = await checkScope(deps, registry, query.regions);
      if (!checked.ok) {
        const detail = `${checked.unknown.join(', ')} ${checked.unknown.length === 1 ? 'is' : 'are'} not among the regions of ${registry} (${checked.configured.join(', ') || 'none'})`;
        throw new HttpProblem({
          status: 400,
          title: 'Invalid query',
          detail: `query.regions: ${detail}`,
          errors: [{ field: 'query.regions', detail }],
          extensions: { unknownRegions: checked.unknown },
        });
      }
      scope = checked.scope;
    }
    const signal = clientGoneSignal(context);
    const outcome = await waitForReplication(deps, registry, reference, {
      timeoutMs: (query.wait ?? 0) * 1000,
      ...(query.digest === undefined ? {} : { digest: query.digest }),
      ...(scope === undefined ? {} : { scope }),
      ...(signal === undefined ? {} : { signal }),
    });
    if (outcome.kind === 'busy') {
      throw new HttpProblem({
        status: 503,
        title: 'Too many waiting requests',
        detail: `this instance already holds ${outcome.maxWaiters} long-polls (MAX_WAITERS); retry later, or poll without ?wait`,
        headers: { 'retry-after': String(BUSY_RETRY_AFTER_SECONDS) },
      });
    }
    // Nobody reads this answer: the client is gone. 499 is the usual log code for that.
    if (outcome.kind === 'abandoned') return { status: 499 };
    if (outcome.kind === 'moved') {
      throw new HttpProblem({
        status: 409,
        title: 'Digest moved',
        detail: `${describe(registry, reference)} now points at ${outcome.status.digest ?? 'another digest'}, not ${outcome.digest}`,
        // `current`, not `status`: RFC 9457 reserves `status` for the HTTP status code.
        extensions: { digest: outcome.status.digest, current: outcome.status },
      });
    }
    if (!outcome.status) {
      throw new HttpProblem({
        status: 404,
        title: 'Not Found',
        detail: `no arrival of ${describe(registry, reference)} has been recorded`,
      });
    }
    const pinned = query.digest;
    const body =
      pinned !== undefined && outcome.status.digest !== pinned
        ? notYetReported(outcome.status, pinned)
        : outcome.status;
    return json(200, body, {
      'x-acr-gate-wait': outcome.kind === 'timeout' ? 'timeout' : 'settled',
    });
  });
}

export function makeListHandler(deps: ReadDeps): HttpHandler {
  return deps.guard('replicationList', async (request) => {
    const { registry } = parseOr400(listParamsSchema, request.params, 'path', 'path');
    const query = parseOr400(listQuerySchema, queryObject(request.query), 'query', 'query');
    const page = await listStatuses(deps, {
      registry,
      pageSize: query.pageSize,
      ...(query.repository === undefined ? {} : { repository: query.repository }),
      ...(query.status === undefined ? {} : { status: query.status }),
      ...(query.continuationToken === undefined
        ? {}
        : { continuationToken: query.continuationToken }),
    }).catch((error: unknown) => {
      if (!(error instanceof InvalidContinuationTokenError)) throw error;
      const detail = 'is not a continuation token this API returned for this query';
      throw new HttpProblem({
        status: 400,
        title: 'Invalid query',
        detail: `query.continuationToken: ${detail}`,
        errors: [{ field: 'query.continuationToken', detail }],
      });
    });
    return json(200, { registry, ...page });
  });
}

/**
 * `?digest=` names a digest no region has reported yet (the tag still points at an older one):
 * the answer is about the pinned digest, which is in no region, never the older digest's
 * `replicated`, so a check on `status == 'replicated'` cannot pass on the previous image.
 */
export function notYetReported(current: StatusBody, pinned: string): StatusBody {
  return {
    ...current,
    digest: pinned,
    status: 'replicating',
    regions: current.regions.map(({ region, required, digest }) =>
      digest === undefined
        ? { region, required, status: 'pending' as const }
        : { region, required, status: 'stale' as const, digest },
    ),
    missingRegions: [...current.requiredRegions],
    pushedAt: null,
    replicatedAt: null,
    eventId: null,
    reason: `no region has reported ${pinned} yet; the tag still points at ${current.digest ?? 'no digest'}`,
  };
}
