// Telemetry through the running app: real webhooks in, OpenTelemetry's in-memory exporter out.
import { metrics, trace } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type HistogramMetricData,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRICS } from '../../src/telemetry/otel-telemetry';
import { aDigest, aPushEvent } from '../support/fixtures';
import { ADMIN_TOKEN, REGIONS, useApp } from '../support/app-host';
import { startReceiver } from '../support/receiver';

const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
// Exports only when flushed below: no interval fires during the test.
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
const meterProvider = new MeterProvider({ readers: [reader] });
const spans = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(spans)],
});

beforeAll(() => {
  // The SDK a host would register (Azure Monitor's, on Azure): the app only uses the API.
  metrics.setGlobalMeterProvider(meterProvider);
  trace.setGlobalTracerProvider(tracerProvider);
});
afterAll(async () => {
  await meterProvider.shutdown();
  await tracerProvider.shutdown();
  metrics.disable();
  trace.disable();
});
// After the providers' hooks: started once they are set, stopped before they shut down.
const app = useApp();

// Each test pushes to a registry of its own and reads only its points, since the cumulative
// metrics of the one app outlive a test: what another test recorded, in any order, is not counted.
const REGISTRY = 'contoso.azurecr.io';
const STALLING_REGISTRY = 'fabrikam.azurecr.io';

async function exported(name: string): Promise<MetricData | undefined> {
  await reader.forceFlush();
  const all = exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
  return all.filter((m) => m.descriptor.name === name).at(-1);
}

describe('OpenTelemetry from a replication round', () => {
  it("records each region's lag after the push, counts arrivals and the completion, and traces each webhook", async () => {
    // Only this test's webhook spans: whatever ran before it is dropped.
    spans.reset();
    const digest = aDigest();
    const tag = `telemetry-${digest.slice(7, 15)}`;
    // westus takes the push; the replicas report 4 s, 65 s and 125 s later (ACR's timestamps).
    const at = {
      westus: '09:00:00.000',
      eastus: '09:00:04.000',
      canadacentral: '09:01:05.000',
      westeurope: '09:02:05.000',
    };
    for (const region of REGIONS) {
      const body = aPushEvent({
        tag,
        digest,
        timestamp: `2026-03-14T${at[region as keyof typeof at]}Z`,
      });
      const response = await app.post(`/api/webhooks/acr/${region}`, body);
      expect(response.status).toBe(202);
    }
    // A duplicate delivery is an arrival, but not a new region.
    const again = await app.post(
      '/api/webhooks/acr/eastus',
      aPushEvent({ tag, digest, timestamp: `2026-03-14T${at.eastus}Z` }),
    );
    expect(again.status).toBe(202);

    const lag = (await exported(METRICS.regionLag)) as HistogramMetricData | undefined;
    expect(lag?.dataPointType).toBe(DataPointType.HISTOGRAM);
    const byRegion = new Map(
      (lag?.dataPoints ?? [])
        .filter((p) => p.attributes.registry === REGISTRY)
        .map((p) => [p.attributes.region, p.value]),
    );
    expect([...byRegion.keys()].sort()).toEqual([...REGIONS].sort());
    expect(byRegion.get('westus')).toMatchObject({ count: 1, sum: 0 });
    expect(byRegion.get('eastus')).toMatchObject({ count: 1, sum: 4_000 });
    expect(byRegion.get('canadacentral')).toMatchObject({ count: 1, sum: 65_000 });
    expect(byRegion.get('westeurope')).toMatchObject({ count: 1, sum: 125_000 });

    const arrivals = await exported(METRICS.arrivals);
    const counted = (arrivals?.dataPoints ?? []).filter((p) => p.attributes.registry === REGISTRY);
    const eastus = (duplicate: string) =>
      counted.find((p) => p.attributes.region === 'eastus' && p.attributes.duplicate === duplicate)
        ?.value;
    expect(eastus('false')).toBe(1);
    expect(eastus('true')).toBe(1);

    const completed = await exported(METRICS.completions);
    expect(completed?.dataPoints.find((p) => p.attributes.registry === REGISTRY)?.value).toBe(1);

    const webhookSpans = spans.getFinishedSpans().filter((s) => s.name === 'acrgate.webhook.acr');
    expect(webhookSpans).toHaveLength(REGIONS.length + 1);
    expect(webhookSpans.map((s) => s.attributes['acrgate.region'])).toContain('westeurope');
    expect(webhookSpans.every((s) => s.attributes['http.response.status_code'] === 202)).toBe(true);
  });

  it('counts a stalled round, and deliveries by outcome', async () => {
    const receiver = await startReceiver();
    try {
      const created = await app.call('/api/subscriptions', {
        method: 'POST',
        token: ADMIN_TOKEN,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: receiver.url }),
      });
      expect(created.status).toBe(201);
      // Only westus, months ago by ACR's timestamp: open far past STALL_AFTER (30m).
      const pushed = await app.post(
        '/api/webhooks/acr/westus',
        aPushEvent({
          registry: STALLING_REGISTRY,
          tag: 'stalls',
          digest: aDigest(),
          timestamp: '2026-03-14T09:00:00Z',
        }),
      );
      expect(pushed.status).toBe(202);
      await app.host.runTimer('sweepRounds');

      const stalls = await exported(METRICS.stalls);
      expect(
        stalls?.dataPoints.find((p) => p.attributes.registry === STALLING_REGISTRY)?.value,
      ).toBe(1);

      // The stalled event goes to the subscription: at once, or by the delivery timer.
      const delivered = async () =>
        (await exported(METRICS.deliveries))?.dataPoints.find(
          (p) => p.attributes.outcome === 'delivered' && p.attributes.sink === 'subscription',
        )?.value;
      for (let i = 0; i < 40 && (await delivered()) === undefined; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        await app.host.runTimer('deliverEvents');
      }
      expect(await delivered()).toBe(1);
      expect(receiver.received).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });
});
