// The registry's data plane through @azure/container-registry: the only module that imports it.
import type { TokenCredential } from '@azure/core-auth';
import type { PipelinePolicy, TlsSettings } from '@azure/core-rest-pipeline';
// Loaded on the first read (images the gate follows): most webhooks never read a registry.
import type * as Acr from '@azure/container-registry';
import { lazyCredential } from '../util/lazy-credential';
import { MAX_INDEX_BYTES, parseIndex, type ImageChild } from '../replication/image-index';

export type IndexRead =
  { ok: true; mediaType: string; children: ImageChild[] } | { ok: false; reason: string };

export type Confirmation = { ok: true } | { ok: false; reason: string };

/** What the gate asks of a registry: an index's children, and whether manifests are at an endpoint. */
export interface ManifestReader {
  readIndex(
    endpoint: string,
    repository: string,
    digest: string,
    signal: AbortSignal,
  ): Promise<IndexRead>;
  /** Every digest readable at `endpoint` (a region's own endpoint). */
  confirm(
    endpoint: string,
    repository: string,
    digests: readonly string[],
    signal: AbortSignal,
  ): Promise<Confirmation>;
}

export interface ReaderOptions {
  auth: 'entra' | 'anonymous';
  /** Extra trust for TLS (tests). Azure and NODE_EXTRA_CA_CERTS need none. */
  tls?: TlsSettings;
  credential?: TokenCredential;
}

class TooLargeError extends Error {
  override readonly name = 'TooLargeError';
}

/** Refuses a manifest larger than the bound from its Content-Length, before its body is read. */
const sizeGuard: PipelinePolicy = {
  name: 'acrGateManifestSizeGuard',
  async sendRequest(request, next) {
    const response = await next(request);
    const length = Number(response.headers.get('content-length') ?? '0');
    if (length > MAX_INDEX_BYTES) {
      response.readableStreamBody?.resume();
      throw new TooLargeError(
        `the index is ${length} bytes, more than the ${MAX_INDEX_BYTES} the gate reads`,
      );
    }
    return response;
  },
};

/** Why a read failed, in words for the status body: no secret, no stack. */
export function describeFailure(error: unknown): string {
  const e = error as { name?: string; statusCode?: number; code?: string; message?: string };
  if (e.name === 'TooLargeError') return e.message ?? 'the index is too large';
  if (e.name === 'AbortError') return 'the registry did not answer in time';
  if (e.statusCode === 401 || e.statusCode === 403) {
    return `the registry refused the read (${e.statusCode}): the gate's identity needs AcrPull`;
  }
  if (e.statusCode === 404) return 'the registry does not have this manifest (404)';
  if (e.statusCode !== undefined) return `the registry answered ${e.statusCode}`;
  if (e.name === 'DigestMismatchError') return 'the registry returned content of another digest';
  if (e.name === 'SyntaxError') return 'the index is not valid JSON';
  if (e.code !== undefined) return `the registry could not be reached (${e.code})`;
  return `the registry read failed: ${(e.message ?? String(error)).slice(0, 200)}`;
}

export function makeManifestReader(options: ReaderOptions): ManifestReader {
  const credential =
    options.auth === 'entra'
      ? (options.credential ?? lazyCredential((identity) => new identity.DefaultAzureCredential()))
      : undefined;
  const clients = new Map<string, Acr.ContainerRegistryContentClient>();
  let sdk: Promise<typeof Acr> | undefined;
  const client = async (endpoint: string, repository: string) => {
    const { ContainerRegistryContentClient } = await (sdk ??= import('@azure/container-registry'));
    const key = `${endpoint} ${repository}`;
    let c = clients.get(key);
    if (!c) {
      // Anonymous access is the SDK's documented `credential` left out; its type does not say so.
      c = new ContainerRegistryContentClient(endpoint, repository, credential as TokenCredential, {
        retryOptions: { maxRetries: 1 },
        additionalPolicies: [{ policy: sizeGuard, position: 'perCall' }],
        ...(options.tls ? { tlsOptions: options.tls } : {}),
      });
      if (clients.size > 100) clients.clear();
      clients.set(key, c);
    }
    return c;
  };

  return {
    async readIndex(endpoint, repository, digest, signal) {
      try {
        const result = await (
          await client(endpoint, repository)
        ).getManifest(digest, {
          abortSignal: signal,
        });
        const parsed = parseIndex(result.manifest);
        return parsed.ok
          ? { ok: true, mediaType: result.mediaType, children: parsed.children }
          : parsed;
      } catch (error) {
        return { ok: false, reason: describeFailure(error) };
      }
    },
    async confirm(endpoint, repository, digests, signal) {
      for (const digest of digests) {
        try {
          // A GET by digest: the SDK has no HEAD of a manifest, and it checks the content's digest.
          await (await client(endpoint, repository)).getManifest(digest, { abortSignal: signal });
        } catch (error) {
          return { ok: false, reason: `${digest}: ${describeFailure(error)}` };
        }
      }
      return { ok: true };
    },
  };
}
