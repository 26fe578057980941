// `npm run test:production` (CI): `npm pack`, then `npm install -g <tgz>` into an empty prefix as on a
// clean machine; the installed acr-gate gates a tag against the running app. ~1 min, so not in npm test.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aDigest, aPushEvent } from '../support/fixtures';
import {
  appRoot,
  READ_TOKEN,
  REGIONS,
  startApp,
  WEBHOOK_TOKEN,
  type RunningApp,
} from '../support/app-host';
import { runCommand, type CliRun } from '../support/run-cli';

const run = promisify(execFile);
const NPM = 'npm';

let app: RunningApp;
let work: string;
let prefix: string;
let tarball: string;
const { version } = JSON.parse(fs.readFileSync(path.join(appRoot, 'package.json'), 'utf8')) as {
  version: string;
};

/**
 * None of the npm_* variables of the `npm run` around us; but the machine's trust and proxy
 * settings, as a clean machine has its own: dependencies missing from the cache come from the
 * registry (the tarball has no lockfile).
 */
const npmEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(
    Object.entries(process.env).filter(([name]) =>
      /^(PATH|HOME|NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR|(HTTPS?|NO)_PROXY)$/i.test(name),
    ),
  );

const acrGate = (args: string[], env: Record<string, string>): Promise<CliRun> =>
  runCommand(path.join(prefix, 'bin', 'acr-gate'), args, env, { cwd: work });

beforeAll(async () => {
  app = await startApp();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'acr-gate-install-'));
  // A copy of the sources without dist/: the tarball must be built by `prepack`, not taken from
  // the checkout's build (which the other e2e tests are using at the same time).
  const source = path.join(work, 'source');
  fs.mkdirSync(source);
  for (const entry of ['package.json', 'tsconfig.json', 'README.md', 'bin', 'src', 'functions']) {
    fs.cpSync(path.join(appRoot, entry), path.join(source, entry), { recursive: true });
  }
  fs.symlinkSync(path.join(appRoot, 'node_modules'), path.join(source, 'node_modules'), 'dir');
  await run(NPM, ['pack', '--pack-destination', work], { cwd: source, env: npmEnv() });
  tarball = path.join(work, `acr-replication-gate-${version}.tgz`);
  // The global layout (<prefix>/lib/node_modules, <prefix>/bin) in an empty folder.
  prefix = path.join(work, 'global');
  fs.mkdirSync(prefix);
  await run(
    NPM,
    [
      'install',
      '--global',
      '--prefix',
      prefix,
      '--prefer-offline',
      '--omit=optional',
      // Nothing the CLI needs has an install script; Core Tools' would try to download.
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      tarball,
    ],
    { cwd: work, env: npmEnv() },
  );
}, 600_000);

afterAll(async () => {
  await app?.stop();
  // The install holds the app's dependencies too: hundreds of megabytes to remove.
  if (work) await fs.promises.rm(work, { recursive: true, force: true });
}, 180_000);

describe('the packed acr-gate', () => {
  it('ships the built CLI and no sources, tests or dev host', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.split('\n').filter(Boolean);
    expect(files).toContain('package/bin/acr-gate.js');
    expect(files).toContain('package/dist/src/cli/main.js');
    expect(
      files.filter((f) => /\.ts$|\.map$|^package\/(src|test|bench)\/|\/dev\//.test(f)),
    ).toEqual([]);
  });

  it('installs into an empty prefix and prints its version', async () => {
    const installed = fs.realpathSync(path.join(prefix, 'bin', 'acr-gate'));
    expect(installed).toBe(
      path.join(prefix, 'lib/node_modules/acr-replication-gate/bin/acr-gate.js'),
    );
    const result = await acrGate(['--version'], {});
    expect(result).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('loads no Cosmos DB, ARM, identity or Event Grid SDK for wait and status', async () => {
    const main = path.join(prefix, 'lib/node_modules/acr-replication-gate/dist/src/cli/main.js');
    const { stdout } = await run(process.execPath, [
      '-e',
      `require(${JSON.stringify(main)}); process.stdout.write(JSON.stringify(Object.keys(require.cache)))`,
    ]);
    const loaded = JSON.parse(stdout) as string[];
    expect(loaded).toContain(main);
    // The package a file belongs to: what follows its last node_modules/.
    const packageOf = (file: string): string => {
      const [scope = '', name = ''] = file.split('/node_modules/').at(-1)?.split('/') ?? [];
      return scope.startsWith('@') ? `${scope}/${name}` : scope;
    };
    expect([...new Set(loaded.map(packageOf))].sort()).toEqual(['acr-replication-gate', 'zod']);
  });

  it('gates a tag against the running app: exits 0 once every region has it', async () => {
    const digest = aDigest();
    const env = { ACR_GATE_URL: `${app.url}/api`, ACR_GATE_TOKEN: READ_TOKEN };
    const waiting = acrGate(
      ['wait', 'contoso.azurecr.io/team/installed:1.0', '--timeout', '60s'],
      env,
    );
    for (const [i, region] of REGIONS.entries()) {
      const response = await app.post(
        `/api/webhooks/acr/${region}`,
        aPushEvent({
          repository: 'team/installed',
          tag: '1.0',
          digest,
          timestamp: `2026-03-14T09:00:0${i}Z`,
        }),
        WEBHOOK_TOKEN,
      );
      expect(response.status).toBe(202);
    }
    const result = await waiting;
    expect(result.stderr).toContain('is in all 4 regions');
    expect(result.code).toBe(0);
  }, 120_000);
});
