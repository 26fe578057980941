// GitHub custom deployment protection rules: the App's installation token, approvals and status reports.
import type { Answerer } from '../app/answer-approvals';
import type { ApprovalRecord } from '../app/ports';
import { USER_AGENT } from '../events/delivery-request';
import type { AttemptResult, DeliveryRequest } from '../events/types';
import { instantFromDate } from '../replication/timestamp';
import { importEsm } from './esm';

/** GitHub allows this many status reports per deployment protection rule run. */
export const MAX_STATUS_REPORTS = 10;

export interface GithubAppSettings {
  appId: string;
  privateKey: string;
  webhookSecret: string;
  /** https://api.github.com, or a GitHub Enterprise Server's /api/v3, or a test's stand-in. */
  apiUrl: string;
}

// The few parts of the ESM-only @octokit packages used here.
interface AppAuthModule {
  createAppAuth(
    this: void,
    options: {
      appId: string;
      privateKey: string;
      request: unknown;
    },
  ): (options: { type: 'installation'; installationId: number }) => Promise<{ token: string }>;
}
interface RequestModule {
  request: { defaults(options: { baseUrl: string; headers?: Record<string, string> }): unknown };
}
interface WebhooksMethodsModule {
  verify(this: void, secret: string, payload: string, signature: string): Promise<boolean>;
}

/** Verifies `X-Hub-Signature-256` over the raw body; false for a missing or malformed one too. */
export async function verifySignature(
  secret: string,
  body: string,
  signature: string | null,
): Promise<boolean> {
  if (signature === null || !/^sha256=[0-9a-f]{64}$/.test(signature)) return false;
  const { verify } = await importEsm<WebhooksMethodsModule>('@octokit/webhooks-methods');
  try {
    return await verify(secret, body, signature);
  } catch {
    return false;
  }
}

export function makeGithubAnswerer(deps: {
  app: GithubAppSettings;
  timeoutMs: number;
  send: (request: DeliveryRequest, options: { timeoutMs: number }) => Promise<AttemptResult>;
}): Answerer {
  let auth: ReturnType<AppAuthModule['createAppAuth']> | undefined;
  const installationAuth = async () => {
    if (auth) return auth;
    const [{ createAppAuth }, { request }] = await Promise.all([
      importEsm<AppAuthModule>('@octokit/auth-app'),
      importEsm<RequestModule>('@octokit/request'),
    ]);
    // The library caches installation tokens until shortly before they expire.
    auth = createAppAuth({
      appId: deps.app.appId,
      privateKey: deps.app.privateKey,
      request: request.defaults({
        baseUrl: deps.app.apiUrl.replace(/\/+$/, ''),
        headers: { 'user-agent': USER_AGENT },
      }),
    });
    return auth;
  };

  async function post(
    record: ApprovalRecord,
    body: Record<string, string>,
  ): Promise<AttemptResult> {
    const started = performance.now();
    let token: string;
    try {
      const authenticate = await installationAuth();
      ({ token } = await authenticate({
        type: 'installation',
        installationId: Number(record.target.installationId),
      }));
    } catch (error) {
      const status = (error as { status?: unknown }).status;
      return {
        at: instantFromDate(new Date()),
        durationMs: Math.round(performance.now() - started),
        ...(typeof status === 'number' ? { status } : {}),
        error: `installation token: ${(error as Error).message.slice(0, 200)}`,
      };
    }
    return deps.send(
      {
        url: record.target.callbackUrl ?? '',
        headers: {
          accept: 'application/vnd.github+json',
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          'x-github-api-version': '2022-11-28',
        },
        body: JSON.stringify({ environment_name: record.target.environment ?? '', ...body }),
      },
      { timeoutMs: deps.timeoutMs },
    );
  }

  return {
    // The installation token is never stored: it is fetched (and cached in memory) per send.
    secretFields: [],
    answer: (record, decision) =>
      post(record, {
        state: decision.approved ? 'approved' : 'rejected',
        comment: decision.reason,
      }),
    report: {
      max: MAX_STATUS_REPORTS,
      send: (record, text) => post(record, { comment: text }),
    },
  };
}
