// Approvals waiting on an image, and GitHub environment mappings: created once, claimed with ETag conditions.
import type { Container } from '@azure/cosmos';
import type {
  ApprovalRecord,
  ApprovalRepository,
  GithubEnvironmentRepository,
  StoredApproval,
} from '../app/ports';
import { guard, parse, replaceIfMatch, statusOf } from './cosmos-errors';
import { approvalDocumentSchema, githubEnvironmentDocumentSchema } from './documents';
import {
  approvalId,
  approvalPartition,
  GITHUB_ENVIRONMENTS_PARTITION,
  githubEnvironmentId,
} from './ids';

const toDocument = ({ id, ...record }: ApprovalRecord) => ({
  id: approvalId(id),
  pk: approvalPartition(record.registry, record.repository),
  type: 'approval' as const,
  approvalId: id,
  ...record,
});

const fromDocument = (raw: unknown): StoredApproval => {
  const {
    id: _id,
    pk: _pk,
    type: _type,
    _etag,
    approvalId: id,
    ...record
  } = parse(approvalDocumentSchema, raw, 'approval');
  return { record: { id, ...record }, etag: _etag };
};

export function makeApprovalRepository(container: () => Promise<Container>): ApprovalRepository {
  return {
    create: (record) =>
      guard('write', async () => {
        const c = await container();
        try {
          await c.items.create(toDocument(record));
          return true;
        } catch (error) {
          if (statusOf(error) === 409) return false;
          throw error;
        }
      }),
    get: (registry, repository, id) =>
      guard('read', async () => {
        const c = await container();
        try {
          const { resource } = await c
            .item(approvalId(id), approvalPartition(registry, repository))
            .read<Record<string, unknown>>();
          return resource === undefined ? undefined : fromDocument(resource);
        } catch (error) {
          if (statusOf(error) === 404) return undefined;
          throw error;
        }
      }),
    listWaiting: (registry, repository) =>
      guard('query', async () => {
        const c = await container();
        const pk = approvalPartition(registry, repository);
        const { resources } = await c.items
          .query<unknown>(
            {
              query:
                "SELECT * FROM c WHERE c.pk = @pk AND c.type = 'approval' AND c.state = 'waiting'",
              parameters: [{ name: '@pk', value: pk }],
            },
            { partitionKey: pk },
          )
          .fetchAll();
        return resources.map(fromDocument);
      }),
    listDue: (now, limit) =>
      guard('query', async () => {
        const c = await container();
        const { resources } = await c.items
          .query<unknown>({
            query: `SELECT TOP ${Math.floor(limit)} * FROM c WHERE c.type = 'approval' AND (c.state = 'waiting' OR (c.state = 'answering' AND c.nextAttemptAt <= @now))`,
            parameters: [{ name: '@now', value: now }],
          })
          .fetchAll();
        return resources.map(fromDocument);
      }),
    save: (record, etag) =>
      guard('write', async () => replaceIfMatch(await container(), toDocument(record), etag)),
  };
}

export function makeGithubEnvironmentRepository(
  container: () => Promise<Container>,
): GithubEnvironmentRepository {
  return {
    get: (owner, repo, environment) =>
      guard('read', async () => {
        const c = await container();
        try {
          const { resource } = await c
            .item(githubEnvironmentId(owner, repo, environment), GITHUB_ENVIRONMENTS_PARTITION)
            .read<Record<string, unknown>>();
          if (resource === undefined) return undefined;
          const {
            id: _id,
            pk: _pk,
            type: _type,
            ...mapping
          } = parse(githubEnvironmentDocumentSchema, resource, 'GitHub environment');
          return mapping;
        } catch (error) {
          if (statusOf(error) === 404) return undefined;
          throw error;
        }
      }),
    put: (mapping) =>
      guard('write', async () => {
        const c = await container();
        await c.items.upsert({
          id: githubEnvironmentId(mapping.owner, mapping.repo, mapping.environment),
          pk: GITHUB_ENVIRONMENTS_PARTITION,
          type: 'github-environment' as const,
          ...mapping,
        });
      }),
  };
}
