// `npm run bundle`: the deployment package in dist-bundle/ -- every function and every dependency in
// one CommonJS file, so a cold instance reads one file instead of resolving ~1,000 modules.
//
// dist-bundle/ is a whole Functions app root: host.json, a package.json whose `main` is main.js and
// which has no dependencies (they are inside main.js), and main.js itself. Deploy that folder as it
// is (zip it, or `func azure functionapp publish` from inside it); no `npm install` is needed there.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// --outdir: elsewhere than dist-bundle/ (the tests bundle into a temporary folder of their own).
const { values } = parseArgs({ options: { outdir: { type: 'string' } } });
const outDir = path.resolve(values.outdir ?? path.join(root, 'dist-bundle'));

// The same files the host would load through package.json's `main` glob (dist/functions/*.js),
// in the same (sorted) order, so registration order does not change between the two packagings.
const functionsDir = path.join(root, 'functions');
const entries = fs
  .readdirSync(functionsDir)
  .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))
  .sort();
if (entries.length === 0) throw new Error(`no functions/*.ts under ${root}`);

fs.rmSync(outDir, { recursive: true, force: true });
const result = await esbuild.build({
  stdin: {
    contents: entries.map((name) => `import './functions/${name.slice(0, -3)}';`).join('\n'),
    resolveDir: root,
    sourcefile: 'functions-entry.ts',
    loader: 'ts',
  },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outfile: path.join(outDir, 'main.js'),
  // Provided by the Functions Node.js worker (and by dev/local-host.ts), never installed.
  external: ['@azure/functions-core'],
  // Less to parse; names are kept because errors are told apart by `error.name` / class names.
  minify: true,
  keepNames: true,
  // Stack traces map back to src/ with NODE_OPTIONS=--enable-source-maps.
  sourcemap: 'linked',
  // The licences of everything bundled, beside it (they were in node_modules before).
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
});

const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const deployed = {
  name: pkg.name,
  version: pkg.version,
  description: pkg.description,
  license: pkg.license,
  private: true,
  type: 'commonjs',
  main: 'main.js',
  engines: pkg.engines,
};
fs.writeFileSync(path.join(outDir, 'package.json'), `${JSON.stringify(deployed, null, 2)}\n`);
fs.copyFileSync(path.join(root, 'host.json'), path.join(outDir, 'host.json'));

const bytes = fs.statSync(path.join(outDir, 'main.js')).size;
const inputs = Object.keys(result.metafile.inputs).length;
console.log(
  `${path.relative(process.cwd(), outDir) || '.'}/main.js: ${(bytes / 2 ** 20).toFixed(2)} MiB from ${inputs} modules (${entries.join(', ')})`,
);
