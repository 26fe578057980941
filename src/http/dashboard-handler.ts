// GET /api/dashboard[/{registry}]: the read-only HTML dashboard, for a read token in the header or, from a browser, in ?token=.
import type { HttpHandler, HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { loadIndexPage, loadRegistryPage, type DashboardDeps } from '../dashboard/load-dashboard';
import {
  CONTENT_SECURITY_POLICY,
  renderIndexPage,
  renderRegistryPage,
  type DashboardLinks,
} from '../dashboard/render-dashboard';
import { registrySchema } from '../replication/names';
import type { Guard } from './guard';
import { parseOr400 } from './handle';

export interface DashboardHandlerDeps extends DashboardDeps {
  guard: Guard;
}

export const dashboardParamsSchema = z.object({ registry: registrySchema.optional() });
export const dashboardQuerySchema = z.object({
  token: z
    .string()
    .max(512)
    .optional()
    .meta({ description: 'a read token, for browsers, which cannot send the header' }),
  registry: registrySchema
    .optional()
    .meta({ description: 'on /dashboard only: answers 303 to /dashboard/{registry}' }),
});

const HTML_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // The URL may carry the token: never send it on, never keep the page.
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const htmlPage = (body: string): HttpResponseInit => ({
  status: 200,
  body,
  headers: HTML_HEADERS,
});

export function makeDashboardHandler(deps: DashboardHandlerDeps): HttpHandler {
  // A browser cannot send `Authorization`, so the read token may also come as `?token=` (the
  // route's declared access); src/http/auth.ts says which wins when both come.
  return deps.guard('dashboard', async (request, _context, caller) => {
    const query = parseOr400(
      dashboardQuerySchema,
      Object.fromEntries(request.query.entries()),
      'query',
      'query',
    );
    const { registry } = parseOr400(dashboardParamsSchema, request.params, 'path', 'path');

    const path = new URL(request.url).pathname.replace(/\/+$/, '');
    const basePath = registry === undefined ? path : path.slice(0, path.lastIndexOf('/'));
    // Links carry the token only when it came in the URL: the viewer has no other way to send it.
    const links: DashboardLinks =
      caller.via === 'query' && query.token !== undefined
        ? { basePath, token: query.token }
        : { basePath };
    const viewer = { admin: caller.role === 'admin' };

    if (registry !== undefined) {
      return htmlPage(renderRegistryPage(await loadRegistryPage(deps, registry, viewer, links)));
    }
    if (query.registry !== undefined) {
      const target = `${basePath}/${encodeURIComponent(query.registry)}`;
      const search =
        links.token === undefined
          ? ''
          : `?${new URLSearchParams({ token: links.token }).toString()}`;
      return {
        status: 303,
        headers: { location: `${target}${search}`, 'cache-control': 'no-store' },
      };
    }
    return htmlPage(renderIndexPage(await loadIndexPage(deps, links)));
  });
}
