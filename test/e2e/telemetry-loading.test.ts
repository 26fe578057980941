// @azure/monitor-opentelemetry is loaded only when APPLICATIONINSIGHTS_CONNECTION_STRING is set.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { appRoot } from '../support/app-host';
import { LOOPBACK_APP_SETTINGS } from '../support/azure-platform';

const base = LOOPBACK_APP_SETTINGS;

/** Builds the handlers in a fresh process (from dist/) and says whether the package got loaded. */
function loadsMonitor(env: Record<string, string>): boolean {
  const script = `
    const { buildHandlers } = require('./dist/src/main');
    buildHandlers();
    const loaded = Object.keys(require.cache).some((k) => k.includes('@azure/monitor-opentelemetry'));
    process.stdout.write(String(loaded));
    process.exit(0);`;
  const out = execFileSync(process.execPath, ['-e', script], {
    cwd: appRoot,
    env: { PATH: process.env.PATH ?? '', ...base, ...env },
    encoding: 'utf8',
  });
  return out.trim().endsWith('true');
}

describe('Azure Monitor OpenTelemetry', () => {
  it('is not loaded without APPLICATIONINSIGHTS_CONNECTION_STRING', () => {
    expect(loadsMonitor({})).toBe(false);
  });

  it('is loaded and started with it (Entra ID auth, ingestion at a closed loopback port)', () => {
    expect(
      loadsMonitor({
        APPLICATIONINSIGHTS_CONNECTION_STRING:
          'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/',
        APPLICATIONINSIGHTS_AUTHENTICATION_STRING:
          'ClientId=11111111-1111-1111-1111-111111111111;Authorization=AAD',
      }),
    ).toBe(true);
  });
});
