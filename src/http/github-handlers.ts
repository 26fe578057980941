// GitHub deployment protection rule: the App's signed webhook, and the admin route mapping environments to images.
import { createHash } from 'node:crypto';
import type { HttpHandler, HttpRequest } from '@azure/functions';
import { z } from 'zod';
import { describeImage, type Approvals } from '../app/answer-approvals';
import type { ApprovalRecord, Clock, Store } from '../app/ports';
import { verifySignature, type GithubAppSettings } from '../approvals/github';
import { parseImage } from '../approvals/image';
import { regionNameSchema } from '../replication/names';
import { plusMillis } from '../replication/timestamp';
import type { Guard } from './guard';
import { json, parseOr400, readJsonBody } from './handle';
import { HttpProblem } from './problem';

export interface GithubDeps {
  store: Pick<Store, 'githubEnvironments'>;
  clock: Clock;
  guard: Guard;
  maxBodyBytes: number;
  approvals: Approvals;
  advanceSoon: (registry: string, repository: string, id: string) => void;
  app: GithubAppSettings | undefined;
  defaultTimeoutMs: number;
}

// #region the environment → image mapping

export const environmentParamsSchema = z.object({
  owner: z.string().regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/, 'must be a GitHub owner name'),
  repo: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'must be a GitHub repository name'),
  environment: z.string().min(1).max(255),
});

const SAMPLE_SHA = 'a'.repeat(40);

/** `{sha}` and `{ref}` filled in; the ref is cut to its last name and made tag-safe. */
export function fillTemplate(template: string, values: { sha: string; ref: string }): string {
  const ref = values.ref
    .replace(/^refs\/(heads|tags)\//, '')
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, 128);
  return template.replaceAll('{sha}', values.sha).replaceAll('{ref}', ref);
}

export const environmentBodySchema = z.strictObject({
  image: z
    .string()
    .max(600)
    .describe('an image reference template, e.g. contoso.azurecr.io/web:{sha} (also {ref})')
    .superRefine((template, ctx) => {
      const unknown = template.match(/\{(?!sha\}|ref\})[^}]*\}/);
      if (unknown) {
        ctx.addIssue({
          code: 'custom',
          message: `unknown placeholder ${unknown[0]}; use {sha} or {ref}`,
        });
        return;
      }
      const parsed = parseImage(fillTemplate(template, { sha: SAMPLE_SHA, ref: 'main' }));
      if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.message });
    }),
  regions: z.array(regionNameSchema).min(1).max(100).optional(),
});

export const environmentMappingSchema = z.object({
  owner: z.string(),
  repo: z.string(),
  environment: z.string(),
  image: z.string(),
  regions: z.array(z.string()).nullable(),
  updatedAt: z.string(),
});

export function makePutGithubEnvironmentHandler(deps: GithubDeps): HttpHandler {
  return deps.guard('putGithubEnvironment', async (request) => {
    const params = parseOr400(environmentParamsSchema, request.params, 'path', 'path');
    const body = parseOr400(
      environmentBodySchema,
      await readJsonBody(request, deps.maxBodyBytes),
      'body',
    );
    const mapping = {
      ...params,
      image: body.image,
      regions: body.regions ? [...new Set(body.regions)].sort() : null,
      updatedAt: deps.clock.now(),
    };
    await deps.store.githubEnvironments.put(mapping);
    return json(200, mapping);
  });
}

// #endregion

// #region the webhook

/** The parts of the `deployment_protection_rule` payload used here. */
export const protectionRuleEventSchema = z.object({
  action: z.string(),
  environment: z.string().min(1).max(255),
  event: z.string().optional(),
  deployment_callback_url: z.url({ protocol: /^https?$/ }),
  sha: z.string().optional(),
  ref: z.string().optional(),
  deployment: z.object({ sha: z.string(), ref: z.string().optional() }).optional(),
  repository: z.object({
    name: z.string(),
    full_name: z.string(),
    owner: z.object({ login: z.string() }),
  }),
  installation: z.object({ id: z.number().int().positive() }),
});

export const protectionRuleAnswerSchema = z.object({
  outcome: z.enum(['waiting', 'unmapped', 'ignored']),
  detail: z.string(),
  id: z.string().optional(),
  image: z.string().optional(),
});

/** Deployment payloads carry the whole repository; more room than other bodies get. */
const GITHUB_BODY_BYTES = 1024 * 1024;

async function readRawBody(request: HttpRequest, maxBytes: number): Promise<string> {
  const bytes = Buffer.from(await request.arrayBuffer());
  if (bytes.byteLength > maxBytes) {
    throw new HttpProblem({
      status: 413,
      title: 'Payload Too Large',
      detail: `the body must be at most ${maxBytes} bytes`,
    });
  }
  return bytes.toString('utf8');
}

