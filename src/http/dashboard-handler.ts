// GET /api/dashboard[/{registry}]: the read-only HTML dashboard, for a read token in the header or, from a browser, in ?token=.
import { HttpRequest, type HttpHandler, type HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { loadIndexPage, loadRegistryPage, type DashboardDeps } from '../dashboard/load-dashboard';
import {
  CONTENT_SECURITY_POLICY,
  renderIndexPage,
  renderRegistryPage,
  type DashboardLinks,
} from '../dashboard/render-dashboard';
import { registrySchema } from '../replication/names';
import { READ_ROLES, type Authenticate } from './auth';
import { handle, parseOr400 } from './handle';

export interface DashboardHandlerDeps extends DashboardDeps {
  authenticate: Authenticate;
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

/**
 * A browser cannot send `Authorization`, so this route alone also takes the token as `?token=`;
 * the header wins when both are present. The same checks apply either way.
 */
function withQueryToken(request: HttpRequest, token: string | undefined): HttpRequest {
  if (token === undefined || request.headers.has('authorization')) return request;
  return new HttpRequest({
    method: request.method,
    url: request.url,
    headers: { authorization: `Bearer ${token}` },
  });
}

export function makeDashboardHandler(deps: DashboardHandlerDeps): HttpHandler {
  return handle(async (request) => {
    const role = deps.authenticate(
      withQueryToken(request, request.query.get('token') ?? undefined),
      READ_ROLES,
    );
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
      query.token !== undefined && !request.headers.has('authorization')
        ? { basePath, token: query.token }
        : { basePath };
    const viewer = { admin: role === 'admin' };

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
