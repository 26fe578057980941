// Gathers what the dashboard shows: a registry's recent tags, its regions, recent events and their deliveries.
import type { Clock, DeliveryRecord, Store } from '../app/ports';
import { listStatuses } from '../app/read-status';
import { getRequiredRegions } from '../app/required-regions';
import type { StoredEvent, Subscription } from '../events/types';
import { minusMillis, type Instant } from '../replication/timestamp';
import { fromCursor } from '../store/event-repository';
import type {
  DashboardLinks,
  DeliveryView,
  EventView,
  IndexPage,
  RegistryPage,
} from './render-dashboard';

export interface DashboardDeps {
  store: Pick<Store, 'tags' | 'registries' | 'events' | 'deliveries' | 'subscriptions'>;
  defaultRegions: readonly string[];
  clock: Clock;
  stallAfterMs: number;
  builtinSubscriptions?: readonly Subscription[];
}

/** Who is looking: subscription URLs are admin information, as in the API. */
export interface Viewer {
  admin: boolean;
}

export const RECENT_TAGS = 50;
export const RECENT_EVENTS = 20;
/** The feed holds every registry's events: look at this many of the latest to find one registry's. */
const EVENTS_SCANNED = 100;
const PAGE = 100;
const MAX_PAGES = 10;
/** The feed pages forward only; look back over growing windows until enough events are in one. */
const WINDOWS_MS = [10 * 60_000, 2 * 3600_000, 86_400_000, 7 * 86_400_000, 90 * 86_400_000];

interface RecentEvents {
  events: StoredEvent[];
  /** False when a window held more than MAX_PAGES pages: newer events exist than those returned. */
  complete: boolean;
}

/** The latest `want` events of the feed (oldest first), in a bounded number of queries. */
export async function recentEvents(
  store: Pick<Store, 'events'>,
  now: Instant,
  want: number,
): Promise<RecentEvents> {
  const windows: (number | undefined)[] = [...WINDOWS_MS, undefined];
  for (const windowMs of windows) {
    let after: string | undefined = windowMs === undefined ? undefined : minusMillis(now, windowMs);
    let kept: StoredEvent[] = [];
    let exhausted = false;
    for (let page = 0; page < MAX_PAGES && !exhausted; page++) {
      const { items } = await store.events.list(after, PAGE);
      kept = [...kept, ...items].slice(-want);
      exhausted = items.length < PAGE;
      const last = items.at(-1);
      after = last === undefined ? after : fromCursor(last.cursor);
    }
    if (!exhausted) return { events: kept, complete: false };
    if (kept.length >= want || windowMs === undefined) return { events: kept, complete: true };
  }
  return { events: [], complete: true };
}

const registryOf = (e: StoredEvent): string | undefined =>
  e.event.source.startsWith('/registries/')
    ? e.event.source.slice('/registries/'.length)
    : undefined;

/** What the viewer may see of a subscription: admins its URL without query or fragment (tokens live there). */
function subscriptionLabel(id: string, known: Map<string, Subscription>, viewer: Viewer): string {
  const subscription = known.get(id);
  // The id's first block is enough to tell subscriptions apart on the page.
  if (!viewer.admin) return `subscription ${id.split('-')[0] ?? id}`;
  if (!subscription) return `subscription ${id} (deleted)`;
  const [bare = ''] = subscription.url.split(/[?#]/, 1);
  return `${bare}${bare.length < subscription.url.length ? '?…' : ''}`;
}

function toDeliveryView(
  d: DeliveryRecord,
  known: Map<string, Subscription>,
  viewer: Viewer,
): DeliveryView {
  const last = d.attempts.at(-1);
  return {
    subscription: subscriptionLabel(d.subscriptionId, known, viewer),
    state: d.state,
    attempts: d.attempts.length,
    ...(last === undefined
      ? {}
      : {
          last: {
            at: last.at,
            ...(last.status === undefined ? {} : { status: last.status }),
            ...(last.error === undefined ? {} : { error: last.error }),
          },
        }),
    nextAttemptAt: d.nextAttemptAt,
  };
}

function toEventView(stored: StoredEvent, deliveries: DeliveryView[]): EventView {
  const data = stored.event.data;
  const missing = data.missingRegions;
  return {
    id: stored.event.id,
    type: stored.event.type,
    subject: stored.event.subject,
    recordedAt: stored.recordedAt,
    ...(typeof data.digest === 'string' ? { digest: data.digest } : {}),
    ...(typeof data.durationMs === 'number' || data.durationMs === null
      ? { durationMs: data.durationMs }
      : {}),
    ...(Array.isArray(missing)
      ? { missingRegions: missing.filter((r): r is string => typeof r === 'string') }
      : {}),
    deliveries,
  };
}

export async function loadRegistryPage(
  deps: DashboardDeps,
  registry: string,
  viewer: Viewer,
  links: DashboardLinks,
): Promise<RegistryPage> {
  const now = deps.clock.now();
  const [regions, tags, recent, subscriptions] = await Promise.all([
    getRequiredRegions(deps, registry),
    listStatuses(deps, { registry, pageSize: RECENT_TAGS }),
    recentEvents(deps.store, now, EVENTS_SCANNED),
    viewer.admin ? deps.store.subscriptions.list() : Promise.resolve([]),
  ]);
  const known = new Map(
    [...(deps.builtinSubscriptions ?? []), ...subscriptions].map((s) => [s.id, s]),
  );
  const mine = recent.events.filter((e) => registryOf(e) === registry).slice(-RECENT_EVENTS);
  const events = await Promise.all(
    mine.reverse().map(async (stored) => {
      const deliveries = await deps.store.deliveries.listForEvent(stored.event.id);
      return toEventView(
        stored,
        deliveries.map((d) => toDeliveryView(d.record, known, viewer)),
      );
    }),
  );
  return {
    registry,
    now,
    requiredRegions: regions.regions,
    regionsSource: regions.source,
    tags: tags.items,
    stallAfterMs: deps.stallAfterMs,
    events,
    ...(!recent.complete
      ? { eventsNote: 'The feed is busy: events newer than these were recorded too.' }
      : recent.events.length >= EVENTS_SCANNED && events.length < RECENT_EVENTS
        ? { eventsNote: `From the latest ${EVENTS_SCANNED} events of all registries.` }
        : {}),
    links,
  };
}

export async function loadIndexPage(
  deps: DashboardDeps,
  links: DashboardLinks,
): Promise<IndexPage> {
  const now = deps.clock.now();
  const recent = await recentEvents(deps.store, now, EVENTS_SCANNED);
  const registries = new Set(
    recent.events.map(registryOf).filter((r): r is string => r !== undefined),
  );
  return { now, registries: [...registries].sort(), links };
}