export function makeGithubProtectionRuleHandler(deps: GithubDeps): HttpHandler {
  return deps.guard('githubDeploymentProtectionRule', async (request, context) => {
    const app = deps.app;
    if (!app) {
      throw new HttpProblem({
        status: 404,
        title: 'Not Found',
        detail:
          'the GitHub App is not configured (GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY, GITHUB_WEBHOOK_SECRET)',
      });
    }
    const raw = await readRawBody(request, Math.max(deps.maxBodyBytes, GITHUB_BODY_BYTES));
    // Nothing is read from the body before its signature is verified.
    if (
      !(await verifySignature(app.webhookSecret, raw, request.headers.get('x-hub-signature-256')))
    ) {
      throw new HttpProblem({
        status: 401,
        title: 'Unauthorized',
        detail:
          'X-Hub-Signature-256 is missing or does not match the body and GITHUB_WEBHOOK_SECRET',
      });
    }
    const event = request.headers.get('x-github-event') ?? '';
    if (event !== 'deployment_protection_rule') {
      return json(200, {
        outcome: 'ignored',
        detail: `${event || 'an unnamed event'} is not handled here`,
      });
    }
    let parsedJson: unknown;
    try {
      parsedJson = JSON.parse(raw) as unknown;
    } catch {
      throw new HttpProblem({
        status: 400,
        title: 'Invalid JSON',
        detail: 'the body is not valid JSON',
        errors: [{ field: '(body)', detail: 'malformed JSON' }],
      });
    }
    const payload = parseOr400(protectionRuleEventSchema, parsedJson, 'body');
    if (payload.action !== 'requested') {
      return json(200, { outcome: 'ignored', detail: `action ${payload.action} is not handled` });
    }
    const owner = payload.repository.owner.login;
    const repo = payload.repository.name;
    const environment = payload.environment;
    const mapping = await deps.store.githubEnvironments.get(owner, repo, environment);
    if (!mapping) {
      const detail = `no image is configured for ${owner}/${repo} environment "${environment}"; nothing approved (PUT /api/github/environments/${owner}/${repo}/${encodeURIComponent(environment)})`;
      context.log(`github deployment protection rule: ${detail}`);
      return json(200, { outcome: 'unmapped', detail });
    }
    const apiBase = app.apiUrl.replace(/\/+$/, '');
    if (!payload.deployment_callback_url.startsWith(`${apiBase}/`)) {
      const detail = `is not under GITHUB_API_URL (${apiBase})`;
      throw new HttpProblem({
        status: 400,
        title: 'Invalid body',
        detail: `deployment_callback_url: ${detail}`,
        errors: [{ field: 'deployment_callback_url', detail }],
      });
    }
    const sha = payload.deployment?.sha ?? payload.sha ?? '';
    const ref = payload.deployment?.ref ?? payload.ref ?? '';
    const parsed = parseImage(fillTemplate(mapping.image, { sha, ref }));
    if (!parsed.ok) {
      const detail = `the template ${mapping.image} gives no valid image for this deployment: ${parsed.message}`;
      throw new HttpProblem({
        status: 400,
        title: 'Invalid body',
        detail: `deployment: ${detail}`,
        errors: [{ field: 'deployment', detail }],
      });
    }
    const { registry, reference } = parsed.image;
    const image = describeImage(registry, reference);
    const now = deps.clock.now();
    // A redelivered webhook is the same approval.
    const id = `gh-${createHash('sha256')
      .update(`${payload.deployment_callback_url}|${environment}`)
      .digest('hex')
      .slice(0, 32)}`;
    const record: ApprovalRecord = {
      id,
      kind: 'github',
      registry,
      repository: reference.repository,
      reference,
      regions: mapping.regions,
      state: 'waiting',
      decision: null,
      deadline: plusMillis(now, deps.defaultTimeoutMs),
      nextAttemptAt: null,
      attempts: [],
      reports: 0,
      lastReport: null,
      target: {
        callbackUrl: payload.deployment_callback_url,
        environment,
        installationId: String(payload.installation.id),
        repository: payload.repository.full_name,
        sha,
      },
      createdAt: now,
      updatedAt: now,
    };
    const created = await deps.approvals.open(record);
    context.log(
      `github deployment protection rule ${id}: ${payload.repository.full_name} "${environment}" waits on ${image}${created ? '' : ' (redelivered)'}`,
    );
    deps.advanceSoon(registry, reference.repository, id);
    return json(202, { outcome: 'waiting', detail: `waiting for ${image}`, id, image });
  });
}

// #endregion
