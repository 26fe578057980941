// Real OCI registries for tests: Debian's docker-registry (distribution 2.8) with TLS on loopback.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import type { ImageDeps } from '../../src/app/follow-image';
import { makeManifestReader } from '../../src/registry/manifest-reader';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';
export const REGISTRY_PACKAGE = 'docker-registry';

/**
 * Whether the real registry can run here. In CI (CI=true) a missing package is a failure, not a
 * skip; elsewhere one loud line names the package and the suite is skipped.
 */
export function registryAvailable(): boolean {
  if (fs.existsSync(REGISTRY_BINARY) && spawnSync('openssl', ['version']).status === 0) return true;
  const message = `${REGISTRY_PACKAGE} (${REGISTRY_BINARY}) or openssl is not installed: apt-get install -y ${REGISTRY_PACKAGE} openssl`;
  if (process.env.CI === 'true') throw new Error(message);
  console.warn(`SKIPPING registry tests: ${message}`);
  return false;
}

export interface LoopbackCertificate {
  dir: string;
  certFile: string;
  keyFile: string;
  /** The certificate in PEM: it is its own CA. */
  pem: string;
  /** Node's bundled roots plus this one, for a client's `ca` option. */
  ca: string[];
}

/** A self-signed certificate for 127.0.0.1 and localhost, made with openssl. */
export function makeLoopbackCertificate(dir: string): LoopbackCertificate {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  const result = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`openssl failed: ${result.stderr}`);
  const pem = fs.readFileSync(certFile, 'utf8');
  return { dir, certFile, keyFile, pem, ca: [...tls.rootCertificates, pem] };
}

/** A free loopback port: listen on 0, read it, close. The registry takes its port from its config. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface RunningRegistry {
  name: string;
  /** https://127.0.0.1:<port> */
  url: string;
  process: ChildProcess;
}

export interface RegistryFleet {
  certificate: LoopbackCertificate;
  registries: Record<string, RunningRegistry>;
  url(name: string): string;
  stop(): Promise<void>;
}

/** Starts one registry per name (e.g. `home`, `westus`, …) and waits for each `GET /v2/`. */
export async function startRegistries(names: readonly string[]): Promise<RegistryFleet> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acr-gate-registries-'));
  const certificate = makeLoopbackCertificate(dir);
  const registries: Record<string, RunningRegistry> = {};
  const stop = async () => {
    await Promise.all(Object.values(registries).map((r) => stopProcess(r.process)));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const name of names) {
      const port = await freePort();
      const config = path.join(dir, `${name}.yml`);
      fs.writeFileSync(
        config,
        [
          'version: 0.1',
          'log: { level: error }',
          `storage: { filesystem: { rootdirectory: ${path.join(dir, `reg-${name}`)} }, delete: { enabled: true } }`,
          `http: { addr: 127.0.0.1:${port}, tls: { certificate: ${certificate.certFile}, key: ${certificate.keyFile} } }`,
          '',
        ].join('\n'),
      );
      const child = spawn(REGISTRY_BINARY, ['serve', config], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const url = `https://127.0.0.1:${port}`;
      registries[name] = { name, url, process: child };
      await waitUntilUp(url, certificate.ca, child);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    certificate,
    registries,
    url: (name) => {
      const r = registries[name];
      if (!r) throw new Error(`no registry ${name}`);
      return r.url;
    },
    stop,
  };
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
}

