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

// Packages the app loads only on the paths that use them, never at start: each is bundled on its
// own into node_modules/ beside main.js, where that require() finds it, so an instance does not
// parse them (together larger than main.js) before its first request. The app must import them
// only lazily (import() or a require() inside a function); the bundle test checks main.js does.
const LAZY_PACKAGES = [
  // only with APPLICATIONINSIGHTS_CONNECTION_STRING (src/telemetry/azure-monitor.ts), 3 MiB
  '@azure/monitor-opentelemetry',
  // Entra ID: the first token asked for (src/util/lazy-credential.ts), with MSAL
  '@azure/identity',
  // the outbound guard's first call (src/net/outbound-guard.ts)
  'undici',
  // the first manifest read (src/registry/manifest-reader.ts)
  '@azure/container-registry',
  // the first event sent to an Event Grid topic (src/events/event-grid-sink.ts)
  '@azure/eventgrid',
  // the reconcile timer's first run (src/main.ts, src/registration/arm-client.ts)
  '@azure/arm-containerregistry',
];

fs.rmSync(outDir, { recursive: true, force: true });
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  keepNames: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
};
for (const name of LAZY_PACKAGES) {
  await esbuild.build({
    ...common,
    // Through require(), so esbuild takes the package's CommonJS build (its ESM one reads import.meta.url).
    stdin: { contents: `module.exports = require('${name}');`, resolveDir: root },
    outfile: path.join(outDir, 'node_modules', name, 'index.js'),
    // One copy of each: a lazy package that uses another (the monitor, Entra ID) requires it.
    external: ['@azure/functions-core', ...LAZY_PACKAGES.filter((other) => other !== name)],
  });
}
// Minified, but names are kept: errors are told apart by `error.name` and class names. Source maps
// map stack traces back to src/ (NODE_OPTIONS=--enable-source-maps); licences go beside each file.
const result = await esbuild.build({
  stdin: {
    contents: entries.map((name) => `import './functions/${name.slice(0, -3)}';`).join('\n'),
    resolveDir: root,
    sourcefile: 'functions-entry.ts',
    loader: 'ts',
  },
  ...common,
  outfile: path.join(outDir, 'main.js'),
  // import() of a lazy package as require() (inside a promise), which finds it in node_modules/ as
  // CommonJS with its named exports: a real import() from CommonJS would see only `default`.
  supported: { 'dynamic-import': false },
  // Provided by the Functions Node.js worker (and by dev/local-host.ts), never installed.
  external: ['@azure/functions-core', ...LAZY_PACKAGES],
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
  `${path.relative(process.cwd(), outDir) || '.'}/main.js: ${(bytes / 2 ** 20).toFixed(2)} MiB from ${inputs} modules (${entries.join(', ')}); loaded on demand: ${LAZY_PACKAGES.join(', ')}`,
);
