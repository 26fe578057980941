// A loopback stand-in for the parts of GitHub's API a deployment protection rule uses, and signed webhooks.
import { createHmac, createPublicKey, generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { startReceiver, type Received, type Receiver } from './receiver';

export interface FakeGithub {
  /** The API base URL (GITHUB_API_URL). */
  apiUrl: string;
  receiver: Receiver;
  appId: string;
  privateKey: string;
  webhookSecret: string;
  /** Installation tokens handed out, in order. */
  tokens: string[];
  /** Requests to the access-token endpoint whose JWT did not verify against the App's public key. */
  badJwts: string[];
  /** Requests to a deployment_callback_url, in order. */
  callbacks(): Received[];
  /** Set to answer callbacks with this status (e.g. 500) instead of 204. */
  callbackStatus: number;
  close(): Promise<void>;
}

/** The app settings that point the gate's GitHub App at this fake. */
export const githubAppSettings = (github: FakeGithub): Record<string, string> => ({
  GITHUB_APP_ID: github.appId,
  GITHUB_APP_PRIVATE_KEY: github.privateKey,
  GITHUB_WEBHOOK_SECRET: github.webhookSecret,
  GITHUB_API_URL: github.apiUrl,
});

const b64url = (text: string): Buffer => Buffer.from(text, 'base64url');

/** Checks an App JWT as GitHub does: RS256 over header.payload, signed with the App's key, iss = App id. */
function jwtIsValid(authorization: string | undefined, publicKeyPem: string, appId: string) {
  const token = /^bearer (.+)$/i.exec(authorization ?? '')?.[1];
  const [header, payload, signature] = token?.split('.') ?? [];
  if (!header || !payload || !signature) return false;
  const ok = verify(
    'RSA-SHA256',
    Buffer.from(`${header}.${payload}`),
    createPublicKey(publicKeyPem),
    b64url(signature),
  );
  const claims = JSON.parse(b64url(payload).toString('utf8')) as { iss?: unknown };
  return ok && String(claims.iss) === appId;
}

export async function startFakeGithub(): Promise<FakeGithub> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const appId = String(100_000 + Math.floor(Math.random() * 800_000));
  const tokens: string[] = [];
  const badJwts: string[] = [];
  const fake = {} as FakeGithub;
  const receiver = await startReceiver((n) => {
    const request = receiver.received[n];
    if (!request) return { status: 500 };
    if (/^\/app\/installations\/\d+\/access_tokens$/.test(request.path)) {
      if (!jwtIsValid(request.headers.authorization, publicKey, appId)) {
        badJwts.push(request.path);
        return { status: 401, body: '{"message":"A JSON web token could not be decoded"}' };
      }
      const token = `ghs_${randomBytes(18).toString('hex')}`;
      tokens.push(token);
      return {
        status: 201,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          token,
          expires_at: new Date(Date.now() + 3_600_000).toISOString(),
          permissions: { deployments: 'write', actions: 'read' },
          repository_selection: 'all',
        }),
      };
    }
    if (request.path.endsWith('/deployment_protection_rule')) {
      return { status: fake.callbackStatus };
    }
    return { status: 404 };
  });
  Object.assign(fake, {
    apiUrl: receiver.url.replace(/\/hook$/, ''),
    receiver,
    appId,
    privateKey,
    webhookSecret: `whsec-${randomBytes(16).toString('hex')}`,
    tokens,
    badJwts,
    callbackStatus: 204,
    callbacks: () =>
      receiver.received.filter((r) => r.path.endsWith('/deployment_protection_rule')),
    close: () => receiver.close(),
  });
  return fake;
}

/** `X-Hub-Signature-256` as GitHub computes it, independently of the library the app uses. */
export const signBody = (secret: string, body: string): string =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/** A `deployment_protection_rule` webhook body as GitHub sends it (trimmed to the usual fields). */
export function aProtectionRuleEvent(options: {
  apiUrl: string;
  owner: string;
  repo: string;
  environment: string;
  sha: string;
  ref?: string;
  runId?: number;
  installationId?: number;
}): Record<string, unknown> {
  const runId = options.runId ?? Math.floor(Math.random() * 1e10);
  return {
    action: 'requested',
    environment: options.environment,
    event: 'push',
    deployment_callback_url: `${options.apiUrl}/repos/${options.owner}/${options.repo}/actions/runs/${runId}/deployment_protection_rule`,
    deployment: {
      url: `${options.apiUrl}/repos/${options.owner}/${options.repo}/deployments/1`,
      id: 1,
      sha: options.sha,
      ref: options.ref ?? 'main',
      task: 'deploy',
      environment: options.environment,
    },
    repository: {
      id: 42,
      name: options.repo,
      full_name: `${options.owner}/${options.repo}`,
      owner: { login: options.owner, id: 7, type: 'Organization' },
    },
    installation: { id: options.installationId ?? 4242 },
    sender: { login: 'octocat', id: 1 },
  };
}
