// The GitHub Action as a runner runs it: `node action/dist/index.js` with INPUT_* variables (defaults
// from action.yml) and GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files, against the running app.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { aDeleteEvent, aDigest, aPushEvent } from '../support/fixtures';
import { appRoot, READ_TOKEN, useApp, WEBHOOK_TOKEN } from '../support/app-host';

const REGISTRY = 'contoso.azurecr.io';
const REPO = 'team/action';

interface ActionYml {
  runs: { using: string; main: string };
  inputs: Record<string, { required?: boolean; default?: string }>;
  outputs: Record<string, unknown>;
}
const actionYml = parseYaml(fs.readFileSync(path.join(appRoot, 'action.yml'), 'utf8')) as ActionYml;

interface ActionRun {
  code: number | null;
  /** Every stdout line (workflow commands included), as the runner reads them. */
  lines: string[];
  /** The log lines: stdout without workflow commands (`::error::`, `::add-mask::` …). */
  log: string[];
  errors: string[];
  outputs: Record<string, string>;
  summary: string;
}

/**
 * A loopback pass-through in front of the app that tells the test when a status request is being
 * held: what shows the Action long-polls instead of sleeping between reads.
 */
interface Tap {
  url: string;
  /** Status requests seen (decoded), with their query. */
  requests: string[];
  /** Resolves when a status request for `reference` has reached the app and not been answered yet. */
  held(reference: string): Promise<string>;
  close(): Promise<void>;
}

