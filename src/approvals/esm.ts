// Loads ESM-only packages (the @octokit ones) from this CommonJS build.
// TypeScript turns `import()` into `require()` under "module": "commonjs"; these packages only
// export for `import`, so the real dynamic import is reached through a Function.
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const importModule = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<unknown>;

export const importEsm = <T>(specifier: string): Promise<T> =>
  importModule(specifier) as Promise<T>;
