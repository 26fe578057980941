import { describe, expect, it } from 'vitest';
import { acrEventSchema, ignoredAction, toIntent } from '../../src/replication/acr-event';
import { aDeleteEvent, aPushEvent, aQuarantineSample } from '../support/fixtures';

const parse = (body: unknown) => acrEventSchema.safeParse(body);
const opts = { countQuarantine: false };

describe('ACR webhook payloads', () => {
  it('reads a push as an arrival of the tag at its digest', () => {
    const event = aPushEvent({ repository: 'team/app/api', tag: '1.2' });
    const parsed = parse(event);
    expect(parsed.success).toBe(true);
    expect(parsed.success && toIntent(parsed.data, opts)).toMatchObject({
      kind: 'push',
      registry: 'contoso.azurecr.io',
      repository: 'team/app/api',
      tag: '1.2',
      timestamp: '2026-03-14T09:26:53.589793238Z',
    });
  });

  it('accepts unknown extra fields, as list-events shows them', () => {
    const event = {
      ...aPushEvent(),
      actor: { name: 'ci' },
      source: { addr: 'x', instanceID: 'y' },
    };
    expect(parse(event).success).toBe(true);
  });

  it('reads a push by digest (no tag) and a delete (no tag)', () => {
    const byDigest = parse(aPushEvent({ tag: undefined }));
    expect(byDigest.success && toIntent(byDigest.data, opts)).toMatchObject({
      kind: 'push',
      tag: null,
    });
    const del = parse(aDeleteEvent());
    expect(del.success && toIntent(del.data, opts)).toMatchObject({ kind: 'delete' });
  });

  it('tells ignored kinds apart by their action alone (a quarantine event with a host that does not validate)', () => {
    const sample = aQuarantineSample();
    expect(parse(sample).success).toBe(false);
    expect(ignoredAction(sample, { countQuarantine: false })).toMatchObject({
      action: 'quarantine',
      intent: { kind: 'ignore' },
    });
    const { request: _request, ...noRequest } = sample;
    expect(ignoredAction(noRequest, { countQuarantine: false })?.intent.kind).toBe('ignore');
    expect(ignoredAction({ action: 'chart_delete' }, { countQuarantine: false })?.action).toBe(
      'chart_delete',
    );
    // Counted, a quarantine event is an arrival and is validated like one.
    expect(ignoredAction(sample, { countQuarantine: true })).toBeUndefined();
    expect(ignoredAction(aPushEvent(), { countQuarantine: false })).toBeUndefined();
    expect(ignoredAction('quarantine', { countQuarantine: false })).toBeUndefined();
  });

  it('acknowledges quarantine and chart events without counting them', () => {
    const q = parse({
      ...aPushEvent(),
      action: 'quarantine',
      target: { repository: 'web', digest: 'sha256:abc' },
    });
    expect(q.success && toIntent(q.data, opts)).toMatchObject({ kind: 'ignore' });
    const chart = parse({
      id: '1',
      timestamp: '2026-03-14T09:26:53Z',
      action: 'chart_push',
      target: {
        mediaType: 'application/vnd.acr.helm.chart',
        name: 'c',
        version: '1.0.0',
        repository: 'c',
      },
    });
    expect(chart.success && toIntent(chart.data, opts)).toMatchObject({ kind: 'ignore' });
    expect(parse({ action: 'ping' }).success).toBe(true);
  });

  it('names the offending field', () => {
    const event = aPushEvent();
    (event.target as Record<string, unknown>).digest = 'sha256:XYZ';
    const parsed = parse(event);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(['target', 'digest']);
  });

  it('rejects an unknown action and an invalid repository', () => {
    expect(parse({ ...aPushEvent(), action: 'pull' }).error?.issues[0]?.path).toEqual(['action']);
    const bad = aPushEvent({ repository: 'Team/App' });
    expect(parse(bad).error?.issues[0]?.path).toEqual(['target', 'repository']);
  });
});
