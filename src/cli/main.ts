// The acr-gate command line: wait, status, webhooks plan|apply, simulate, reconcile.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { makeApiClient } from './api-client';
import { CliError, EXIT, type ExitCode } from './exit-codes';
import { parseDuration, parseImageReference } from './image-reference';
import { statusTable, verifyTable } from './render';
import { simulateCommand } from './simulate-command';
import { waitCommand } from './wait-command';
// `webhooks` and `reconcile` load the ARM and identity SDKs when they run (import() below), so
// `wait` and `status`, what pipelines run, start without them.

export const USAGE = `acr-gate: gate deployments on geo-replication of Azure Container Registry images

usage:
  acr-gate --version
  acr-gate wait <registry>/<repository>:<tag>|@<digest> [--timeout 15m] [--digest sha256:…] [--regions a,b] [--json]
  acr-gate status <registry>/<repository>:<tag>|@<digest> [--regions a,b] [--json]
                          (--regions: only these regions, e.g. the one a cluster runs in)
  acr-gate verify <registry>/<repository>:<tag>|@<digest> [--json]
                          (checks every region at its own endpoint now; exit 0 only when all confirm)
  acr-gate webhooks plan  --registry R --url https://<app>/api [--regions a,b] [--scope 'repo:*']
                          [--subscription S --resource-group G]   (discovers replicas when --regions is absent)
  acr-gate webhooks apply --registry R --url https://<app>/api --subscription S --resource-group G
                          [--regions a,b] [--scope 'repo:*'] [--set-regions]
  acr-gate simulate --registry R --repository P --tag T --regions a,b,c [--digest …] [--delay 800ms] [--duplicate]
  acr-gate reconcile --registry R --subscription S --resource-group G [--webhooks a,b] [--json]
                          (replays the webhooks' recent events, ARM listEvents, into the gate; idempotent)

settings:
  --url      ACR_GATE_URL     the API base including /api, e.g. http://localhost:7071/api
  --token    ACR_GATE_TOKEN   bearer token: a READ_TOKENS token for wait and status (an admin
                              token for --set-regions); webhook tokens cannot read
  --webhook-token ACR_GATE_WEBHOOK_TOKEN  the token ACR sends (webhooks, simulate, reconcile)
  --arm-endpoint, --arm-token (ACR_GATE_ARM_TOKEN): ARM endpoint and token; default: public cloud and
             DefaultAzureCredential (az login, managed identity, environment)

exit codes:
  0 replicated / success   2 timed out   3 digest moved   4 not found   5 deleted
  6 not confirmed in every region (verify)
  64 usage   69 service unavailable   77 token refused   1 anything else
`;

export interface Io {
  env: NodeJS.ProcessEnv;
  out: (text: string) => void;
  err: (text: string) => void;
  isTty: boolean;
}

const options = {
  url: { type: 'string' },
  token: { type: 'string' },
  timeout: { type: 'string', default: '15m' },
  digest: { type: 'string' },
  json: { type: 'boolean', default: false },
  registry: { type: 'string' },
  repository: { type: 'string' },
  tag: { type: 'string' },
  regions: { type: 'string' },
  scope: { type: 'string' },
  subscription: { type: 'string' },
  'resource-group': { type: 'string' },
  'arm-endpoint': { type: 'string' },
  'arm-token': { type: 'string' },
  'webhook-token': { type: 'string' },
  'set-regions': { type: 'boolean', default: false },
  delay: { type: 'string', default: '800ms' },
  duplicate: { type: 'boolean', default: false },
  webhooks: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
  version: { type: 'boolean', default: false },
} as const;

/** This package's version, from the package.json above this file (in a checkout or an install). */
export function packageVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (json.name === 'acr-replication-gate' && json.version) return json.version;
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}

const csv = (text: string | undefined): string[] | undefined =>
  text === undefined
    ? undefined
    : text
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean);

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined || value === '') throw new CliError(`${what} is required`, EXIT.usage);
  return value;
}

