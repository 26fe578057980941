// The dashboard end to end: a simulated round in the local host, the page read over HTTP and in Debian's chromium.
import * as fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aDeleteEvent, aDigest, aPushEvent } from '../support/fixtures';
import {
  ADMIN_TOKEN,
  appRoot,
  REGIONS,
  READ_TOKEN,
  useApp,
  WEBHOOK_TOKEN,
} from '../support/app-host';
import { startReceiver, type Receiver } from '../support/receiver';

const CHROMIUM = '/usr/bin/chromium';
// Locally a missing chromium skips the browser tests; CI installs it (.ci/run), so there it fails.
const browserMissing = !fs.existsSync(CHROMIUM) && !process.env.CI;
const SCREENSHOT = path.join(appRoot, 'docs/dashboard.png');

const REGISTRY = 'contoso.azurecr.io';
const EVIL_REGISTRY = 'evil.azurecr.io';
const REPO = 'public/products/web';
const MARKUP_URL_PATH = '/<script>alert(1)</script>';
const MARKUP_ERROR = '<img src=x onerror=alert(1)>';

const receivers: Receiver[] = [];
let browser: Browser | undefined;
afterAll(async () => {
  await browser?.close();
  for (const r of receivers) await r.close();
});
const app = useApp();
beforeAll(() => simulateRounds(), 60_000);

// One reference time, so that lags come out exact however long the pushes take.
const base = Date.now();
const ago = (ms: number): string => new Date(base - ms).toISOString();
const MIN = 60_000;

async function push(registry: string, region: string, tag: string, digest: string, msAgo: number) {
  const response = await app.post(
    `/api/webhooks/acr/${region}`,
    aPushEvent({ registry, repository: REPO, tag, digest, timestamp: ago(msAgo) }),
  );
  expect(response.status).toBe(202);
}

async function subscribe(body: Record<string, unknown>): Promise<string> {
  const response = await app.call('/api/subscriptions', {
    method: 'POST',
    token: ADMIN_TOKEN,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: string }).id;
}

/** Runs the delivery timer until every delivery of the registry's events has had an attempt. */
async function settleDeliveries(receiver: Receiver, expected: number) {
  for (let i = 0; i < 50 && receiver.received.length < expected; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    await app.host.runTimer('deliverEvents');
  }
  expect(receiver.received.length).toBeGreaterThanOrEqual(expected);
  // The attempt is recorded after the answer arrives.
  await new Promise((resolve) => setTimeout(resolve, 200));
}

/**
 * contoso: four tags in every region (westeurope slowest), one whose new digest canadacentral
 * still lacks (stale, and open past STALL_AFTER), one just pushed (pending), one deleted.
 * evil: a subscription URL and a receiver error that carry markup.
 */
async function simulateRounds() {
  const ok = await startReceiver(() => ({ status: 200 }));
  const failing = await startReceiver(() => ({
    status: 500,
    headers: { 'content-type': 'text/html' },
    body: MARKUP_ERROR,
  }));
  receivers.push(ok, failing);
  await subscribe({ url: ok.url, filter: { registry: REGISTRY } });
  await subscribe({ url: `${failing.url}${MARKUP_URL_PATH}`, filter: { registry: EVIL_REGISTRY } });

  const lagsMs: Record<string, number> = {
    westus: 0,
    eastus: 2_000,
    canadacentral: 9_000,
    westeurope: 40_000,
  };
  for (const [i, tag] of ['1.0', '1.1', '1.2', '1.3'].entries()) {
    const digest = aDigest();
    const pushed = (12 - 2 * i) * MIN;
    for (const region of REGIONS) {
      await push(REGISTRY, region, tag, digest, pushed - (lagsMs[region] ?? 0) * (1 + i / 4));
    }
  }
  const old = aDigest();
  const current = aDigest();
  for (const region of REGIONS) {
    await push(REGISTRY, region, '1.4', old, 90 * MIN - (lagsMs[region] ?? 0));
  }
  for (const region of ['westus', 'eastus', 'westeurope']) {
    await push(REGISTRY, region, '1.4', current, 45 * MIN - (lagsMs[region] ?? 0));
  }
  await push(REGISTRY, 'westus', '1.5', aDigest(), 20_000);
  const gone = aDigest();
  await push(REGISTRY, 'westus', '0.9', gone, 30 * MIN);
  await push(REGISTRY, 'eastus', '0.9', gone, 30 * MIN - 3_000);
  const deleted = await app.post(
    '/api/webhooks/acr/westus',
    aDeleteEvent({ registry: REGISTRY, repository: REPO, digest: gone, timestamp: ago(25 * MIN) }),
  );
  expect(deleted.status).toBe(202);
  // 1.4 has been open 45 minutes: the sweep reports it stalled (STALL_AFTER is 30m).
  await app.host.runTimer('sweepRounds');
  // 1.0–1.3 replicated (the old round of 1.4 too), plus the stalled event.
  await settleDeliveries(ok, 6);

  const evil = aDigest();
  for (const region of REGIONS) await push(EVIL_REGISTRY, region, '6.6', evil, MIN);
  await settleDeliveries(failing, 1);
}

