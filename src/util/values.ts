// Small checks on plain values that several layers need: one definition each.

/** A JSON object (not null, not an array): its fields can be read by name. */
export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The same members, ignoring order and repeats; `key` decides what counts as the same (e.g. case). */
export function sameSet<T>(
  a: readonly T[],
  b: readonly T[],
  key: (item: T) => unknown = (item) => item,
): boolean {
  const left = new Set(a.map(key));
  const right = new Set(b.map(key));
  return left.size === right.size && [...left].every((item) => right.has(item));
}