export async function run(argv: string[], io: Io): Promise<ExitCode> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliError(`${(error as Error).message}\n\n${USAGE}`, EXIT.usage);
  }
  const { values: v, positionals } = parsed;
  const [command, sub] = positionals;
  if (v.version) {
    io.out(`${packageVersion()}\n`);
    return EXIT.ok;
  }
  if (v.help || command === undefined || command === 'help') {
    io.out(USAGE);
    return command === undefined && !v.help ? EXIT.usage : EXIT.ok;
  }
  const url = v.url ?? io.env.ACR_GATE_URL;
  const api = () =>
    makeApiClient({
      url: required(url, '--url (or ACR_GATE_URL)'),
      token: v.token ?? io.env.ACR_GATE_TOKEN,
    });

  switch (command) {
    case 'wait': {
      const image = parseImageReference(required(sub, 'an image reference'));
      return waitCommand(api(), image, {
        timeoutMs: parseDuration(v.timeout),
        ...(v.digest ? { digest: v.digest } : {}),
        ...(v.regions ? { regions: csv(v.regions) ?? [] } : {}),
        json: v.json,
        live: io.isTty,
        out: io.out,
        err: io.err,
      });
    }
    case 'status': {
      const image = parseImageReference(required(sub, 'an image reference'));
      const answer = await api().status(
        image.registry,
        image.reference,
        v.regions ? { regions: csv(v.regions) ?? [] } : {},
      );
      if (answer.kind === 'not-found') {
        io.err(`no region has reported ${image.registry}/${image.reference}\n`);
        return EXIT.notFound;
      }
      if (answer.kind === 'moved') throw new CliError(answer.detail, EXIT.moved);
      io.out(
        v.json ? `${JSON.stringify(answer.status, null, 2)}\n` : `${statusTable(answer.status)}\n`,
      );
      return EXIT.ok;
    }
    case 'verify': {
      const image = parseImageReference(required(sub, 'an image reference'));
      const report = await api().verify(image.registry, image.reference);
      if (!report) {
        io.err(`no region has reported ${image.registry}/${image.reference}\n`);
        return EXIT.notFound;
      }
      io.out(v.json ? `${JSON.stringify(report, null, 2)}\n` : `${verifyTable(report)}\n`);
      return report.regions.every((r) => r.confirmed) ? EXIT.ok : EXIT.unconfirmed;
    }
    case 'webhooks': {
      const shared = {
        registry: required(v.registry, '--registry'),
        apiUrl: required(url, '--url (or ACR_GATE_URL)'),
        setRegions: v['set-regions'],
        out: io.out,
        err: io.err,
        ...optional({
          regions: csv(v.regions),
          scope: v.scope,
          subscription: v.subscription ?? io.env.AZURE_SUBSCRIPTION_ID,
          resourceGroup: v['resource-group'],
          armEndpoint: v['arm-endpoint'],
          armToken: v['arm-token'] ?? io.env.ACR_GATE_ARM_TOKEN,
          webhookToken: v['webhook-token'] ?? io.env.ACR_GATE_WEBHOOK_TOKEN,
        }),
      };
      const { applyCommand, planCommand } = await import('./webhooks-command');
      if (sub === 'plan') return planCommand(shared);
      if (sub === 'apply') return applyCommand(shared, api());
      throw new CliError(`webhooks needs plan or apply\n\n${USAGE}`, EXIT.usage);
    }
    case 'simulate': {
      const client = makeApiClient({
        url: required(url, '--url (or ACR_GATE_URL)'),
        token:
          v['webhook-token'] ?? io.env.ACR_GATE_WEBHOOK_TOKEN ?? v.token ?? io.env.ACR_GATE_TOKEN,
      });
      return simulateCommand(client, {
        registry: required(v.registry, '--registry'),
        repository: required(v.repository, '--repository'),
        tag: required(v.tag, '--tag'),
        regions: required(csv(v.regions), '--regions'),
        ...(v.digest ? { digest: v.digest } : {}),
        delayMs: parseDuration(v.delay),
        duplicate: v.duplicate,
        err: io.err,
      });
    }
    case 'reconcile': {
      const { reconcileCommand } = await import('./reconcile-command');
      return reconcileCommand({
        registry: required(v.registry, '--registry'),
        apiUrl: required(url, '--url (or ACR_GATE_URL)'),
        json: v.json,
        out: io.out,
        err: io.err,
        ...optional({
          subscription: v.subscription ?? io.env.AZURE_SUBSCRIPTION_ID,
          resourceGroup: v['resource-group'],
          armEndpoint: v['arm-endpoint'],
          armToken: v['arm-token'] ?? io.env.ACR_GATE_ARM_TOKEN,
          webhooks: v.webhooks === undefined ? undefined : (csv(v.webhooks) ?? []),
          webhookToken: v['webhook-token'] ?? io.env.ACR_GATE_WEBHOOK_TOKEN,
        }),
      });
    }
    default:
      throw new CliError(`unknown command "${command}"\n\n${USAGE}`, EXIT.usage);
  }
}

/** Drops undefined values, so optional properties stay absent. */
function optional<T extends Record<string, unknown>>(
  o: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, value]) => value !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

/** The process entry: maps every failure to its exit code and one readable line. */
export async function main(): Promise<void> {
  const io: Io = {
    env: process.env,
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    isTty: Boolean(process.stderr.isTTY) && process.env.CI === undefined,
  };
  try {
    process.exitCode = await run(process.argv.slice(2), io);
  } catch (error) {
    if (error instanceof CliError) {
      io.err(`acr-gate: ${error.message}\n`);
      process.exitCode = error.exitCode;
    } else {
      io.err(`acr-gate: ${(error as Error).message}\n`);
      process.exitCode = EXIT.error;
    }
  }
}
