// The telemetry port over the OpenTelemetry API: whichever SDK the host registered exports it.
import { SpanKind, SpanStatusCode, type Meter, type Tracer } from '@opentelemetry/api';
import type { Telemetry } from '../app/telemetry';

/** Instrument names, as they appear in Application Insights' customMetrics. */
export const METRICS = {
  regionLag: 'acrgate.region.arrival_lag',
  arrivals: 'acrgate.arrivals',
  completions: 'acrgate.rounds.completed',
  stalls: 'acrgate.rounds.stalled',
  deliveries: 'acrgate.deliveries',
} as const;

export function makeOtelTelemetry(meter: Meter, tracer: Tracer): Telemetry {
  const regionLag = meter.createHistogram(METRICS.regionLag, {
    description: "A region's arrival after the push (the earliest event of the digest)",
    unit: 'ms',
    // Replication takes seconds to an hour; the SDK's default boundaries stop at 10 s.
    advice: {
      explicitBucketBoundaries: [
        1_000, 5_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000,
      ],
    },
  });
  const arrivals = meter.createCounter(METRICS.arrivals, {
    description: 'Regional push and delete events handled',
  });
  const completions = meter.createCounter(METRICS.completions, {
    description: 'Rounds that reached every required region',
  });
  const stalls = meter.createCounter(METRICS.stalls, {
    description: 'Rounds reported stalled',
  });
  const deliveries = meter.createCounter(METRICS.deliveries, {
    description: 'Event delivery attempts by outcome',
  });
  return {
    arrival: ({ registry, region, kind, written }) =>
      arrivals.add(1, { registry, region, kind, duplicate: String(!written) }),
    regionArrived: ({ registry, region, lagMs }) => regionLag.record(lagMs, { registry, region }),
    roundCompleted: ({ registry }) => completions.add(1, { registry }),
    roundStalled: ({ registry }) => stalls.add(1, { registry }),
    delivery: ({ outcome, builtin }) =>
      deliveries.add(1, { outcome, sink: builtin ? 'eventgrid-topic' : 'subscription' }),
    span: (name, attributes, work) =>
      tracer.startActiveSpan(name, { kind: SpanKind.SERVER, attributes }, async (span) => {
        try {
          return await work((more, failed) => {
            span.setAttributes(more);
            if (failed) span.setStatus({ code: SpanStatusCode.ERROR });
          });
        } catch (error) {
          span.recordException(error as Error);
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw error;
        } finally {
          span.end();
        }
      }),
  };
}
