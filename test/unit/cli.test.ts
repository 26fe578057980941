import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { CliError, EXIT } from '../../src/cli/exit-codes';
import { run } from '../../src/cli/main';
import { redactUrl, scrub } from '../../src/cli/redact';
import { scopeWarning } from '../../src/cli/webhooks-command';
import { formatDuration, parseDuration, parseImageReference } from '../../src/cli/image-reference';

describe('image references', () => {
  it('reads registry, repository with slashes, and a tag or a digest', () => {
    expect(parseImageReference('contoso.azurecr.io/team/app/api:1.2')).toEqual({
      registry: 'contoso.azurecr.io',
      repository: 'team/app/api',
      tag: '1.2',
      digest: null,
      reference: 'team/app/api:1.2',
    });
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(parseImageReference(`localhost:5000/web@${digest}`)).toMatchObject({
      registry: 'localhost:5000',
      repository: 'web',
      tag: null,
      digest,
    });
  });

  it('refuses what a pipeline must not gate on, as a usage error', () => {
    for (const text of [
      'web:1.2',
      'contoso.azurecr.io/web',
      'contoso.azurecr.io/Web:1',
      'contoso.azurecr.io/web@md5:1',
    ]) {
      expect(() => parseImageReference(text)).toThrow(CliError);
    }
  });
});

describe('durations', () => {
  it('reads 90s, 15m, 1h30m and plain seconds', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('45')).toBe(45_000);
    expect(() => parseDuration('15 minutes')).toThrow(CliError);
  });

  it('prints them for people', () => {
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(46_910)).toBe('46.9s');
    expect(formatDuration(125_000)).toBe('2m05s');
    expect(formatDuration(5_400_000)).toBe('1h30m');
  });
});

describe('secrets in error lines', () => {
  /** A loopback port nobody listens on: a server's, closed again. */
  async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }

  async function errorLine(argv: string[], env: Record<string, string>): Promise<CliError> {
    const io = { env, out: () => undefined, err: () => undefined, isTty: false };
    const error: unknown = await run(argv, io).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CliError);
    return error as CliError;
  }

  it('refuses a token with an inner newline without echoing it', async () => {
    const port = await closedPort();
    const error = await errorLine(['status', 'contoso.azurecr.io/web:1'], {
      ACR_GATE_URL: `http://127.0.0.1:${port}/api`,
      ACR_GATE_TOKEN: 'first-half-SECRET\nsecond-half-SECRET',
    });
    expect(error.message).toContain('ACR_GATE_TOKEN');
    expect(error.message).not.toContain('SECRET');
    expect(error.exitCode).toBe(EXIT.usage);
  });

  it('prints an ACR_GATE_URL without its credentials or ?token= when the gate cannot be reached', async () => {
    const port = await closedPort();
    const withQuery = await errorLine(['status', 'contoso.azurecr.io/web:1'], {
      ACR_GATE_URL: `http://127.0.0.1:${port}/api?token=query-SECRET-0123456789`,
      ACR_GATE_TOKEN: 'a-good-token-0123456789',
    });
    expect(withQuery.message).toMatch(/^cannot reach http:\/\/127\.0\.0\.1:\d+\/api\?token=\*\*\*/);
    expect(withQuery.message).not.toContain('SECRET');

    const withCredentials = await errorLine(['status', 'contoso.azurecr.io/web:1'], {
      ACR_GATE_URL: `http://gate-user:password-SECRET@127.0.0.1:${port}/api`,
      ACR_GATE_TOKEN: 'a-good-token-0123456789',
    });
    expect(withCredentials.message).toContain('cannot reach http://***:***@127.0.0.1');
    expect(withCredentials.message).not.toContain('SECRET');
  });

  it('redacts URLs inside other text', () => {
    expect(redactUrl('https://u:p@gate.example/api?token=t&x=1')).toBe(
      'https://***:***@gate.example/api?token=***&x=***',
    );
    expect(scrub('failed for https://gate.example/api?token=abcd (abcd)', ['abcd'])).toBe(
      'failed for https://gate.example/api?token=*** (***)',
    );
  });
});

describe('webhook scopes', () => {
  it('warns about any scope, and about a bare repository read as repo:latest', () => {
    expect(scopeWarning(undefined)).toBeUndefined();
    expect(scopeWarning('')).toBeUndefined();
    expect(scopeWarning('web:*')).toMatch(/may not cover pushes by digest/);
    expect(scopeWarning('web:*')).not.toContain(':latest');
    expect(scopeWarning('web')).toContain("ACR reads a bare 'web' as 'web:latest'");
  });
});
