// Bearer tokens: compared in constant time against every configured token, so rotation is seamless.
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

// Hashing first gives equal-length inputs, so timingSafeEqual never leaks a length.
const digestOf = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

export function makeAuthenticator(tokens: TokenSets) {
  const hashed = {
    webhook: tokens.webhook.map(digestOf),
    read: tokens.read.map(digestOf),
    admin: tokens.admin.map(digestOf),
  };
  const matches = (candidate: Buffer, set: Buffer[]): boolean =>
    set.reduce((found, known) => timingSafeEqual(candidate, known) || found, false);

  /** Returns the caller's role, or throws a 401/403 problem. `allowed` lists the roles the route takes. */
  return function authenticate(request: HttpRequest, allowed: readonly Role[]): Role {
    const header = request.headers.get('authorization');
    const match = header === null ? null : /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i.exec(header);
    if (!match?.[1]) {
      throw new HttpProblem({
        status: 401,
        title: 'Unauthorized',
        detail: 'the Authorization header must carry a bearer token',
        headers: { 'www-authenticate': 'Bearer' },
      });
    }
    const candidate = digestOf(match[1]);
    const isAdmin = matches(candidate, hashed.admin);
    const isRead = matches(candidate, hashed.read);
    const isWebhook = matches(candidate, hashed.webhook);
    // Settings refuse a token in two roles, so at most one of these holds.
    const role: Role | null = isAdmin ? 'admin' : isRead ? 'read' : isWebhook ? 'webhook' : null;
    if (role === null) {
      throw new HttpProblem({
        status: 401,
        title: 'Unauthorized',
        detail: 'the bearer token is not valid',
        headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
      });
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

export type Authenticate = ReturnType<typeof makeAuthenticator>;