async function startTap(target: string): Promise<Tap> {
  const requests: string[] = [];
  const pending = new Set<string>();
  const watchers: { reference: string; resolve: (url: string) => void }[] = [];
  const notify = () => {
    for (const w of [...watchers]) {
      const url = [...pending].find((u) => u.includes(w.reference));
      if (url) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve(url);
      }
    }
  };
  const server = http.createServer((req, res) => {
    const raw = req.url ?? '/';
    // As the app reads it: the client encodes the reference's `:`.
    const url = decodeURIComponent(raw);
    if (url.includes('/api/replications/')) requests.push(url);
    const upstream = http.request(
      `${target}${raw}`,
      { method: req.method, headers: req.headers },
      (answer) => {
        pending.delete(url);
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    // The request is at the app once it is sent; a GET has no body.
    upstream.on('finish', () => {
      pending.add(url);
      notify();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    held: (reference) =>
      new Promise((resolve) => {
        watchers.push({ reference, resolve });
        notify();
      }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let tap: Tap;
let work: string;
afterAll(async () => {
  await tap?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});
const app = useApp();
beforeAll(async () => {
  tap = await startTap(app.url);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'acr-gate-action-'));
});

/** GITHUB_OUTPUT's `name<<delimiter` … `delimiter` blocks, as @actions/core writes them. */
function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const match = /^([^<]+)<<(.+)$/.exec(lines[i] ?? '');
    if (!match?.[1] || !match[2]) continue;
    const end = lines.indexOf(match[2], i + 1);
    outputs[match[1]] = lines.slice(i + 1, end).join('\n');
    i = end;
  }
  return outputs;
}

interface Started {
  done: Promise<ActionRun>;
  /** Resolves once the Action has printed a line matching `pattern` (it is still running). */
  printed(pattern: RegExp): Promise<string>;
}

let runs = 0;
const runAction = (inputs: Record<string, string>): Promise<ActionRun> => startAction(inputs).done;

function startAction(inputs: Record<string, string>): Started {
  const dir = path.join(work, `run-${++runs}`);
  fs.mkdirSync(dir);
  const outputFile = path.join(dir, 'output');
  const summaryFile = path.join(dir, 'summary');
  fs.writeFileSync(outputFile, '');
  fs.writeFileSync(summaryFile, '');
  // The runner sets INPUT_<NAME> for every input, its default when the workflow gives none.
  const env: Record<string, string> = {};
  for (const [name, spec] of Object.entries(actionYml.inputs)) {
    const value = inputs[name] ?? spec.default;
    if (value !== undefined) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  }
  const watchers: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  let stdout = '';
  const check = () => {
    for (const watcher of [...watchers]) {
      const line = stdout.split('\n').find((l) => watcher.pattern.test(l));
      if (line !== undefined) {
        watchers.splice(watchers.indexOf(watcher), 1);
        watcher.resolve(line);
      }
    }
  };
  const done = new Promise<ActionRun>((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(appRoot, actionYml.runs.main)], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? '',
        GITHUB_ACTIONS: 'true',
        CI: 'true',
        GITHUB_OUTPUT: outputFile,
        GITHUB_STEP_SUMMARY: summaryFile,
        RUNNER_TEMP: dir,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const read = (chunk: Buffer) => {
      stdout += chunk.toString();
      check();
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = stdout.split('\n').filter((line) => line !== '');
      resolve({
        code,
        lines,
        log: lines.filter((line) => !line.startsWith('::')),
        errors: lines.filter((line) => line.startsWith('::error::')),
        outputs: parseOutputs(fs.readFileSync(outputFile, 'utf8')),
        summary: fs.readFileSync(summaryFile, 'utf8'),
      });
    });
  });
  return {
    done,
    printed: (pattern) =>
      Promise.race([
        new Promise<string>((resolve) => {
          watchers.push({ pattern, resolve });
          check();
        }),
        done.then((run) => {
          throw new Error(`the Action ended without printing ${pattern}:\n${run.lines.join('\n')}`);
        }),
      ]),
  };
}

const common = () => ({ url: `${app.url}/api`, token: READ_TOKEN });
const at = (second: number) => `2026-03-14T09:00:${String(second).padStart(2, '0')}Z`;
const push = async (tag: string, digest: string, region: string, second: number) => {
  const response = await app.post(
    `/api/webhooks/acr/${region}`,
    aPushEvent({ registry: REGISTRY, repository: REPO, tag, digest, timestamp: at(second) }),
  );
  expect(response.status).toBe(202);
};

describe('action.yml', () => {
  it('declares the inputs and outputs the bundle reads and writes', () => {
    expect(actionYml.runs).toEqual({ using: 'node24', main: 'action/dist/index.js' });
    expect(Object.keys(actionYml.inputs).sort()).toEqual([
      'image',
      'regions',
      'timeout',
      'token',
      'url',
    ]);
    expect(actionYml.inputs.image?.required).toBe(true);
    expect(actionYml.inputs.timeout?.default).toBe('15m');
    expect(Object.keys(actionYml.outputs).sort()).toEqual([
      'digest',
      'duration-ms',
      'replicated-at',
      'status',
    ]);
  });
});

describe('the Action against the running app', () => {
  it('waits on the long-poll until every region has the tag, then sets its outputs and the summary', async () => {
    const digest = aDigest();
    await push('1.0', digest, 'westus', 0);
    const action = startAction({
      url: `${tap.url}/api`,
      token: READ_TOKEN,
      image: `${REGISTRY}/${REPO}:1.0`,
    });
    // Its first read is a long-poll, held by the app; the other three regions arrive meanwhile.
    const held = await tap.held(`/${REPO}:1.0`);
    expect(held).toMatch(/\?wait=10$/);
    for (const [i, region] of ['eastus', 'canadacentral', 'westeurope'].entries()) {
      await push('1.0', digest, region, i + 1);
    }
    const result = await action.done;
    // That one held request answered the moment the last region arrived: no second read.
    expect(tap.requests.filter((url) => url.includes(`/${REPO}:1.0`))).toEqual([held]);
    expect(result.errors).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.outputs).toMatchObject({
      status: 'replicated',
      digest,
      'replicated-at': '2026-03-14T09:00:03.000000000Z',
    });
    expect(result.outputs['duration-ms']).toMatch(/^\d+$/);
    // A line when it starts and one when the state changed, none per request.
    expect(result.log).toEqual([
      `waiting for ${REGISTRY}/${REPO}:1.0 to reach every region`,
      expect.stringMatching(
        new RegExp(
          `^✓ ${REGISTRY}/${REPO}:1\\.0 is in all 4 regions \\(canadacentral, eastus, westeurope, westus\\) after `,
        ),
      ) as unknown,
    ]);
    expect(result.summary).toContain('ACR replication gate');
    expect(result.summary).toContain(`<code>${REGISTRY}/${REPO}:1.0</code>: <b>replicated</b>`);
    expect(result.summary).toMatch(
      /<th>Region<\/th><th>Status<\/th><th>Digest<\/th><th>Arrived<\/th><th>Lag<\/th>/,
    );
    for (const [region, lag] of [
      ['westus', '+0ms'],
      ['westeurope', '+3.0s'],
    ] as const) {
      expect(result.summary).toMatch(
        new RegExp(`<td>${region}</td><td>arrived</td>.*?<td>${lag.replace('+', '\\+')}</td>`),
      );
    }
    expect(result.lines.join('\n')).not.toContain(WEBHOOK_TOKEN);
  });

  it('passes the regions input on as ?regions=, normalised', async () => {
    const digest = aDigest();
    for (const [i, region] of ['westus', 'eastus', 'canadacentral', 'westeurope'].entries()) {
      await push('scoped', digest, region, i);
    }
    const result = await runAction({
      url: `${tap.url}/api`,
      token: READ_TOKEN,
      image: `${REGISTRY}/${REPO}:scoped`,
      regions: 'westus, EastUS',
    });
    expect(result.code).toBe(0);
    expect(result.outputs).toMatchObject({ status: 'replicated', digest });
    const reads = tap.requests.filter((url) => url.includes(`/${REPO}:scoped`));
    expect(reads).toHaveLength(1);
    expect(new URL(reads[0] ?? '', 'http://x').searchParams.get('regions')).toBe('westus,eastus');
  });

  it('fails on timeout with one error naming the regions still missing, logging no unchanged state', async () => {
    const digest = aDigest();
    await push('partial', digest, 'westus', 0);
    await push('partial', digest, 'eastus', 1);
    // 12 s: a 10 s long-poll, then shorter ones up to the deadline, all with the same answer.
    const result = await runAction({
      url: `${tap.url}/api`,
      token: READ_TOKEN,
      image: `${REGISTRY}/${REPO}:partial`,
      timeout: '12s',
    });
    expect(result.code).toBe(1);
    expect(result.errors).toEqual([
      `::error::${REGISTRY}/${REPO}:partial is not in every region after 12.0s; missing canadacentral, westeurope`,
    ]);
    expect(tap.requests.filter((url) => url.includes(`/${REPO}:partial`)).length).toBeGreaterThan(
      1,
    );
    expect(result.log.map((line) => line.replace(/ \(\d+(\.\d)?s\)$/, ''))).toEqual([
      `waiting for ${REGISTRY}/${REPO}:partial to reach every region`,
      `${REGISTRY}/${REPO}:partial replicating: 2/4 regions, waiting for canadacentral, westeurope`,
      expect.stringMatching(/^✗ timed out after 12\.0s: /) as unknown,
    ]);
    expect(result.outputs).toMatchObject({ status: 'replicating', digest, 'replicated-at': '' });
    expect(result.summary).toMatch(/<td>westeurope<\/td><td>pending<\/td>/);
  }, 60_000);

  it('fails when the manifest is deleted, naming the regions it never reached', async () => {
    const digest = aDigest();
    await push('gone', digest, 'westus', 0);
    const running = runAction({ ...common(), image: `${REGISTRY}/${REPO}:gone`, timeout: '60s' });
    const deleted = await app.post(
      '/api/webhooks/acr/westus',
      aDeleteEvent({ registry: REGISTRY, repository: REPO, digest, timestamp: at(5) }),
    );
    expect(deleted.status).toBeLessThan(300);
    const result = await running;
    expect(result.code).toBe(1);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatch(
      new RegExp(`^::error::${REGISTRY}/${REPO}:gone was deleted; missing .*canadacentral`),
    );
    expect(result.outputs).toMatchObject({ status: 'deleted', digest });
  });

  it.each([
    [
      { image: 'team/action:1.0' },
      /^::error::image: invalid image reference "team\/action:1\.0": no registry host/,
    ],
    [{ image: `${REGISTRY}/${REPO}` }, /^::error::image: invalid image reference/],
    [
      { image: '' },
      /^::error::image: required \(registry\/repository:tag or registry\/repository@sha256:…\)$/,
    ],
    [{ timeout: 'soon' }, /^::error::timeout: invalid duration "soon" \(e\.g\. 90s, 15m, 1h30m\)$/],
    [{ timeout: '0s' }, /^::error::timeout: "0s" must be more than zero$/],
    [{ regions: 'westus,west us' }, /^::error::regions: "west us" must be an Azure region name/],
    [{ url: 'gate.example' }, /^::error::url: "gate.example" is not an http\(s\) URL$/],
  ])('fails with one clear line on bad input %j', async (bad, message) => {
    const result = await runAction({ ...common(), image: `${REGISTRY}/${REPO}:1.0`, ...bad });
    expect(result.code).toBe(1);
    expect(result.log).toEqual([]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatch(message);
    expect(result.outputs).toEqual({});
  });

  it('refuses a webhook token with one line saying a read token is needed', async () => {
    const result = await runAction({
      url: `${app.url}/api`,
      token: WEBHOOK_TOKEN,
      image: `${REGISTRY}/${REPO}:1.0`,
    });
    expect(result.code).toBe(1);
    expect(result.errors).toEqual([
      '::error::the token was refused (403): this route needs a read or admin token: webhook tokens only deliver arrivals; use one of READ_TOKENS',
    ]);
    // The token is masked for the runner, and never logged.
    expect(result.lines).toContain(`::add-mask::${WEBHOOK_TOKEN}`);
    expect(result.log.join('\n')).not.toContain(WEBHOOK_TOKEN);
  });
});