async function waitUntilUp(url: string, ca: string[], child: ChildProcess): Promise<void> {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
    const ok = await request(ca, 'GET', `${url}/v2/`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`docker-registry at ${url} did not answer: ${stderr}`);
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One HTTPS request trusting `ca` (the test's process started before the certificate existed). */
export function request(
  ca: string[],
  method: string,
  url: string,
  body?: Buffer,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, ca, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
/** The registry hides OCI manifests unless these are accepted. */
export const MANIFEST_ACCEPT = [
  OCI_INDEX,
  OCI_MANIFEST,
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

const digestOf = (bytes: Buffer): string =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export interface Blob {
  digest: string;
  bytes: Buffer;
  mediaType: string;
}

const toBlob = (mediaType: string, content: unknown): Blob => {
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(JSON.stringify(content));
  return { digest: digestOf(bytes), bytes, mediaType };
};

export interface ImageManifest extends Blob {
  blobs: Blob[];
  /** `platform` of its descriptor in the index. */
  platform: { os: string; architecture: string };
  attestationFor?: string;
}

export interface BuiltIndex {
  index: Blob;
  platforms: ImageManifest[];
  attestations: ImageManifest[];
  /** Every child manifest, platforms first. */
  children: ImageManifest[];
}

/** An image for one platform: a config and one layer, unique per call (`salt`). */
function platformImage(os: string, architecture: string, salt: string): ImageManifest {
  const layer = toBlob(OCI_LAYER, Buffer.from(`layer ${os}/${architecture} ${salt}`));
  const config = toBlob(OCI_CONFIG, { architecture, os, rootfs: { type: 'layers', diff_ids: [] } });
  const manifest = toBlob(OCI_MANIFEST, {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.bytes.length },
    layers: [{ mediaType: OCI_LAYER, digest: layer.digest, size: layer.bytes.length }],
  });
  return { ...manifest, blobs: [config, layer], platform: { os, architecture } };
}

/** What `docker buildx` pushes: platform images, plus one attestation manifest per platform. */
export function buildIndex(
  options: { platforms?: [string, string][]; attestations?: boolean; salt?: string } = {},
): BuiltIndex {
  const salt = options.salt ?? `${Date.now()}-${Math.random()}`;
  const platforms = (
    options.platforms ?? [
      ['linux', 'amd64'],
      ['linux', 'arm64'],
    ]
  ).map(([os, arch]) => platformImage(os, arch, salt));
  const attestations: ImageManifest[] =
    (options.attestations ?? true)
      ? platforms.map((p) => {
          const statement = toBlob('application/vnd.in-toto+json', { subject: p.digest, salt });
          const config = toBlob(OCI_CONFIG, { architecture: 'unknown', os: 'unknown' });
          const manifest = toBlob(OCI_MANIFEST, {
            schemaVersion: 2,
            mediaType: OCI_MANIFEST,
            config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.bytes.length },
            layers: [
              {
                mediaType: 'application/vnd.in-toto+json',
                digest: statement.digest,
                size: statement.bytes.length,
                annotations: { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v0.2' },
              },
            ],
          });
          return {
            ...manifest,
            blobs: [config, statement],
            platform: { os: 'unknown', architecture: 'unknown' },
            attestationFor: p.digest,
          };
        })
      : [];
  const index = toBlob(OCI_INDEX, {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      ...platforms.map((p) => ({
        mediaType: OCI_MANIFEST,
        digest: p.digest,
        size: p.bytes.length,
        platform: p.platform,
      })),
      ...attestations.map((a) => ({
        mediaType: OCI_MANIFEST,
        digest: a.digest,
        size: a.bytes.length,
        platform: a.platform,
        annotations: {
          'vnd.docker.reference.digest': a.attestationFor,
          'vnd.docker.reference.type': 'attestation-manifest',
        },
      })),
    ],
  });
  return { index, platforms, attestations, children: [...platforms, ...attestations] };
}

async function expectStatus(result: Promise<HttpResult>, status: number, what: string) {
  const r = await result;
  if (r.status !== status) {
    throw new Error(`${what}: expected ${status}, got ${r.status}: ${r.body.toString()}`);
  }
  return r;
}

/** Pushes a blob through the OCI distribution API: POST an upload, PUT its bytes. */
export async function pushBlob(ca: string[], base: string, repository: string, blob: Blob) {
  const started = await expectStatus(
    request(ca, 'POST', `${base}/v2/${repository}/blobs/uploads/`),
    202,
    'start upload',
  );
  const location = new URL(String(started.headers.location), base);
  location.searchParams.set('digest', blob.digest);
  await expectStatus(
    request(ca, 'PUT', location.toString(), blob.bytes, {
      'content-type': 'application/octet-stream',
    }),
    201,
    `upload ${blob.digest}`,
  );
}

/** PUTs a manifest (by tag or by its digest) with its media type as Content-Type. */
export async function pushManifest(
  ca: string[],
  base: string,
  repository: string,
  manifest: Blob,
  reference: string = manifest.digest,
) {
  await expectStatus(
    request(ca, 'PUT', `${base}/v2/${repository}/manifests/${reference}`, manifest.bytes, {
      'content-type': manifest.mediaType,
    }),
    201,
    `push manifest ${reference}`,
  );
}

/** Pushes the whole image: blobs, child manifests by digest, then the index by tag. */
export async function pushIndex(
  ca: string[],
  base: string,
  repository: string,
  tag: string,
  image: BuiltIndex,
  options: { only?: 'children' } = {},
): Promise<void> {
  for (const child of image.children) {
    for (const blob of child.blobs) await pushBlob(ca, base, repository, blob);
    await pushManifest(ca, base, repository, child);
  }
  if (options.only !== 'children') await pushManifest(ca, base, repository, image.index, tag);
}

/** Pushes an arbitrary manifest body under a tag (corrupt or oversized indexes for bad-input tests). */
export async function pushRawManifest(
  ca: string[],
  base: string,
  repository: string,
  tag: string,
  mediaType: string,
  bytes: Buffer,
): Promise<HttpResult> {
  return request(ca, 'PUT', `${base}/v2/${repository}/manifests/${tag}`, bytes, {
    'content-type': mediaType,
  });
}

/**
 * How the app follows images on a fleet: `home` serves `registry`, each region its own registry;
 * attestations not required, an unreadable index waits, regions not verified.
 */
export function imagesOnFleet(
  fleet: RegistryFleet,
  registry: string,
  regions: readonly string[],
): ImageDeps {
  return {
    reader: makeManifestReader({ auth: 'anonymous', tls: { ca: fleet.certificate.ca } }),
    endpoints: { [registry]: fleet.url('home') },
    regionalEndpoints: Object.fromEntries(regions.map((r) => [r, fleet.url(r)])),
    requireAttestations: false,
    onUnreadableIndex: 'wait',
    verifyRegions: false,
    boundMs: 5_000,
  };
}
