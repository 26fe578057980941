// Several instances deciding the same approvals at once answer each exactly once: the claim is a conditional write.
import { describe, expect, it } from 'vitest';
import { makeApprovals, type Answerer, type Decision } from '../../src/app/answer-approvals';
import type { ApprovalRecord } from '../../src/app/ports';
import { updateTag } from '../../src/app/update-tag';
import { systemClock } from '../../src/main';
import { applyPush } from '../../src/replication/tag-state';
import { toInstant, type Instant } from '../../src/replication/timestamp';
import { createCosmosClient, makeCosmosStore } from '../../src/store/cosmos-store';
import { cosmosSettings, freshDatabase, useEmbeddedCosmos } from '../support/cosmos';
import { aWaitingApproval } from '../support/fixtures';

const cosmos = useEmbeddedCosmos();

const REGISTRY = 'contoso.azurecr.io';
const REPOSITORY = 'claims/approvals';

/** Our own answerer port, counting what it is asked to send. */
function countingAnswerer() {
  const answers: { id: string; decision: Decision }[] = [];
  const answerer: Answerer = {
    secretFields: ['authToken'],
    answer: (approval, decision) => {
      answers.push({ id: approval.id, decision });
      return Promise.resolve({ at: systemClock.now(), durationMs: 1, status: 200 });
    },
  };
  return { answers, answerer };
}

const anApproval = (i: number): ApprovalRecord =>
  aWaitingApproval({
    id: `race-${i}`,
    registry: REGISTRY,
    repository: REPOSITORY,
    tag: `t${i}`,
    at: systemClock.now(),
    authToken: `secret-${i}`,
  });

describe('approval claims', () => {
  it('answers each approval once when five instances race on it, and drops the secret', async () => {
    const settings = cosmosSettings(cosmos.endpoint, cosmos.key, freshDatabase());
    // Five "instances", each with its own client, as separate function instances would have.
    const instances = Array.from({ length: 5 }, () => ({
      store: makeCosmosStore(createCosmosClient(settings), settings),
      clock: systemClock,
      defaultRegions: ['westus'],
      maxAttempts: 40,
    }));
    const { answers, answerer } = countingAnswerer();
    const approvals = instances.map((deps) =>
      makeApprovals({
        ...deps,
        answerers: { 'azure-pipelines': answerer },
        retryScheduleMs: [10],
        leaseMs: 60_000,
      }),
    );
    const first = approvals[0]!;
    for (let i = 0; i < 8; i++) expect(await first.open(anApproval(i))).toBe(true);
    // Opening the same one again changes nothing.
    expect(await first.open(anApproval(0))).toBe(false);

    for (let i = 0; i < 8; i++) {
      await updateTag(
        instances[0]!,
        { registry: REGISTRY, repository: REPOSITORY, tag: `t${i}` },
        (s) =>
          applyPush(s, {
            region: 'westus',
            digest: `sha256:${String(i).repeat(64)}`,
            timestamp: toInstant('2026-03-14T09:00:00Z') as Instant,
          }),
        ['westus'],
      );
    }
    await Promise.all(
      approvals.flatMap((a) => [
        a.resumeFor(REGISTRY, REPOSITORY),
        a.resumeDue(),
        a.advanceOne(REGISTRY, REPOSITORY, 'race-3'),
      ]),
    );
    expect(answers.map((a) => a.id).sort()).toEqual(
      Array.from({ length: 8 }, (_, i) => `race-${i}`).sort(),
    );
    expect(answers.every((a) => a.decision.approved)).toBe(true);

    const stored = await instances[1]!.store.approvals.get(REGISTRY, REPOSITORY, 'race-5');
    expect(stored?.record.state).toBe('answered');
    expect(stored?.record.target).toEqual({});
    // Nothing is due any more.
    await Promise.all(approvals.map((a) => a.resumeDue()));
    expect(answers).toHaveLength(8);
  });
});