const dashboardHtml = async (registry: string, token: string) => {
  const response = await app.call(`/api/dashboard/${registry}`, { token });
  expect(response.status).toBe(200);
  return { response, html: await response.text() };
};

describe('GET /api/dashboard/{registry} over HTTP', () => {
  it('is HTML with a script-free Content-Security-Policy, never cached', async () => {
    const { response, html } = await dashboardHtml(REGISTRY, READ_TOKEN);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*';/);
    expect(csp).not.toContain('script-src');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(html).toMatch(/<meta http-equiv="refresh" content="10"/);
    expect(html).not.toMatch(/<script|\son\w+=/i);
  });

  it('takes the token as a bearer header or as ?token=, and refuses neither', async () => {
    const byQuery = await app.call(
      `/api/dashboard/${REGISTRY}?token=${encodeURIComponent(READ_TOKEN)}`,
      { token: null },
    );
    expect(byQuery.status).toBe(200);
    // Its links carry the token on, as the viewer has no other way to send it.
    expect(await byQuery.text()).toContain(`href="/api/dashboard?token=${READ_TOKEN}"`);
    // A webhook token reads nothing, in the header or in the URL.
    expect((await app.call(`/api/dashboard/${REGISTRY}`, { token: WEBHOOK_TOKEN })).status).toBe(
      403,
    );
    const webhookByQuery = await app.call(
      `/api/dashboard/${REGISTRY}?token=${encodeURIComponent(WEBHOOK_TOKEN)}`,
      { token: null },
    );
    expect(webhookByQuery.status).toBe(403);
    const none = await app.call(`/api/dashboard/${REGISTRY}`, { token: null });
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toBe('application/problem+json');
    const wrong = await app.call(`/api/dashboard/${REGISTRY}?token=not-a-token-0123456789`, {
      token: null,
    });
    expect(wrong.status).toBe(401);
    // The host logs the path only: the token never reaches the log.
    expect(app.logs.join('\n')).not.toContain(READ_TOKEN);
    expect(app.logs.join('\n')).not.toContain(WEBHOOK_TOKEN);
  });

  it('shows markup from a subscription URL and a receiver answer as text', async () => {
    const { html } = await dashboardHtml(EVIL_REGISTRY, ADMIN_TOKEN);
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).not.toContain(MARKUP_ERROR);
    expect(html).toContain('/hook/&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('HTTP 500 Internal Server Error: &lt;img src=x onerror=alert(1)&gt;');
    // Subscription URLs are admin information: a read token sees the subscription's id.
    const asReader = await dashboardHtml(EVIL_REGISTRY, READ_TOKEN);
    expect(asReader.html).not.toContain('alert(1)&lt;/script&gt;');
    expect(asReader.html).toMatch(/subscription [0-9a-f]{8}</);
  });
});

