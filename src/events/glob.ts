// Subscription filter globs, matched in O(pattern × name) steps whatever the input: no backtracking.

/**
 * One position of the pattern: a literal character, or a star. Path-aware `*` stays within one
 * `/`-separated component; `**` (and any longer run of stars) crosses `/`.
 */
type Token = { star: false; char: string } | { star: true; crossesSlash: boolean };

export interface GlobOptions {
  pathAware: boolean;
}

/** Counts the work a match does, so tests can bound it without a clock. */
export interface GlobMeter {
  steps: number;
}

function tokenize(glob: string, { pathAware }: GlobOptions): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < glob.length;) {
    if (glob[i] !== '*') {
      tokens.push({ star: false, char: glob[i] as string });
      i += 1;
      continue;
    }
    let run = 0;
    while (glob[i] === '*') {
      run += 1;
      i += 1;
    }
    // `a**b` and `a***b` mean the same: one star that may cross `/` (`.*[^/]*` is `.*`).
    tokens.push({ star: true, crossesSlash: !pathAware || run >= 2 });
  }
  return tokens;
}

/**
 * Compiles a glob into a whole-string matcher. It simulates the pattern's automaton one character
 * at a time, keeping the set of pattern positions reachable so far (at most pattern length + 1),
 * instead of trying alternatives one after another the way a backtracking RegExp does; so
 * `*a*a*a*a*a*a*b` against a long run of `a`s costs a few thousand steps, not an exponential number.
 */
export function compileGlob(
  glob: string,
  options: GlobOptions,
): (text: string, meter?: GlobMeter) => boolean {
  const tokens = tokenize(glob, options);
  const size = tokens.length + 1;
  // Stars match the empty string: being before a star means being after it as well.
  const close = (states: Uint8Array): void => {
    for (let i = 0; i < tokens.length; i++) {
      if (states[i] === 1 && tokens[i]?.star === true) states[i + 1] = 1;
    }
  };
  return (text, meter) => {
    let current = new Uint8Array(size);
    let next = new Uint8Array(size);
    current[0] = 1;
    close(current);
    for (let at = 0; at < text.length; at++) {
      const char = text[at];
      next.fill(0);
      let alive = false;
      for (let i = 0; i < tokens.length; i++) {
        if (meter) meter.steps += 1;
        if (current[i] !== 1) continue;
        const token = tokens[i] as Token;
        if (token.star) {
          if (token.crossesSlash || char !== '/') {
            next[i] = 1;
            alive = true;
          }
        } else if (token.char === char) {
          next[i + 1] = 1;
          alive = true;
        }
      }
      if (!alive) return false;
      close(next);
      [current, next] = [next, current];
    }
    return current[tokens.length] === 1;
  };
}

export const matchGlob = (glob: string, text: string, options: GlobOptions): boolean =>
  compileGlob(glob, options)(text);
