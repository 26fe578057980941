import { describe, expect, it } from 'vitest';
import { CliError } from '../../src/cli/exit-codes';
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
