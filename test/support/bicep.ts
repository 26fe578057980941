// Just enough of Bicep to read infra/ in tests: a lexer, top-level declarations, object keys, literals.
// No Bicep compiler runs here (it is a .NET tool that no npm or Debian package ships), so this
// reads the text as the compiler would for the few constructs the tests look at.

export type Token =
  | { kind: 'ident'; text: string; line: number }
  | { kind: 'string'; text: string; interpolated: boolean; line: number }
  | { kind: 'number'; text: string; line: number }
  | { kind: 'punct'; text: string; line: number }
  | { kind: 'newline'; text: '\n'; line: number };

/** Tokens of a Bicep file; comments dropped, newlines kept (they separate object entries). */
export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  while (i < source.length) {
    const c = source[i]!;
    if (c === '\n') {
      tokens.push({ kind: 'newline', text: '\n', line });
      line++;
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if (source.startsWith('//', i)) {
      while (i < source.length && source[i] !== '\n') i++;
    } else if (source.startsWith('/*', i)) {
      const end = source.indexOf('*/', i + 2);
      if (end < 0) throw new Error(`line ${line}: unterminated comment`);
      line += source.slice(i, end).split('\n').length - 1;
      i = end + 2;
    } else if (source.startsWith("'''", i)) {
      const end = source.indexOf("'''", i + 3);
      if (end < 0) throw new Error(`line ${line}: unterminated multi-line string`);
      const text = source.slice(i + 3, end);
      tokens.push({ kind: 'string', text, interpolated: false, line });
      line += text.split('\n').length - 1;
      i = end + 3;
    } else if (c === "'") {
      let text = '';
      let interpolated = false;
      i++;
      for (;;) {
        const d = source[i];
        if (d === undefined || d === '\n') throw new Error(`line ${line}: unterminated string`);
        if (d === "'") break;
        if (d === '\\') {
          const escaped = source[i + 1] ?? '';
          text += { n: '\n', r: '\r', t: '\t', $: '$', "'": "'", '\\': '\\' }[escaped] ?? escaped;
          i += 2;
        } else if (source.startsWith('${', i)) {
          // An interpolation: an expression up to its matching brace (it may hold strings).
          interpolated = true;
          let depth = 0;
          const start = i;
          for (; i < source.length; i++) {
            if (source[i] === '{') depth++;
            if (source[i] === '}' && --depth === 0) break;
            if (source[i] === "'") i = source.indexOf("'", i + 1);
          }
          text += source.slice(start, i + 1);
          i++;
        } else {
          text += d;
          i++;
        }
      }
      i++;
      tokens.push({ kind: 'string', text, interpolated, line });
    } else if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i))!;
      tokens.push({ kind: 'ident', text: match[0], line });
      i += match[0].length;
    } else if (/[0-9]/.test(c)) {
      const match = /^[0-9]+(\.[0-9]+)?/.exec(source.slice(i))!;
      tokens.push({ kind: 'number', text: match[0], line });
      i += match[0].length;
    } else {
      const two = source.slice(i, i + 2);
      const text = ['==', '!=', '<=', '>=', '&&', '||', '??', '=>', '.?'].includes(two) ? two : c;
      tokens.push({ kind: 'punct', text, line });
      i += text.length;
    }
  }
  return tokens;
}

const DECLARATIONS = new Set([
  'param',
  'var',
  'resource',
  'module',
  'output',
  'targetScope',
  'metadata',
  'import',
  'type',
  'func',
]);

export interface Declaration {
  keyword: string;
  name: string;
  /** Everything after the name, through the end of the declaration. */
  body: Token[];
}

/** The file's top-level declarations (decorators are left out). */
export function declarations(tokens: Token[]): Declaration[] {
  const result: Declaration[] = [];
  let depth = 0;
  let current: Declaration | undefined;
  let atLineStart = true;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (depth === 0 && atLineStart && t.kind === 'ident' && DECLARATIONS.has(t.text)) {
      const name = tokens[i + 1];
      current = { keyword: t.text, name: name?.kind === 'ident' ? name.text : '', body: [] };
      result.push(current);
      i++;
      atLineStart = false;
      continue;
    }
    if (depth === 0 && atLineStart && t.kind === 'punct' && t.text === '@') current = undefined;
    if (t.kind === 'punct' && ['{', '[', '('].includes(t.text)) depth++;
    if (t.kind === 'punct' && ['}', ']', ')'].includes(t.text)) depth--;
    atLineStart = t.kind === 'newline';
    current?.body.push(t);
  }
  return result;
}

export interface ObjectKey {
  key: string;
  /** The tokens of its value. */
  value: Token[];
  /** Set only on one branch of a `cond ? {…} : {…}`. */
  conditional: boolean;
}

const isOpen = (t: Token) => t.kind === 'punct' && ['{', '[', '('].includes(t.text);
const isClose = (t: Token) => t.kind === 'punct' && ['}', ']', ')'].includes(t.text);

/** The index of the bracket closing the one opened at `open`. */
function closing(tokens: Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    if (isOpen(tokens[i]!)) depth++;
    if (isClose(tokens[i]!) && --depth === 0) return i;
  }
  throw new Error(`line ${tokens[open]?.line}: unbalanced brackets`);
}

