// Subscription filter globs: the same answers as a RegExp, in bounded work whatever the pattern.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileGlob, matchGlob, type GlobMeter } from '../../src/events/glob';

/** The former implementation, kept as the reference: right answers, exponential time on some inputs. */
function referenceRegExp(glob: string, pathAware: boolean): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i] as string;
    if (char === '*') {
      if (glob[i + 1] === '*') {
        source += '.*';
        i++;
      } else {
        source += pathAware ? '[^/]*' : '.*';
      }
    } else {
      source += char.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`, 's');
}

describe('matchGlob', () => {
  it('path-aware: * stays within one component, ** crosses /', () => {
    const one = compileGlob('team/*', { pathAware: true });
    expect(one('team/app')).toBe(true);
    expect(one('team/app/api')).toBe(false);
    expect(one('other/app')).toBe(false);
    const any = compileGlob('team/**', { pathAware: true });
    expect(any('team/app')).toBe(true);
    expect(any('team/app/api')).toBe(true);
    expect(any('teams/app')).toBe(false);
  });

  it('not path-aware: * matches anything, including /', () => {
    expect(matchGlob('1.*', '1.2', { pathAware: false })).toBe(true);
    expect(matchGlob('1.*', '2.1', { pathAware: false })).toBe(false);
    expect(matchGlob('a*', 'a/b', { pathAware: false })).toBe(true);
  });

  it('treats every other character literally', () => {
    expect(matchGlob('1.2', '1.2', { pathAware: false })).toBe(true);
    expect(matchGlob('1.2', '1x2', { pathAware: false })).toBe(false);
    expect(matchGlob('a+(b)?', 'a+(b)?', { pathAware: false })).toBe(true);
    expect(matchGlob('web', 'web-api', { pathAware: true })).toBe(false);
  });

  it('answers the reported patterns at once (these never finished with a backtracking RegExp)', () => {
    // 6 stars against 61 characters blocked the event loop 4-5 s; 8 stars against 128 for minutes.
    expect(matchGlob('*a*a*a*a*a*a*b', 'a'.repeat(61), { pathAware: false })).toBe(false);
    expect(matchGlob('*a*a*a*a*a*a*a*a*b', 'a'.repeat(128), { pathAware: false })).toBe(false);
    expect(matchGlob('*a*a*a*a*a*a*a*a*b', `${'a'.repeat(127)}b`, { pathAware: false })).toBe(true);
    expect(matchGlob('**a**a**a**a**a**a**a**b', 'a/'.repeat(128), { pathAware: true })).toBe(
      false,
    );
  });

  it('agrees with the RegExp on short adversarial patterns and names', () => {
    const pattern = fc.string({ unit: fc.constantFrom('a', 'b', '/', '.', '*'), maxLength: 10 });
    const name = fc.string({ unit: fc.constantFrom('a', 'b', '/', '.'), maxLength: 12 });
    fc.assert(
      fc.property(pattern, name, fc.boolean(), (glob, text, pathAware) => {
        expect(matchGlob(glob, text, { pathAware })).toBe(
          referenceRegExp(glob, pathAware).test(text),
        );
      }),
      { numRuns: 5000 },
    );
  });

  it('does at most (pattern length) steps per character of the name, for any input', () => {
    // Full-size inputs (the API caps repository globs at 256 and tag globs at 128 characters).
    const pattern = fc.string({ unit: fc.constantFrom('a', 'b', '/', '*'), maxLength: 256 });
    const name = fc.string({ unit: fc.constantFrom('a', 'b', '/'), maxLength: 256 });
    fc.assert(
      fc.property(pattern, name, fc.boolean(), (glob, text, pathAware) => {
        const meter: GlobMeter = { steps: 0 };
        compileGlob(glob, { pathAware })(text, meter);
        expect(meter.steps).toBeLessThanOrEqual(glob.length * text.length);
      }),
      { numRuns: 300 },
    );
    // The worst case named in the report, counted exactly: every position stays alive.
    const meter: GlobMeter = { steps: 0 };
    compileGlob('*a'.repeat(64), { pathAware: false })('a'.repeat(128), meter);
    expect(meter.steps).toBe(128 * 128);
  });
});
