// The Kubernetes manifests in deploy/ parse, agree with each other, and call the route the code serves.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PROVIDER_API_VERSION, providerRequestSchema } from '../../src/http/gatekeeper-handler';
import { OPERATIONS } from '../../src/http/openapi';

const root = path.resolve(__dirname, '../../deploy');

function load(dir: string): { file: string; doc: Record<string, unknown> }[] {
  return fs
    .readdirSync(path.join(root, dir))
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => {
      const text = fs.readFileSync(path.join(root, dir, f), 'utf8');
      return parseAllDocuments(text).map((d) => {
        expect(d.errors, `${dir}/${f}`).toEqual([]);
        return { file: `${dir}/${f}`, doc: d.toJS() as Record<string, unknown> };
      });
    });
}

const ofKind = (docs: ReturnType<typeof load>, kind: string) =>
  docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);

/** The gate's route for a provider URL, as the OpenAPI operations (generated from src/http/routes.ts) list it. */
function routeOf(url: string): { region: string } {
  const { pathname } = new URL(url.replace('<gate-host>', 'gate.example.net'));
  const op = OPERATIONS.find((o) => o.operationId === 'gatekeeperProvider');
  expect(op).toMatchObject({ method: 'post', path: '/gatekeeper/{region}' });
  const match = /^\/api\/gatekeeper\/([a-z0-9]+)$/.exec(pathname);
  expect(match, `${url} calls POST /api/gatekeeper/{region}`).not.toBeNull();
  return { region: match?.[1] ?? '' };
}

const providerSchema = z.object({
  apiVersion: z.literal('externaldata.gatekeeper.sh/v1beta1'),
  kind: z.literal('Provider'),
  metadata: z.object({ name: z.string() }),
  spec: z.object({ url: z.string(), timeout: z.number().max(5), caBundle: z.string() }),
});

describe('deploy/gatekeeper', () => {
  const docs = load('gatekeeper');

  it('has a Provider per region, each calling that region with the token in the URL over HTTPS', () => {
    const providers = ofKind(docs, 'Provider').map((p) => providerSchema.parse(p));
    expect(providers.length).toBeGreaterThanOrEqual(2);
    for (const p of providers) {
      expect(p.spec.url.startsWith('https://')).toBe(true);
      expect(new URL(p.spec.url.replace('<gate-host>', 'h')).searchParams.has('token')).toBe(true);
      const { region } = routeOf(p.spec.url);
      expect(p.metadata.name).toBe(`acr-gate-${region}`);
    }
  });

  it('has a ConstraintTemplate whose Rego asks external_data about every kind of container', () => {
    const [template] = ofKind(docs, 'ConstraintTemplate');
    const parsed = z
      .object({
        spec: z.object({
          crd: z.object({ spec: z.object({ names: z.object({ kind: z.string() }) }) }),
          targets: z.array(z.object({ target: z.string(), rego: z.string() })).length(1),
        }),
      })
      .parse(template);
    const rego = parsed.spec.targets[0]?.rego ?? '';
    expect(parsed.spec.targets[0]?.target).toBe('admission.k8s.gatekeeper.sh');
    expect(rego).toMatch(/external_data\(\{"provider": input\.parameters\.provider, "keys": /);
    for (const field of ['containers', 'initContainers', 'ephemeralContainers']) {
      expect(rego).toContain(`input.review.object.spec.${field}[_].image`);
    }
    // What Gatekeeper hands the Rego back: errors as [key, error], responses as [key, value].
    expect(rego).toContain('response.errors[_]');
    expect(rego).toContain('response.system_error');

    // Every Constraint is of the template's kind and names a Provider that exists.
    const providers = new Set(
      ofKind(docs, 'Provider').map((p) => providerSchema.parse(p).metadata.name),
    );
    const constraints = ofKind(docs, parsed.spec.crd.spec.names.kind);
    expect(constraints.length).toBe(providers.size);
    for (const c of constraints) {
      const { spec } = z
        .object({ spec: z.object({ parameters: z.object({ provider: z.string() }) }) })
        .parse(c);
      expect(providers.has(spec.parameters.provider)).toBe(true);
    }
  });
});

describe('deploy/kyverno', () => {
  it('has a ClusterPolicy whose apiCall posts a ProviderRequest the route accepts', () => {
    const [policy] = ofKind(load('kyverno'), 'ClusterPolicy');
    const call = z
      .object({
        spec: z.object({
          rules: z
            .array(
              z.object({
                context: z.array(
                  z.object({
                    name: z.string(),
                    apiCall: z.object({
                      method: z.literal('POST'),
                      service: z.object({ url: z.string(), caBundle: z.string() }),
                      data: z.array(z.object({ key: z.string(), value: z.unknown() })),
                    }),
                  }),
                ),
              }),
            )
            .min(1),
        }),
      })
      .parse(policy).spec.rules[0]?.context[0]?.apiCall;
    expect(call).toBeDefined();
    if (!call) return;
    routeOf(call.service.url);
    const body = Object.fromEntries(call.data.map((d) => [d.key, d.value]));
    expect(body.apiVersion).toBe(PROVIDER_API_VERSION);
    const keys = (body.request as { keys: string }).keys;
    for (const field of ['containers', 'initContainers', 'ephemeralContainers']) {
      expect(keys).toContain(field);
    }
    // With Kyverno's variable substituted by a list of images, the route's schema takes it.
    const substituted = { ...body, request: { keys: ['contoso.azurecr.io/web:1.2'] } };
    expect(providerRequestSchema.safeParse(substituted).success).toBe(true);
  });
});
