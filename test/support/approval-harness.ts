// What src/main.ts gives the approval handlers (Azure Pipelines, GitHub), over the in-memory store;
// answers go over real HTTP to the loopback stand-ins of Azure DevOps and GitHub.
import { makeApprovals } from '../../src/app/answer-approvals';
import { makeAzurePipelinesAnswerer } from '../../src/approvals/azure-pipelines';
import { makeGithubAnswerer, type GithubAppSettings } from '../../src/approvals/github';
import { sendDelivery } from '../../src/events/send-delivery';
import { handlerDeps } from './handler-harness';

export function approvalHandlerDeps(
  options: { defaultRegions?: readonly string[]; github?: GithubAppSettings } = {},
) {
  const deps = handlerDeps(options);
  const lines: string[] = [];
  const approvals = makeApprovals({
    store: deps.store,
    clock: deps.clock,
    defaultRegions: deps.defaultRegions,
    answerers: {
      'azure-pipelines': makeAzurePipelinesAnswerer({
        allowedHosts: ['127.0.0.1'],
        timeoutMs: 5000,
        send: sendDelivery,
      }),
      ...(options.github
        ? {
            github: makeGithubAnswerer({
              app: options.github,
              timeoutMs: 5000,
              send: sendDelivery,
            }),
          }
        : {}),
    },
    retryScheduleMs: [50],
    leaseMs: 35_000,
    log: (line) => lines.push(line),
  });
  /** The decisions started by handlers, as `advanceSoon` in src/main.ts starts them. */
  const advancing: Promise<unknown>[] = [];
  return {
    ...deps,
    approvals,
    approvalLog: lines,
    advanceSoon: (registry: string, repository: string, id: string) => {
      advancing.push(approvals.advanceOne(registry, repository, id));
    },
    /** Waits for every decision a handler started so far. */
    settled: () => Promise.all(advancing),
    advancing,
    allowedHosts: ['127.0.0.1'],
    defaultTimeoutMs: 60_000,
    app: options.github,
  };
}
