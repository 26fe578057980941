// Approvals survive a restart: app processes stopped and started on the same Cosmos DB database.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedCosmos, type EmbeddedCosmos } from '../../dev/embedded-cosmos';
import { ADMIN_TOKEN, appRoot, READ_TOKEN, REGIONS, WEBHOOK_TOKEN } from '../support/app-host';
import { freshDatabase } from '../support/cosmos';
import { aDigest, aPushEvent } from '../support/fixtures';
import { startReceiver, type Receiver } from '../support/receiver';

interface AppProcess {
  url: string;
  output: string[];
  stop(): Promise<void>;
}

let cosmos: EmbeddedCosmos;
let stand: Receiver;
const running: AppProcess[] = [];

beforeAll(async () => {
  cosmos = await startEmbeddedCosmos();
  stand = await startReceiver();
});
afterEach(async () => {
  for (const app of running.splice(0)) await app.stop();
});
afterAll(async () => {
  await stand?.close();
  await cosmos?.close();
});

/** `npm start`'s local host in a process of its own (the build in dist/), on the given database. */
async function startAppProcess(database: string): Promise<AppProcess> {
  const child: ChildProcess = spawn(process.execPath, [path.join(appRoot, 'dist-dev/start.js')], {
    cwd: appRoot,
    env: {
      PATH: process.env.PATH ?? '',
      ACR_GATE_LOCAL_HOST: '1',
      PORT: '0',
      COSMOS_ENDPOINT: cosmos.endpoint,
      COSMOS_KEY: cosmos.key,
      COSMOS_DATABASE: database,
      REPLICATION_REGIONS: REGIONS.join(','),
      WEBHOOK_TOKENS: WEBHOOK_TOKEN,
      ADMIN_TOKENS: ADMIN_TOKEN,
      READ_TOKENS: READ_TOKEN,
      AZURE_PIPELINES_HOSTS: '127.0.0.1',
      DELIVERY_RETRY_SCHEDULE: '50ms,50ms,50ms',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        output.push(line);
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (match?.[1]) resolve(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`app exited (${code}): ${output.join('\n')}`)));
  });
  const app: AppProcess = {
    url,
    output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  running.push(app);
  return app;
}

const post = (
  app: AppProcess,
  route: string,
  body: unknown,
  headers: Record<string, string> = {},
) =>
  fetch(`${app.url}${route}`, {
    method: 'POST',
    headers: {
      // Arrivals take the webhook token; the check reads, so it takes a read token.
      authorization: `Bearer ${route.startsWith('/api/webhooks/') ? WEBHOOK_TOKEN : READ_TOKEN}`,
      'content-type': 'application/json',
      ...headers,
    },
    body: JSON.stringify(body),
  });

const push = (app: AppProcess, region: string, repository: string, digest: string, i: number) =>
  post(
    app,
    `/api/webhooks/acr/${region}`,
    aPushEvent({ repository, tag: '1.0', digest, timestamp: `2026-03-14T09:00:0${i}.5Z` }),
  );

const checkHeaders = () => ({
  PlanUrl: stand.url.replace(/hook$/, 'org/'),
  ProjectId: randomUUID(),
  HubName: 'release',
  PlanId: randomUUID(),
  JobId: randomUUID(),
  TimelineId: randomUUID(),
  TaskInstanceId: randomUUID(),
  AuthToken: randomBytes(32).toString('base64url'),
});

async function until(done: () => boolean, what: string) {
  for (let i = 0; i < 600 && !done(); i++) await new Promise((r) => setTimeout(r, 50));
  expect(done(), what).toBe(true);
}

/** Waits for the process's own resumeApprovals timer to have run `times` more times. */
async function timerRuns(app: AppProcess, times: number) {
  const count = () => app.output.filter((l) => l.includes('TIMER resumeApprovals -> ok')).length;
  const target = count() + times;
  await until(() => count() >= target, 'the resumeApprovals timer ran');
}

describe('a restart', () => {
  it('loses no pending check, and answers none twice', { timeout: 90_000 }, async () => {
    const database = freshDatabase();
    const repository = 'team/restart';
    const digest = aDigest();
    const forPlan = (planId: string) => () =>
      stand.received.filter((r) => r.path.includes(`/plans/${planId}/`));

    // The first instance stores the check while the image is in three regions of four.
    const first = await startAppProcess(database);
    for (const [i, region] of REGIONS.slice(0, 3).entries()) {
      expect((await push(first, region, repository, digest, i)).status).toBe(202);
    }
    const ids = checkHeaders();
    const answer = await post(
      first,
      '/api/azure-pipelines/checks',
      { image: `contoso.azurecr.io/${repository}:1.0` },
      ids,
    );
    expect(answer.status).toBe(200);
    await first.stop();

    // The second instance, on the same database, gets the last arrival and answers.
    const second = await startAppProcess(database);
    expect((await push(second, REGIONS[3] as string, repository, digest, 3)).status).toBe(202);
    await until(() => forPlan(ids.PlanId)().length === 1, 'TaskCompleted arrived');
    expect(JSON.parse(forPlan(ids.PlanId)()[0]?.body ?? '')).toMatchObject({
      result: 'succeeded',
      taskId: ids.TaskInstanceId,
    });
    await second.stop();

    // A third instance sees the arrivals again and runs its timer: nothing is sent twice.
    const third = await startAppProcess(database);
    for (const [i, region] of REGIONS.entries()) {
      expect((await push(third, region, repository, digest, i)).status).toBe(202);
    }
    await timerRuns(third, 2);
    expect(forPlan(ids.PlanId)()).toHaveLength(1);
    expect(third.output.join('\n')).not.toContain(ids.AuthToken);
  });
});