/** The entries of the object literal opening at `open`: key, value tokens. */
export function objectEntries(tokens: Token[], open: number): { key: string; value: Token[] }[] {
  const end = closing(tokens, open);
  const entries: { key: string; value: Token[] }[] = [];
  let i = open + 1;
  while (i < end) {
    const t = tokens[i]!;
    if (t.kind === 'newline' || (t.kind === 'punct' && t.text === ',')) {
      i++;
      continue;
    }
    const colon = tokens[i + 1];
    if ((t.kind !== 'ident' && t.kind !== 'string') || colon?.text !== ':') {
      throw new Error(`line ${t.line}: expected a key at '${t.text}'`);
    }
    const value: Token[] = [];
    let j = i + 2;
    let depth = 0;
    for (; j < end; j++) {
      const v = tokens[j]!;
      if (depth === 0 && (v.kind === 'newline' || (v.kind === 'punct' && v.text === ','))) break;
      if (isOpen(v)) depth++;
      if (isClose(v)) depth--;
      value.push(v);
    }
    entries.push({ key: t.text, value });
    i = j;
  }
  return entries;
}

/**
 * The keys an expression builds: those of every object literal in it that is not itself a value
 * inside another object, following references to other `var`s of the same file.
 */
export function keysOfVar(tokens: Token[], name: string): ObjectKey[] {
  const vars = new Map(
    declarations(tokens)
      .filter((d) => d.keyword === 'var')
      .map((d) => [d.name, d.body]),
  );
  const visit = (varName: string, conditional: boolean, seen: Set<string>): ObjectKey[] => {
    const body = vars.get(varName);
    if (body === undefined) throw new Error(`no var ${varName}`);
    if (seen.has(varName)) throw new Error(`var ${varName} refers to itself`);
    const expression = body.slice(body.findIndex((t) => t.text === '=') + 1);
    const keys: ObjectKey[] = [];
    let i = 0;
    let ternary = false;
    while (i < expression.length) {
      const t = expression[i]!;
      if (t.kind === 'punct' && t.text === '?') ternary = true;
      if (t.kind === 'punct' && t.text === '{') {
        for (const entry of objectEntries(expression, i)) {
          keys.push({ ...entry, conditional: conditional || ternary });
        }
        i = closing(expression, i) + 1;
        continue;
      }
      const next = expression[i + 1];
      if (t.kind === 'ident' && vars.has(t.text) && next?.text !== '(' && next?.text !== '.') {
        keys.push(...visit(t.text, conditional || ternary, new Set([...seen, varName])));
      }
      i++;
    }
    return keys;
  };
  return visit(name, false, new Set());
}

/** A literal (object, array, string without interpolation, number, boolean) as JSON. */
export function literal(tokens: Token[]): unknown {
  const meaningful = tokens.filter((t) => t.kind !== 'newline');
  const [value, rest] = parseLiteral(meaningful, 0);
  if (rest !== meaningful.length) {
    throw new Error(`line ${meaningful[rest]?.line}: not a literal at '${meaningful[rest]?.text}'`);
  }
  return value;
}

function parseLiteral(tokens: Token[], i: number): [unknown, number] {
  const t = tokens[i];
  if (t === undefined) throw new Error('expected a literal');
  if (t.kind === 'string' && !t.interpolated) return [t.text, i + 1];
  if (t.kind === 'number') return [Number(t.text), i + 1];
  const next = tokens[i + 1];
  if (t.kind === 'punct' && t.text === '-' && next?.kind === 'number') {
    return [-Number(next.text), i + 2];
  }
  if (t.kind === 'ident' && (t.text === 'true' || t.text === 'false')) {
    return [t.text === 'true', i + 1];
  }
  if (t.kind === 'punct' && t.text === '[') {
    const items: unknown[] = [];
    let j = i + 1;
    while (tokens[j]?.text !== ']') {
      if (tokens[j]?.text === ',') {
        j++;
        continue;
      }
      const [item, next] = parseLiteral(tokens, j);
      items.push(item);
      j = next;
    }
    return [items, j + 1];
  }
  if (t.kind === 'punct' && t.text === '{') {
    const object: Record<string, unknown> = {};
    let j = i + 1;
    while (tokens[j]?.text !== '}') {
      if (tokens[j]?.text === ',') {
        j++;
        continue;
      }
      const key = tokens[j];
      if ((key?.kind !== 'ident' && key?.kind !== 'string') || tokens[j + 1]?.text !== ':') {
        throw new Error(`line ${key?.line}: expected a key`);
      }
      const [value, next] = parseLiteral(tokens, j + 2);
      object[key.text] = value;
      j = next;
    }
    return [object, j + 1];
  }
  throw new Error(`line ${t.line}: not a literal at '${t.text}'`);
}

/** The value tokens of `key:` in the first object literal that has it, anywhere in `tokens`. */
export function propertyValue(tokens: Token[], key: string): Token[] {
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i]!.text === '{') {
      const entry = objectEntries(tokens, i).find((e) => e.key === key);
      if (entry) return entry.value;
    }
  }
  throw new Error(`no property ${key}`);
}
