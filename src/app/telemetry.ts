// The telemetry port: what the use cases report, whatever (if anything) exports it.
import type { Evaluation } from '../replication/tag-state';
import { millisBetween } from '../replication/timestamp';

export type Annotate = (attributes: Record<string, string | number>, failed?: boolean) => void;

export type DeliveryOutcome = 'delivered' | 'retrying' | 'dead' | 'gone' | 'cancelled';

export interface Telemetry {
  /** One regional push or delete handled; `written` is false for one already known. */
  arrival(a: { registry: string; region: string; kind: 'push' | 'delete'; written: boolean }): void;
  /** A region first holds the tag's current digest, `lagMs` after the push (the earliest event). */
  regionArrived(a: { registry: string; region: string; lagMs: number }): void;
  /** A round completed: every required region holds the digest, `durationMs` after the push. */
  roundCompleted(a: { registry: string; durationMs: number | null }): void;
  /** A round was reported stalled; `missing` are the regions it still waits for. */
  roundStalled(a: { registry: string; missing: readonly string[] }): void;
  /** One delivery attempt settled (or cancelled before it was sent). */
  delivery(a: { outcome: DeliveryOutcome; builtin: boolean }): void;
  /** Runs `work` inside a trace span named `name`; `annotate` adds attributes, or marks it failed. */
  span<T>(
    name: string,
    attributes: Record<string, string>,
    work: (annotate: Annotate) => Promise<T>,
  ): Promise<T>;
}

/** The default: reports go nowhere. */
export const noTelemetry: Telemetry = {
  arrival: () => undefined,
  regionArrived: () => undefined,
  roundCompleted: () => undefined,
  roundStalled: () => undefined,
  delivery: () => undefined,
  span: (_name, _attributes, work) => work(() => undefined),
};

/**
 * What one stored write of a tag means for telemetry: the regions that now hold the current
 * digest and did not before (each with its lag after the push), a completion, a stall.
 */
export function reportTagWrite(
  telemetry: Telemetry | undefined,
  registry: string,
  before: Evaluation | undefined,
  after: Evaluation,
  happened: { completed: boolean; stalled: boolean },
): void {
  if (telemetry === undefined) return;
  const { digest, pushedAt } = after;
  if (digest !== null && pushedAt !== null) {
    const held = new Set(
      before?.digest === digest
        ? before.regions.filter((r) => r.status === 'arrived').map((r) => r.region)
        : [],
    );
    for (const view of after.regions) {
      if (view.status !== 'arrived' || view.arrivedAt === undefined || held.has(view.region)) {
        continue;
      }
      const lagMs = Math.max(0, millisBetween(pushedAt, view.arrivedAt));
      telemetry.regionArrived({ registry, region: view.region, lagMs });
    }
  }
  if (happened.completed) {
    const durationMs =
      pushedAt !== null && after.replicatedAt !== null
        ? millisBetween(pushedAt, after.replicatedAt)
        : null;
    telemetry.roundCompleted({ registry, durationMs });
  }
  if (happened.stalled) telemetry.roundStalled({ registry, missing: after.missingRegions });
}
