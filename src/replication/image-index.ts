// What an OCI index (or Docker manifest list) names: its child manifests, and which of them a pull needs.
import { z } from 'zod';
import { digestSchema } from './names';

export const INDEX_MEDIA_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
] as const;

export const isIndexMediaType = (mediaType: string | undefined): boolean =>
  mediaType !== undefined && (INDEX_MEDIA_TYPES as readonly string[]).includes(mediaType);

/** An index names at most this many children; a larger one is refused, not read. */
export const MAX_CHILDREN = 256;
/** Bytes an index of MAX_CHILDREN generous descriptors fits in; checked before the body is read. */
export const MAX_INDEX_BYTES = MAX_CHILDREN * 1024;

export interface ImageChild {
  digest: string;
  /** `os/architecture[/variant]`, when the descriptor says. */
  platform?: string;
  /** A `docker buildx` provenance or SBOM attestation, not something a node pulls. */
  attestation: boolean;
}

const descriptorSchema = z.looseObject({
  digest: digestSchema,
  mediaType: z.string().max(200).optional(),
  platform: z
    .looseObject({
      os: z.string().max(100),
      architecture: z.string().max(100),
      variant: z.string().max(100).optional(),
    })
    .optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

const indexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(z.unknown()),
});

export type IndexParse = { ok: true; children: ImageChild[] } | { ok: false; reason: string };

/** The children an index names, or why it cannot be trusted to name them. */
export function parseIndex(body: unknown): IndexParse {
  const index = indexSchema.safeParse(body);
  if (!index.success) return { ok: false, reason: 'the index is not an OCI image index' };
  if (index.data.manifests.length > MAX_CHILDREN) {
    return {
      ok: false,
      reason: `the index names ${index.data.manifests.length} manifests, more than the ${MAX_CHILDREN} the gate follows`,
    };
  }
  const children: ImageChild[] = [];
  for (const [i, raw] of index.data.manifests.entries()) {
    const d = descriptorSchema.safeParse(raw);
    if (!d.success) return { ok: false, reason: `manifests[${i}] is not a valid descriptor` };
    const platform = d.data.platform;
    const attestation =
      d.data.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ||
      (platform?.os === 'unknown' && platform.architecture === 'unknown');
    children.push({
      digest: d.data.digest,
      attestation,
      ...(platform
        ? {
            platform: [platform.os, platform.architecture, platform.variant]
              .filter((p) => p !== undefined)
              .join('/'),
          }
        : {}),
    });
  }
  return { ok: true, children };
}

/** The children a region must hold before the image counts as there. */
export const neededChildren = (
  children: readonly ImageChild[],
  requireAttestations: boolean,
): string[] => [
  ...new Set(children.filter((c) => requireAttestations || !c.attestation).map((c) => c.digest)),
];
