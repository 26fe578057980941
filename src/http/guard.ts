// Every route is admitted here, as src/http/routes.ts declares its `access`: the declaration the
// OpenAPI document is generated from is also the one enforced, so the two cannot drift. Handlers
// name their route and receive the caller; none of them checks a role itself.
import type {
  HttpHandler,
  HttpRequest,
  HttpResponseInit,
  InvocationContext,
} from '@azure/functions';
import { ADMIN_ROLES, READ_ROLES, tokenOf, WEBHOOK_ROLES, type Authorize, type Role } from './auth';
import { handle } from './handle';
import type { Access, RouteName } from './routes';

/** Who is calling: the role of their token (none on routes without one) and where it came from. */
export interface Caller {
  role: Role | undefined;
  /** `query` when the token came as `?token=` (the dashboard's links must then carry it on). */
  via: 'header' | 'query' | undefined;
}

export type RouteRun = (
  request: HttpRequest,
  context: InvocationContext,
  caller: Caller,
) => Promise<HttpResponseInit>;

/** Wraps a route's body: admission per the route's declared access, inside the problem boundary. */
export type Guard = (name: RouteName, run: RouteRun) => HttpHandler;

/** What each kind of access admits; `undefined`: no token is read (the route has its own check, or none). */
const POLICY: Record<Access, { roles: readonly Role[]; queryToken: boolean } | undefined> = {
  none: undefined,
  // X-Hub-Signature-256 over the raw body: verified by the handler, which holds the secret.
  signature: undefined,
  webhook: { roles: WEBHOOK_ROLES, queryToken: false },
  eventgrid: { roles: WEBHOOK_ROLES, queryToken: true },
  handshake: { roles: WEBHOOK_ROLES, queryToken: true },
  read: { roles: READ_ROLES, queryToken: false },
  // The read roles; on Azure the function key too (the host checks that, before us).
  check: { roles: READ_ROLES, queryToken: false },
  dashboard: { roles: READ_ROLES, queryToken: true },
  readQuery: { roles: READ_ROLES, queryToken: true },
  admin: { roles: ADMIN_ROLES, queryToken: false },
};

export function makeGuard(
  routes: readonly { name: string; access: Access }[],
  authorize: Authorize,
): Guard {
  return (name, run) => {
    const route = routes.find((r) => r.name === name);
    if (route === undefined) throw new Error(`no route ${name} is declared in src/http/routes.ts`);
    const policy = POLICY[route.access];
    return handle((request, context) => {
      if (policy === undefined) return run(request, context, { role: undefined, via: undefined });
      const { token, via } = tokenOf(request, policy.queryToken);
      return run(request, context, { role: authorize(token, policy.roles), via });
    });
  };
}
