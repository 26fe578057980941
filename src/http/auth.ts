// Bearer tokens: compared in constant time against every configured token, so rotation is seamless.
// The one place a request's token is found (tokenOf) and checked (authorize); src/http/guard.ts
// applies both to every route as src/http/routes.ts declares its `access`. No token is ever logged.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { HttpRequest } from '@azure/functions';
import { HttpProblem } from './problem';

export type Role = 'webhook' | 'read' | 'admin';

/** Routes that only read (status, list, wait, events, dashboard): a read or an admin token. */
export const READ_ROLES: readonly Role[] = Object.freeze(['read', 'admin']);
/** Routes that deliver arrivals (`/webhooks/acr/{region}`, `/webhooks/eventgrid`): a webhook token only. */
export const WEBHOOK_ROLES: readonly Role[] = Object.freeze(['webhook']);
/** Routes that change configuration: an admin token only. */
export const ADMIN_ROLES: readonly Role[] = Object.freeze(['admin']);

export interface TokenSets {
  webhook: readonly string[];
  /** May be empty: then only admin tokens read. Webhook tokens never do (least privilege). */
  read: readonly string[];
  admin: readonly string[];
}

/** Where a request's token came from: `query` only on the routes that take `?token=`. */
export interface Credential {
  token: string | undefined;
  via: 'header' | 'query' | undefined;
}

const unauthorized = (detail: string, challenge: string) =>
  new HttpProblem({
    status: 401,
    title: 'Unauthorized',
    detail,
    headers: { 'www-authenticate': challenge },
  });

const BEARER = /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i;

/**
 * The request's token. Precedence, the one rule: **the Authorization header wins**. When the
 * header is present it alone is read (a malformed one is a 401, never a fall-back to the query);
 * `?token=` is read only where `takesQueryToken` (clients that cannot send headers: browsers,
 * Gatekeeper, Event Grid subscription URLs) and only when no header came. A request that carries
 * both is from a client that can send headers, so the header -- which proxies do not log -- is
 * the credential, and the role is always that of exactly one token, never the better of two.
 */
export function tokenOf(request: HttpRequest, takesQueryToken: boolean): Credential {
  const header = request.headers.get('authorization');
  if (header !== null) {
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) {
      throw unauthorized('the Authorization header must carry a bearer token', 'Bearer');
    }
    return { token, via: 'header' };
  }
  const query = takesQueryToken ? request.query.get('token') : null;
  return query === null ? { token: undefined, via: undefined } : { token: query, via: 'query' };
}

// Hashing first gives equal-length inputs, so timingSafeEqual never leaks a length.
const digestOf = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/** Returns the token's role, or throws a 401/403 problem. `allowed` lists the roles the route takes. */
export type Authorize = (token: string | undefined, allowed: readonly Role[]) => Role;

export function makeAuthorizer(tokens: TokenSets): Authorize {
  const hashed = {
    webhook: tokens.webhook.map(digestOf),
    read: tokens.read.map(digestOf),
    admin: tokens.admin.map(digestOf),
  };
  const matches = (candidate: Buffer, set: Buffer[]): boolean =>
    set.reduce((found, known) => timingSafeEqual(candidate, known) || found, false);

  return function authorize(token, allowed) {
    if (token === undefined || token === '') {
      throw unauthorized(
        'the Authorization header must carry a bearer token' +
          (token === '' ? ' (?token= is empty)' : ''),
        'Bearer',
      );
    }
    const candidate = digestOf(token);
    const isAdmin = matches(candidate, hashed.admin);
    const isRead = matches(candidate, hashed.read);
    const isWebhook = matches(candidate, hashed.webhook);
    // Settings refuse a token in two roles, so at most one of these holds.
    const role: Role | null = isAdmin ? 'admin' : isRead ? 'read' : isWebhook ? 'webhook' : null;
    if (role === null) {
      throw unauthorized('the bearer token is not valid', 'Bearer error="invalid_token"');
    }
    if (!allowed.includes(role)) {
      throw new HttpProblem({
        status: 403,
        title: 'Forbidden',
        detail:
          `this route needs a ${allowed.join(' or ')} token` +
          (role === 'webhook' && allowed.includes('read')
            ? ': webhook tokens only deliver arrivals; use one of READ_TOKENS'
            : ''),
      });
    }
    return role;
  };
}
