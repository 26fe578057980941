// A small client of the gate's HTTP API, validating what it reads back.
import { z } from 'zod';
import { statusBodySchema, verifyReportSchema } from '../http/response-schemas';
import { CliError, EXIT } from './exit-codes';
import { bearerHeader, redactUrl, scrub } from './redact';

// The server documents its answers with this schema; it drops fields it does not know.
export { statusBodySchema };

export type StatusBody = z.infer<typeof statusBodySchema>;
export type VerifyReport = z.infer<typeof verifyReportSchema>;

export type StatusAnswer =
  | { kind: 'status'; status: StatusBody; waited: 'settled' | 'timeout' | null }
  | { kind: 'not-found' }
  | { kind: 'moved'; status: StatusBody | undefined; detail: string };

export interface ApiOptions {
  url: string;
  token: string | undefined;
  /** Per request, on top of any long-poll wait. */
  timeoutMs?: number;
}

const problemSchema = z.looseObject({
  title: z.string().optional(),
  detail: z.string().optional(),
});

async function problemText(response: Response): Promise<string> {
  const body: unknown = await response.json().catch(() => undefined);
  const problem = problemSchema.safeParse(body);
  return problem.success
    ? (problem.data.detail ?? problem.data.title ?? response.statusText)
    : response.statusText;
}

export function makeApiClient(options: ApiOptions) {
  const base = options.url.replace(/\/+$/, '');
  // Checked once, before any request, so no error path can quote it.
  const authorization =
    options.token === undefined || options.token === ''
      ? undefined
      : bearerHeader(options.token, '--token (or ACR_GATE_TOKEN)');
  // In error lines: an ACR_GATE_URL may carry credentials or ?token=.
  const shownBase = redactUrl(base);
  const request = async (
    path: string,
    init: RequestInit = {},
    waitSeconds = 0,
  ): Promise<Response> => {
    const headers = new Headers(init.headers);
    if (authorization !== undefined) headers.set('authorization', authorization);
    headers.set('user-agent', 'acr-gate');
    try {
      return await fetch(`${base}${path}`, {
        ...init,
        headers,
        signal: AbortSignal.timeout((options.timeoutMs ?? 30_000) + waitSeconds * 1000),
      });
    } catch (error) {
      const reason = scrub((error as Error).message, [options.url, base, options.token]);
      throw new CliError(`cannot reach ${shownBase}: ${reason}`, EXIT.unavailable);
    }
  };
  const failed = async (response: Response): Promise<never> => {
    const detail = await problemText(response);
    if (response.status === 401 || response.status === 403) {
      throw new CliError(`the token was refused (${response.status}): ${detail}`, EXIT.auth);
    }
    if (response.status === 400) throw new CliError(detail, EXIT.usage);
    throw new CliError(`${response.status} from ${shownBase}: ${detail}`, EXIT.unavailable);
  };

  return {
    async status(
      registry: string,
      reference: string,
      query: { wait?: number; digest?: string; regions?: readonly string[] } = {},
    ): Promise<StatusAnswer> {
      const params = new URLSearchParams();
      if (query.wait) params.set('wait', String(query.wait));
      if (query.digest) params.set('digest', query.digest);
      if (query.regions && query.regions.length > 0) params.set('regions', query.regions.join(','));
      const qs = params.size > 0 ? `?${params.toString()}` : '';
      const path = `/replications/${encodeURIComponent(registry)}/${reference.split('/').map(encodeURIComponent).join('/')}${qs}`;
      const response = await request(path, {}, query.wait ?? 0);
      if (response.status === 404) return { kind: 'not-found' };
      if (response.status === 409) {
        const body: unknown = await response.json().catch(() => undefined);
        const problem = z
          .looseObject({ detail: z.string().optional(), current: statusBodySchema.optional() })
          .safeParse(body);
        return {
          kind: 'moved',
          status: problem.success ? problem.data.current : undefined,
          detail: problem.success ? (problem.data.detail ?? 'digest moved') : 'digest moved',
        };
      }
      if (!response.ok) return failed(response);
      const parsed = statusBodySchema.safeParse(await response.json());
      if (!parsed.success) throw new CliError(`unexpected status body from ${base}`, EXIT.error);
      const waited = response.headers.get('x-acr-gate-wait');
      return {
        kind: 'status',
        status: parsed.data,
        waited: waited === 'settled' || waited === 'timeout' ? waited : null,
      };
    },

    /** Checks every required region at its own endpoint now; undefined when nothing is known of it. */
    async verify(registry: string, reference: string): Promise<VerifyReport | undefined> {
      const path = `/verify/${encodeURIComponent(registry)}/${reference.split('/').map(encodeURIComponent).join('/')}`;
      const response = await request(path, { method: 'POST' });
      if (response.status === 404) return undefined;
      if (!response.ok) return failed(response);
      const parsed = verifyReportSchema.safeParse(await response.json());
      if (!parsed.success) throw new CliError(`unexpected verify answer from ${base}`, EXIT.error);
      return parsed.data;
    },

    async putRegions(registry: string, regions: string[]): Promise<void> {
      const response = await request(`/registries/${encodeURIComponent(registry)}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ regions }),
      });
      if (!response.ok) await failed(response);
    },

    async postWebhook(region: string, body: unknown): Promise<number> {
      const response = await request(`/webhooks/acr/${encodeURIComponent(region)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (response.status === 401 || response.status === 403 || response.status === 400) {
        await failed(response);
      }
      await response.arrayBuffer();
      return response.status;
    },
  };
}

export type ApiClient = ReturnType<typeof makeApiClient>;
