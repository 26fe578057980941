// The whole image, not just its index: a region counts only when every manifest a pull needs is there.
import type { RegionView } from './tag-state';
import type { Instant } from './timestamp';

/** What the gate knows about the manifests under a tag's target (an index, or a verified manifest). */
export interface ImageState {
  /** The target digest this describes; ignored once the tag moves on. */
  digest: string;
  /** The children a pull needs (attestations only when required); absent until the index is read. */
  children?: string[];
  /** Why the children are not known: the round waits (unless `trustIndex`). */
  reason?: string;
  /** ON_UNREADABLE_INDEX=trust-index: an unreadable index counts alone, as before. */
  trustIndex?: boolean;
  /** Per region, the needed children whose push webhooks that region sent. */
  arrived: Record<string, string[]>;
  /** VERIFY_REGIONS=true: a region counts only once confirmed at its own endpoint. */
  verify?: boolean;
  /** Per region, when every needed manifest was confirmed at that region's endpoint. */
  confirmed: Record<string, Instant>;
  /** Per region, why the last confirmation failed. */
  unconfirmed?: Record<string, string>;
  /** Reads and checks that failed so far, for the sweep's back-off. */
  attempts: number;
  /** When the sweep tries again (absent when nothing is left to try). */
  retryAt?: Instant;
}

const within = (image: ImageState | undefined, target: string | null): image is ImageState =>
  image !== undefined && target !== null && image.digest === target;

/**
 * A region whose webhooks say the index arrived still waits for the children it lacks, for the
 * children to be known at all, and (with verification) for the region's own endpoint to confirm.
 */
export function gateRegion(
  image: ImageState | undefined,
  target: string | null,
  view: RegionView,
): RegionView {
  if (!within(image, target) || view.status !== 'arrived' || view.digest !== target) return view;
  const waiting = (missing: string[]): RegionView => {
    const { arrivedAt: _reported, ...rest } = view;
    return { ...rest, status: image.verify ? 'reported' : 'pending', missing };
  };
  const children = image.children ?? (image.trustIndex ? [] : undefined);
  if (children === undefined) return waiting([]);
  if (image.verify) {
    // Confirmed at the region's endpoint: child webhooks (which may never come) are not needed.
    return image.confirmed[view.region] !== undefined ? view : waiting([target, ...children]);
  }
  const there = new Set(image.arrived[view.region] ?? []);
  const missing = children.filter((c) => !there.has(c));
  return missing.length === 0 ? view : waiting(missing);
}

/** Why the round cannot finish on webhooks alone, for the status body. */
export function imageReason(image: ImageState | undefined, target: string | null): string | null {
  if (!within(image, target)) return null;
  return image.reason ?? null;
}