describe.skipIf(browserMissing)(`in chromium (${CHROMIUM}; skipped locally when missing)`, () => {
  const cspErrors: string[] = [];
  const dialogs: string[] = [];
  // One page for every test: a browser context costs seconds on a busy machine.
  let page: Page;

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--headless=new',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    page = await browser.newPage({ viewport: { width: 960, height: 900 } });
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspErrors.push(message.text());
    });
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
  });

  async function open(url: string) {
    const response = await page.goto(url);
    expect(response?.status()).toBe(200);
  }

  const withQueryToken = (registry: string) =>
    `${app.url}/api/dashboard/${registry}?token=${encodeURIComponent(READ_TOKEN)}`;

  /** A script run in the page (as text: the tests are type-checked without the DOM's types). */
  const inPage = <T>(expression: string): Promise<T> => page.evaluate<T>(expression);

  const state = (tag: string, region: string) =>
    page.locator(`tr[data-tag="${REPO}:${tag}"] td[data-region="${region}"] .state`).textContent();

  it('shows each tag × region state by its label, the lag chart, the stalled round and the deliveries', async () => {
    await open(withQueryToken(REGISTRY));
    const arrived = {
      westus: 'arrived',
      eastus: 'arrived',
      canadacentral: 'arrived',
      westeurope: 'arrived',
    };
    const expected: Record<string, Record<string, string>> = {
      '1.0': arrived,
      '1.3': arrived,
      '1.4': { ...arrived, canadacentral: 'stale' },
      '1.5': {
        westus: 'arrived',
        eastus: 'pending',
        canadacentral: 'pending',
        westeurope: 'pending',
      },
      '0.9': {
        westus: 'deleted',
        eastus: 'arrived',
        canadacentral: 'pending',
        westeurope: 'pending',
      },
    };
    for (const [tag, regions] of Object.entries(expected)) {
      for (const [region, label] of Object.entries(regions)) {
        expect(`${tag} ${region} ${await state(tag, region)}`).toBe(`${tag} ${region} ${label}`);
      }
    }
    // Colour too, which only the hashed style block gives: the CSP let it through.
    const cell = `tr[data-tag="${REPO}:1.0"] td[data-region="westus"]`;
    expect(
      await inPage<string>(`getComputedStyle(document.querySelector('${cell}')).backgroundColor`),
    ).toBe('rgb(218, 251, 225)');
    const lag = page.locator(`tr[data-tag="${REPO}:1.0"] td[data-region="westeurope"] .lag`);
    expect(await lag.textContent()).toBe('+40.0s');
    // The slowest region (by p90) heads the chart.
    expect(await page.locator('svg.chart g').first().getAttribute('data-region')).toBe(
      'westeurope',
    );
    const stalled = await page.locator('table.stalled-rounds tbody').innerText();
    expect(stalled).toContain(`${REPO}:1.4`);
    expect(stalled).toContain('canadacentral');
    const events = await page.locator('table.events').innerText();
    expect(events).toContain('stalled');
    expect(events).toContain('delivered');
    // arrived, reported (VERIFY_REGIONS), pending, stale, deleted.
    expect(await page.locator('.legend li').count()).toBe(5);
    expect(cspErrors).toEqual([]);

    // The matrix, the chart and the stalled rounds: enough for the README, and a small PNG.
    const png = await page.screenshot({ clip: { x: 0, y: 0, width: 960, height: 900 } });
    fs.mkdirSync(path.join(appRoot, 'test-results'), { recursive: true });
    fs.writeFileSync(path.join(appRoot, 'test-results/dashboard.png'), png);
    // The README's picture differs on every run (times, digests): rewritten on request, or when missing.
    if (process.env.UPDATE_SCREENSHOTS === '1' || !fs.existsSync(SCREENSHOT)) {
      fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
      fs.writeFileSync(SCREENSHOT, png);
    }
  });

  it('fits a phone: only the matrix scrolls sideways, not the page', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await open(withQueryToken(REGISTRY));
    const widths = await inPage<Record<string, number | string | boolean>>(`(() => {
      const matrix = document.querySelector('table.matrix').parentElement;
      return {
        viewport: window.innerWidth,
        document: document.documentElement.scrollWidth,
        body: document.body.scrollWidth,
        matrixScrolls: getComputedStyle(matrix).overflowX,
        matrixOverflows: matrix.scrollWidth > matrix.clientWidth,
      };
    })()`);
    expect(widths.viewport).toBe(390);
    expect(widths.document).toBeLessThanOrEqual(390);
    expect(widths.body).toBeLessThanOrEqual(390);
    expect(widths).toMatchObject({ matrixScrolls: 'auto', matrixOverflows: true });
    expect(await state('1.4', 'canadacentral')).toBe('stale');
  });

  it('runs no markup from a subscription URL or a receiver answer', async () => {
    // An admin sees subscription URLs; this time the token goes in the header.
    await page.setExtraHTTPHeaders({ authorization: `Bearer ${ADMIN_TOKEN}` });
    await open(`${app.url}/api/dashboard/${EVIL_REGISTRY}`);
    const text = await page.locator('table.events').innerText();
    expect(text).toContain(MARKUP_ERROR);
    expect(text).toContain(MARKUP_URL_PATH);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('script').count()).toBe(0);
    expect(dialogs).toEqual([]);
    expect(cspErrors).toEqual([]);
  });
});
