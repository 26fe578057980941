// The dashboard's markup: escaping, and the page from plain data (its figures: dashboard-stats.test.ts).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CONTENT_SECURITY_POLICY,
  escapeHtml,
  markup,
  renderRegistryPage,
  type RegistryPage,
} from '../../src/dashboard/render-dashboard';
import { aStatus, threeRounds } from '../support/statuses';

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

describe('the registry page', () => {
  const tags = threeRounds();

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
