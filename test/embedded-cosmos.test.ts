// Tests the embedded Cosmos DB with the real @azure/cosmos SDK, as the app uses it locally.
import { describe, expect, it } from 'vitest';
import { EMULATOR_KEY } from '../dev/embedded-cosmos';
import { useEmbeddedCosmos } from './support/cosmos';

interface Doc {
  id: string;
  pk: string;
  count: number;
}

const cosmos = useEmbeddedCosmos();

describe('startEmbeddedCosmos', () => {
  it('listens on an ephemeral loopback port with the emulator key', () => {
    expect(cosmos.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(cosmos.key).toBe(EMULATOR_KEY);
  });

  it('supports create-if-not-exists, upsert, read and optimistic concurrency', async () => {
    const { database } = await cosmos.reader.databases.createIfNotExists({ id: 'gate' });
    const { container } = await database.containers.createIfNotExists({
      id: 'checks',
      partitionKey: { paths: ['/pk'] },
    });
    // A second createIfNotExists must find the existing container.
    await database.containers.createIfNotExists({ id: 'checks', partitionKey: { paths: ['/pk'] } });

    const created = await container.items.upsert<Doc>({ id: 'a', pk: 'p', count: 1 });
    expect([200, 201]).toContain(created.statusCode);
    const staleEtag = created.etag;

    const { resource } = await container.item('a', 'p').read<Doc>();
    expect(resource).toMatchObject({ id: 'a', pk: 'p', count: 1 });

    const replaced = await container
      .item('a', 'p')
      .replace<Doc>(
        { id: 'a', pk: 'p', count: 2 },
        { accessCondition: { type: 'IfMatch', condition: staleEtag } },
      );
    expect(replaced.statusCode).toBe(200);
    expect(replaced.etag).not.toBe(staleEtag);

    await expect(
      container
        .item('a', 'p')
        .replace<Doc>(
          { id: 'a', pk: 'p', count: 3 },
          { accessCondition: { type: 'IfMatch', condition: staleEtag } },
        ),
    ).rejects.toMatchObject({ code: 412 });

    const missing = await container.item('nope', 'p').read<Doc>();
    expect(missing.statusCode).toBe(404);
    expect(missing.resource).toBeUndefined();
  });
});
