// The one token rule: where a request's token is read from, and what it is allowed.
import { HttpRequest } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { makeAuthorizer, READ_ROLES, tokenOf } from './auth';
import { HttpProblem } from './problem';

const authorize = makeAuthorizer({
  webhook: ['webhook-token-0123456789'],
  read: ['read-token-0123456789'],
  admin: ['admin-token-0123456789'],
});

const request = (query: string, authorization?: string) =>
  new HttpRequest({
    method: 'GET',
    url: `http://127.0.0.1/api/x${query}`,
    headers: authorization === undefined ? {} : { authorization },
  });

/** The problem a call throws (fails the test if it does not throw one). */
function problemOf(run: () => unknown) {
  try {
    run();
  } catch (error) {
    if (error instanceof HttpProblem) return error.problem;
    throw error;
  }
  throw new Error('expected a problem');
}

describe('tokenOf', () => {
  it('reads the header; ?token= only where the route takes it, and only without a header', () => {
    expect(tokenOf(request('?token=q-token', 'Bearer h-token'), true)).toEqual({
      token: 'h-token',
      via: 'header',
    });
    expect(tokenOf(request('?token=q-token'), true)).toEqual({ token: 'q-token', via: 'query' });
    expect(tokenOf(request('?token=q-token'), false)).toEqual({ token: undefined, via: undefined });
    expect(tokenOf(request(''), true)).toEqual({ token: undefined, via: undefined });
  });

  it('refuses a header that is not a bearer token, without falling back to ?token=', () => {
    for (const header of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer two words', '']) {
      const problem = problemOf(() => tokenOf(request('?token=q-token', header), true));
      expect(problem.status, header).toBe(401);
      expect(problem.headers).toEqual({ 'www-authenticate': 'Bearer' });
    }
  });
});

describe('authorize', () => {
  it('gives the role of a known token the route allows; 401 unknown or none; 403 another role', () => {
    expect(authorize('read-token-0123456789', READ_ROLES)).toBe('read');
    expect(authorize('admin-token-0123456789', READ_ROLES)).toBe('admin');
    expect(problemOf(() => authorize('webhook-token-0123456789', READ_ROLES)).status).toBe(403);
    expect(problemOf(() => authorize('read-token-0123456789', ['admin'])).status).toBe(403);
    const unknown = problemOf(() => authorize('read-token-012345678', READ_ROLES));
    expect(unknown.status).toBe(401);
    expect(unknown.headers).toEqual({ 'www-authenticate': 'Bearer error="invalid_token"' });
    for (const missing of [undefined, '']) {
      const problem = problemOf(() => authorize(missing, READ_ROLES));
      expect(problem.status).toBe(401);
      expect(problem.headers).toEqual({ 'www-authenticate': 'Bearer' });
    }
  });

  it('never puts the token in its answer', () => {
    for (const token of ['read-token-0123456789', 'webhook-token-0123456789', 'nope-0123456789']) {
      const problem = problemOf(() => authorize(token, ['admin']));
      expect(JSON.stringify(problem)).not.toContain(token);
    }
  });
});
