// Gathers what the dashboard shows: a registry's recent tags, its regions, recent events and their deliveries.
import type { Clock, DeliveryRecord, Store } from '../app/ports';
import { listStatuses } from '../app/read-status';
import { getRequiredRegions } from '../app/required-regions';
import type { StoredEvent, Subscription } from '../events/types';
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
/** The index lists the registries seen in this many of the latest events of all registries. */
const EVENTS_SCANNED = 100;

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
    deps.store.events.latest(RECENT_EVENTS, { registry }),
    viewer.admin ? deps.store.subscriptions.list() : Promise.resolve([]),
  ]);
  const known = new Map(
    [...(deps.builtinSubscriptions ?? []), ...subscriptions].map((s) => [s.id, s]),
  );
  const events = await Promise.all(
    recent.map(async (stored) => {
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
    links,
  };
}

export async function loadIndexPage(
  deps: DashboardDeps,
  links: DashboardLinks,
): Promise<IndexPage> {
  const now = deps.clock.now();
  const recent = await deps.store.events.latest(EVENTS_SCANNED);
  const registries = new Set(recent.map(registryOf).filter((r): r is string => r !== undefined));
  return { now, registries: [...registries].sort(), links };
}
