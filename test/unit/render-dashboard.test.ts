// The dashboard's pure parts: escaping, the lag figures and stalled rounds, and the page from plain data.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { StatusBody } from '../../src/app/read-status';
import {
  CONTENT_SECURITY_POLICY,
  escapeHtml,
  markup,
  regionLags,
  renderRegistryPage,
  stalledRounds,
  type RegistryPage,
} from '../../src/dashboard/render-dashboard';
import type { Instant } from '../../src/replication/timestamp';

/** `…00.000Z` → the stored form, `…00.000000000Z`. */
const at = (iso: string) => iso.replace(/Z$/, '000000Z') as Instant;

function aStatus(
  tag: string,
  pushedAt: string,
  arrivals: Record<string, string | null>,
): StatusBody {
  const regions = Object.entries(arrivals).map(([region, arrived]) =>
    arrived === null
      ? { region, required: true, status: 'pending' as const }
      : {
          region,
          required: true,
          status: 'arrived' as const,
          digest: 'sha256:x',
          arrivedAt: at(arrived),
        },
  );
  const missing = regions.filter((r) => r.status !== 'arrived').map((r) => r.region);
  return {
    registry: 'contoso.azurecr.io',
    repository: 'web',
    tag,
    digest: 'sha256:x',
    status: missing.length === 0 ? 'replicated' : 'replicating',
    requiredRegions: Object.keys(arrivals),
    regions,
    missingRegions: missing,
    pushedAt: at(pushedAt),
    replicatedAt: null,
    eventId: null,
  };
}

describe('escapeHtml and markup', () => {
  it('escapes the five characters that matter in text and in quoted attributes', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
  });

  it('escapes every interpolated value, nested lists included, but not markup it built', () => {
    const evil = '"><script>alert(1)</script>';
    const built = markup`<p title="${evil}">${[evil, markup`<b>${evil}</b>`]}</p>`;
    expect(built.text).toBe(
      '<p title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">' +
        '&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;' +
        '<b>&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</b></p>',
    );
  });
});

describe('figures', () => {
  const tags = [
    aStatus('1', '2026-03-14T09:00:00.000Z', {
      eastus: '2026-03-14T09:00:01.000Z',
      westus: '2026-03-14T09:00:00.000Z',
    }),
    aStatus('2', '2026-03-14T09:10:00.000Z', {
      eastus: '2026-03-14T09:10:03.000Z',
      westus: '2026-03-14T09:10:00.500Z',
    }),
    aStatus('3', '2026-03-14T09:20:00.000Z', { eastus: '2026-03-14T09:20:09.000Z', westus: null }),
  ];

  it('gives each region the median and p90 of its lags, slowest first', () => {
    expect(regionLags(tags, ['westus', 'eastus'])).toEqual([
      { region: 'eastus', rounds: 3, medianMs: 3000, p90Ms: 9000 },
      { region: 'westus', rounds: 2, medianMs: 0, p90Ms: 500 },
    ]);
  });

  it('counts a round as stalled from STALL_AFTER after its push', () => {
    const now = '2026-03-14T09:50:00.000000000Z';
    expect(stalledRounds(tags, now, 30 * 60_000).map((s) => s.tag.tag)).toEqual(['3']);
    expect(stalledRounds(tags, now, 30 * 60_000 + 1)).toEqual([]);
  });

  it('renders a page whose only style block is the one the policy allows', () => {
    const page: RegistryPage = {
      registry: 'contoso.azurecr.io',
      now: '2026-03-14T09:50:00.000000000Z',
      requiredRegions: ['eastus', 'westus'],
      regionsSource: 'default',
      tags,
      stallAfterMs: 30 * 60_000,
      events: [],
      links: { basePath: '/api/dashboard' },
    };
    const html = renderRegistryPage(page);
    const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1] ?? '');
    expect(styles).toHaveLength(1);
    const hash = /style-src 'sha256-([^']+)'/.exec(CONTENT_SECURITY_POLICY)?.[1];
    expect(
      createHash('sha256')
        .update(styles[0] ?? '')
        .digest('base64'),
    ).toBe(hash);
    expect(html).not.toMatch(/\sstyle=/);
  });
});

describe('a multi-platform round on the dashboard', () => {
  it('shows per region how many manifests are missing, which ones on hover, and the reason', () => {
    const status = aStatus('multi', '2026-03-14T09:40:00.000Z', {
      eastus: null,
      westus: '2026-03-14T09:41:00.000Z',
    });
    const eastus = status.regions[0];
    if (eastus) eastus.missing = [`sha256:${'a'.repeat(64)}`, `sha256:${'b'.repeat(64)}`];
    status.reason = 'the index could not be read: the registry answered 503';
    const html = renderRegistryPage({
      registry: 'contoso.azurecr.io',
      now: '2026-03-14T09:50:00.000000000Z',
      requiredRegions: ['eastus', 'westus'],
      regionsSource: 'default',
      tags: [status],
      stallAfterMs: 30 * 60_000,
      events: [],
      links: { basePath: '/api/dashboard' },
    });
    const cell = /<td class="cell pending" data-region="eastus"[\s\S]*?<\/td>/.exec(html)?.[0];
    expect(cell).toContain('2 missing');
    expect(cell).toContain(`missing sha256:${'a'.repeat(12)}…, sha256:${'b'.repeat(12)}…`);
    expect(cell).toContain('the registry answered 503');
  });
});
