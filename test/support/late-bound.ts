// A stand-in for what a test file's beforeAll starts (the app, a server), usable from the file's top level.
/**
 * Stands for a value a hook sets up later: reading it before then is a mistake in the test file.
 * Methods are bound to the value (read them inside a test or a hook).
 */
export function lateBound<T extends object>(current: () => T | undefined, what: string): T {
  return new Proxy({} as T, {
    get(_target, key) {
      // Not a thenable, so `await` and vitest's matchers never mistake it for a promise.
      if (key === 'then') return undefined;
      const value = current();
      if (value === undefined) {
        throw new Error(`${what} is not started yet: use it inside a test or a hook`);
      }
      const member: unknown = Reflect.get(value, key, value);
      return typeof member === 'function' ? (member as () => unknown).bind(value) : member;
    },
  });
}
