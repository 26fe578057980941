// Loads ESM-only packages (the @octokit ones) from this CommonJS build.
// TypeScript turns `import()` into `require()` under "module": "commonjs"; these packages only
// export for `import`, so the real dynamic import is reached through a Function.
import { constants, Script } from 'node:vm';

// eslint-disable-next-line @typescript-eslint/no-implied-eval
const importModule = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<unknown>;

/**
 * The same import() compiled with Node's own loader: code evaluated in a vm context without a
 * dynamic-import hook (vitest's module runner, which runs the handler-level tests) has none.
 */
const importWithDefaultLoader = (specifier: string): Promise<unknown> => {
  const script = new Script('(specifier) => import(specifier)', {
    filename: __filename,
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  return (script.runInThisContext() as (s: string) => Promise<unknown>)(specifier);
};

export const importEsm = async <T>(specifier: string): Promise<T> => {
  try {
    return (await importModule(specifier)) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING') {
      throw error;
    }
    return (await importWithDefaultLoader(specifier)) as T;
  }
};
