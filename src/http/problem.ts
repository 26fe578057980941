// RFC 9457 problem+json: every error answer of the API, built in one place.
import type { HttpResponseInit } from '@azure/functions';
import type { z } from 'zod';

export interface FieldError {
  /** Dotted path of the offending field, e.g. `target.digest`, or a parameter name. */
  field: string;
  detail: string;
}

export interface Problem {
  status: number;
  title: string;
  detail?: string;
  errors?: FieldError[];
  headers?: Record<string, string>;
  extensions?: Record<string, unknown>;
}

/** Thrown inside handlers for an expected failure; becomes its own response. */
export class HttpProblem extends Error {
  override readonly name = 'HttpProblem';
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title);
  }
}

const TYPES: Record<number, string> = {
  400: 'invalid-request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  405: 'method-not-allowed',
  409: 'conflict',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
  500: 'internal-error',
  503: 'store-unavailable',
};

export function toProblemResponse(problem: Problem, instance?: string): HttpResponseInit {
  const type = TYPES[problem.status];
  return {
    status: problem.status,
    headers: { 'content-type': 'application/problem+json', ...problem.headers },
    jsonBody: {
      type: type ? `urn:acr-replication-gate:problem:${type}` : 'about:blank',
      title: problem.title,
      status: problem.status,
      ...(problem.detail === undefined ? {} : { detail: problem.detail }),
      ...(instance === undefined ? {} : { instance }),
      ...(problem.errors === undefined ? {} : { errors: problem.errors }),
      ...problem.extensions,
    },
  };
}

export function fieldErrors(error: z.ZodError, prefix?: string): FieldError[] {
  return error.issues.slice(0, 10).map((issue) => {
    const path = issue.path.map(String).join('.');
    return {
      field:
        [prefix, path].filter((p) => p !== undefined && p !== '').join('.') || (prefix ?? '(body)'),
      detail: issue.message,
    };
  });
}

/** A 400 naming the first offending field in its detail and all of them in `errors`. */
export function invalid(what: string, error: z.ZodError, prefix?: string): HttpProblem {
  const errors = fieldErrors(error, prefix);
  const first = errors[0];
  return new HttpProblem({
    status: 400,
    title: `Invalid ${what}`,
    detail: first ? `${first.field}: ${first.detail}` : `invalid ${what}`,
    errors,
  });
}
