// What the dashboard loads over the in-memory store: a registry's own latest events, however busy
// the other registries are, and the registries seen in the latest events.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../app/ports';
import { plusMillis, toInstant, type Instant } from '../replication/timestamp';
import { makeMemoryStore } from '../../test/support/memory-store';
import {
  loadIndexPage,
  loadRegistryPage,
  RECENT_EVENTS,
  type DashboardDeps,
} from './load-dashboard';

const T0 = toInstant('2026-03-14T09:00:00Z') as Instant;
const clock: Clock = { now: () => plusMillis(T0, 3_600_000) };
const links = { basePath: '/api/dashboard' };

function setup() {
  const store = makeMemoryStore();
  const deps: DashboardDeps = { store, defaultRegions: ['westus'], clock, stallAfterMs: 600_000 };
  let recorded = 0;
  /** Records a replicated event of `registry`, one millisecond after the previous one. */
  const record = async (registry: string, tag: string): Promise<string> => {
    const id = randomUUID();
    await store.events.add(
      {
        event: {
          specversion: '1.0',
          id,
          type: 'acrgate.tag.replicated',
          source: `/registries/${registry}`,
          subject: `team/app:${tag}`,
          time: T0,
          datacontenttype: 'application/json',
          data: { registry, repository: 'team/app', tag, digest: `sha256:${'0'.repeat(64)}` },
        },
      },
      plusMillis(T0, ++recorded),
    );
    return id;
  };
  return { deps, record };
}

describe('loadRegistryPage', () => {
  it("shows the registry's latest events newest first, with no note", async () => {
    const { deps, record } = setup();
    const mine: string[] = [];
    for (let i = 0; i < RECENT_EVENTS + 5; i++) {
      mine.push(await record('contoso.azurecr.io', `t${i}`));
      await record('fabrikam.azurecr.io', `t${i}`);
    }
    const page = await loadRegistryPage(deps, 'contoso.azurecr.io', { admin: false }, links);
    expect(page.events.map((e) => e.id)).toEqual(mine.slice(-RECENT_EVENTS).reverse());
    expect(page.eventsNote).toBeUndefined();
  });

  it('still finds them behind more than a hundred newer events of other registries', async () => {
    const { deps, record } = setup();
    const mine = [await record('contoso.azurecr.io', 'a'), await record('contoso.azurecr.io', 'b')];
    for (let i = 0; i < 150; i++) await record('fabrikam.azurecr.io', `t${i}`);
    const page = await loadRegistryPage(deps, 'contoso.azurecr.io', { admin: false }, links);
    expect(page.events.map((e) => e.id)).toEqual([...mine].reverse());
    expect(page.events[0]).toMatchObject({ subject: 'team/app:b', deliveries: [] });
  });
});

describe('loadIndexPage', () => {
  it('lists the registries seen in the latest hundred events, sorted', async () => {
    const { deps, record } = setup();
    await record('old.azurecr.io', 'a');
    for (let i = 0; i < 60; i++) {
      await record('fabrikam.azurecr.io', `t${i}`);
      await record('contoso.azurecr.io', `t${i}`);
    }
    const page = await loadIndexPage(deps, links);
    expect(page.registries).toEqual(['contoso.azurecr.io', 'fabrikam.azurecr.io']);
  });
});
