// Reading real indexes from Debian's docker-registry (TLS on loopback) through @azure/container-registry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CHILDREN } from '../../src/replication/image-index';
import { makeManifestReader, type ManifestReader } from '../../src/registry/manifest-reader';
import {
  buildIndex,
  OCI_INDEX,
  pushIndex,
  pushRawManifest,
  registryAvailable,
  startRegistries,
  type RegistryFleet,
} from '../support/registries';

const available = registryAvailable();
const signal = () => AbortSignal.timeout(10_000);

describe.skipIf(!available)('manifest reader against a real registry', () => {
  let fleet: RegistryFleet;
  let reader: ManifestReader;
  beforeAll(async () => {
    fleet = await startRegistries(['home', 'westus']);
    // The worker started before the certificate existed: NODE_EXTRA_CA_CERTS cannot apply, so the
    // CA goes to the SDK's pipeline (`tlsOptions`), which is what the app gets from the setting.
    reader = makeManifestReader({ auth: 'anonymous', tls: { ca: fleet.certificate.ca } });
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  it('reads an index once and names its platform and attestation children', async () => {
    const image = buildIndex();
    await pushIndex(fleet.certificate.ca, fleet.url('home'), 'multi/app', 'v1', image);
    const read = await reader.readIndex(
      fleet.url('home'),
      'multi/app',
      image.index.digest,
      signal(),
    );
    expect(read).toEqual({
      ok: true,
      mediaType: OCI_INDEX,
      children: [
        { digest: image.platforms[0]?.digest, platform: 'linux/amd64', attestation: false },
        { digest: image.platforms[1]?.digest, platform: 'linux/arm64', attestation: false },
        { digest: image.attestations[0]?.digest, platform: 'unknown/unknown', attestation: true },
        { digest: image.attestations[1]?.digest, platform: 'unknown/unknown', attestation: true },
      ],
    });
  });

  it('says why when the manifest is not there, instead of throwing', async () => {
    const image = buildIndex();
    const read = await reader.readIndex(
      fleet.url('home'),
      'multi/app',
      image.index.digest,
      signal(),
    );
    expect(read).toEqual({ ok: false, reason: 'the registry does not have this manifest (404)' });
  });

  it('refuses an index naming more than the bound of children before parsing it', async () => {
    const image = buildIndex({ attestations: false });
    await pushIndex(fleet.certificate.ca, fleet.url('home'), 'multi/big', 'v1', image, {
      only: 'children',
    });
    const child = image.platforms[0];
    const manifests = Array.from({ length: MAX_CHILDREN * 5 }, () => ({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: child?.digest,
      size: child?.bytes.length,
      platform: { os: 'linux', architecture: 'amd64' },
      annotations: { padding: 'x'.repeat(200) },
    }));
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
    const pushed = await pushRawManifest(
      fleet.certificate.ca,
      fleet.url('home'),
      'multi/big',
      'v1',
      OCI_INDEX,
      body,
    );
    expect(pushed.status).toBe(201);
    const digest = String(pushed.headers['docker-content-digest']);
    const read = await reader.readIndex(fleet.url('home'), 'multi/big', digest, signal());
    expect(read.ok).toBe(false);
    expect(!read.ok && read.reason).toMatch(
      /^the index is \d+ bytes, more than the 262144 the gate reads$/,
    );
  });

  it('confirms manifests at an endpoint only when every one is there', async () => {
    const image = buildIndex();
    await pushIndex(fleet.certificate.ca, fleet.url('westus'), 'multi/app', 'v2', image);
    const all = [image.index.digest, ...image.children.map((c) => c.digest)];
    expect(await reader.confirm(fleet.url('westus'), 'multi/app', all, signal())).toEqual({
      ok: true,
    });
    const other = buildIndex();
    const confirmation = await reader.confirm(
      fleet.url('westus'),
      'multi/app',
      [other.index.digest],
      signal(),
    );
    expect(confirmation).toEqual({
      ok: false,
      reason: `${other.index.digest}: the registry does not have this manifest (404)`,
    });
  });
});
