// The verify handler called directly: the in-memory store, and Debian's docker-registry with TLS as
// the registry's home and regional endpoints.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aDigest, aPushEvent } from '../../test/support/fixtures';
import {
  call,
  expectProblem,
  handlerDeps,
  REGISTRY,
  type Call,
} from '../../test/support/handler-harness';
import {
  buildIndex,
  pushBlob,
  pushManifest,
  registryAvailable,
  imagesOnFleet,
  startRegistries,
  type ImageManifest,
  type RegistryFleet,
} from '../../test/support/registries';
import { makeVerifyHandler } from './verify-handler';
import { makeAcrWebhookHandler } from './webhook-handler';

const REGIONS = ['westus', 'eastus'];
const REPO = 'verify/app';

describe.skipIf(!registryAvailable())('POST /api/verify/{registry}/{*reference}', () => {
  let fleet: RegistryFleet;
  beforeAll(async () => {
    fleet = await startRegistries(['home', ...REGIONS]);
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  const deps = () => {
    const images = imagesOnFleet(fleet, REGISTRY, REGIONS);
    return { ...handlerDeps({ defaultRegions: REGIONS }), images };
  };
  type Deps = ReturnType<typeof deps>;

  /** A single-platform image in the registries named, tagged `tag`. */
  async function pushImage(tag: string, where: readonly string[]): Promise<ImageManifest> {
    const [manifest] = buildIndex({ platforms: [['linux', 'amd64']], salt: tag }).platforms;
    if (!manifest) throw new Error('no manifest built');
    for (const name of where) {
      for (const blob of manifest.blobs) {
        await pushBlob(fleet.certificate.ca, fleet.url(name), REPO, blob);
      }
      await pushManifest(fleet.certificate.ca, fleet.url(name), REPO, manifest, tag);
    }
    return manifest;
  }

  const hook = async (d: Deps, region: string, tag: string, digest: string) => {
    const answer = await call(makeAcrWebhookHandler(d), {
      url: `/api/webhooks/acr/${region}`,
      params: { region },
      token: 'webhook',
      json: aPushEvent({ repository: REPO, tag, digest, timestamp: new Date().toISOString() }),
    });
    expect(answer.status).toBe(202);
  };

  const verifyCall = (reference: string, extra: Partial<Call> = {}): Call => ({
    method: 'POST',
    url: `/api/verify/${REGISTRY}/${reference}`,
    params: { registry: REGISTRY, reference },
    token: 'read',
    ...extra,
  });
  const verify = (
    d: Parameters<typeof makeVerifyHandler>[0],
    reference: string,
    extra?: Partial<Call>,
  ) => call(makeVerifyHandler(d), verifyCall(reference, extra));

  it('confirms each region at its own endpoint: the one that has the manifest, then both', async () => {
    const d = deps();
    const manifest = await pushImage('v1', ['home', 'westus']);
    for (const region of REGIONS) await hook(d, region, 'v1', manifest.digest);

    const partial = await verify(d, `${REPO}:v1`);
    expect(partial.status).toBe(200);
    expect(partial.body).toMatchObject({
      registry: REGISTRY,
      repository: REPO,
      tag: 'v1',
      digest: manifest.digest,
      manifests: [manifest.digest],
    });
    const regions = partial.body.regions as {
      region: string;
      confirmed: boolean;
      detail?: string;
    }[];
    expect(regions.map((r) => [r.region, r.confirmed])).toEqual([
      ['eastus', false],
      ['westus', true],
    ]);
    expect(regions[0]?.detail).toEqual(expect.any(String));
    expect(regions[0]).toMatchObject({ endpoint: fleet.url('eastus') });

    await pushImage('v1', ['eastus']);
    const byDigest = await verify(d, `${REPO}@${manifest.digest}`);
    expect(byDigest.status).toBe(200);
    expect((byDigest.body.regions as { confirmed: boolean }[]).map((r) => r.confirmed)).toEqual([
      true,
      true,
    ]);
  });

  it('checks the registry’s own regions when it has some', async () => {
    const d = deps();
    const manifest = await pushImage('own', ['home', 'westus']);
    await hook(d, 'westus', 'own', manifest.digest);
    await d.store.registries.putRegions(REGISTRY, ['westus'], d.clock.now());
    const answer = await verify(d, `${REPO}:own`);
    expect(answer.body.regions as { region: string; confirmed: boolean }[]).toEqual([
      expect.objectContaining({ region: 'westus', confirmed: true }),
    ]);
  });

  it('answers 404 for an image no region has reported, naming it', async () => {
    const problem = expectProblem(await verify(deps(), `${REPO}:never`), 404);
    expect(problem.detail).toBe(`no arrival of ${REGISTRY}/${REPO} never has been recorded`);
    const digest = aDigest();
    const byDigest = expectProblem(await verify(deps(), `${REPO}@${digest}`), 404);
    expect(byDigest.detail).toContain(digest);
  });

  it('answers 503 when registry reads are not configured', async () => {
    const d = { ...handlerDeps({ defaultRegions: REGIONS }) };
    const problem = expectProblem(await verify(d, `${REPO}:v1`), 503);
    expect(problem.title).toBe('Verification unavailable');
  });

  it('names the offending path parameter', async () => {
    const d = deps();
    const reference = expectProblem(await verify(d, 'verify/../app:v1'), 400);
    expect(reference.errors).toEqual([expect.objectContaining({ field: 'path.reference' })]);
    const registry = expectProblem(
      await verify(d, `${REPO}:v1`, {
        params: { registry: 'bad_registry', reference: `${REPO}:v1` },
      }),
      400,
    );
    expect(registry.errors).toEqual([expect.objectContaining({ field: 'path.registry' })]);
  });

  it('takes a read or admin token: 401 without or with an unknown one, 403 for a webhook token', async () => {
    const d = deps();
    expectProblem(await verify(d, `${REPO}:never`, { token: undefined }), 401);
    expectProblem(await verify(d, `${REPO}:never`, { token: 'not-a-known-token-0' }), 401);
    expectProblem(await verify(d, `${REPO}:never`, { token: 'webhook' }), 403);
    // Past authentication: the 404 of an unknown image.
    expectProblem(await verify(d, `${REPO}:never`, { token: 'admin' }), 404);
  });

  it('answers 503 with retry-after when the store is down', async () => {
    const d = deps();
    d.store.setUnavailable(true);
    const answer = await verify(d, `${REPO}:v1`);
    expectProblem(answer, 503);
    expect(answer.headers.get('retry-after')).toBe('5');
  });
});
