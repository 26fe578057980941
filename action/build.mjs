// Builds the Action's single file, action/dist/index.js (committed: GitHub runs it as is, with no install).
// `npm run build:action`; test/unit/action-bundle.test.ts fails when the committed file is not this build.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Everything that decides the output; the paths in it are relative to the repository root. */
export const options = {
  absWorkingDir: root,
  entryPoints: ['src/action/main.ts'],
  outfile: 'action/dist/index.js',
  bundle: true,
  platform: 'node',
  // action.yml runs it on node24; node20 syntax keeps it runnable by the tests on older nodes too.
  target: 'node20',
  format: 'cjs',
  // Comments keep the licences of what is bundled; no source map, so the file is all there is.
  legalComments: 'eof',
  logLevel: 'warning',
};

/** The bundle as text, written nowhere. */
export async function buildText() {
  const result = await esbuild.build({ ...options, write: false });
  const [file] = result.outputFiles;
  if (!file) throw new Error('esbuild produced no output');
  return file.text;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  esbuild.build(options).then(
    () => console.log(`wrote ${options.outfile}`),
    (error) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
