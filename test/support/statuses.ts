// Tag statuses as the dashboard receives them (read-status's StatusBody), for the dashboard's pure tests.
import type { StatusBody } from '../../src/app/read-status';
import type { Instant } from '../../src/replication/timestamp';

/** `…00.000Z` → the stored form, `…00.000000000Z`. */
export const at = (iso: string) => iso.replace(/Z$/, '000000Z') as Instant;

/** A tag of contoso.azurecr.io/web pushed at `pushedAt`; each region arrived at its time, or pending (null). */
export function aStatus(
  tag: string,
  pushedAt: string,
  arrivals: Record<string, string | null>,
): StatusBody {
  const regions = Object.entries(arrivals).map(([region, arrived]) =>
    arrived === null
      ? { region, required: true, status: 'pending' as const }
      : {
          region,
          required: true,
          status: 'arrived' as const,
          digest: 'sha256:x',
          arrivedAt: at(arrived),
        },
  );
  const missing = regions.filter((r) => r.status !== 'arrived').map((r) => r.region);
  return {
    registry: 'contoso.azurecr.io',
    repository: 'web',
    tag,
    digest: 'sha256:x',
    status: missing.length === 0 ? 'replicated' : 'replicating',
    requiredRegions: Object.keys(arrivals),
    regions,
    missingRegions: missing,
    pushedAt: at(pushedAt),
    replicatedAt: null,
    eventId: null,
  };
}

/** Three rounds ten minutes apart: eastus lags 1 s, 3 s, 9 s; westus 0 s, 0.5 s, and never for tag 3. */
export const threeRounds = (): StatusBody[] => [
  aStatus('1', '2026-03-14T09:00:00.000Z', {
    eastus: '2026-03-14T09:00:01.000Z',
    westus: '2026-03-14T09:00:00.000Z',
  }),
  aStatus('2', '2026-03-14T09:10:00.000Z', {
    eastus: '2026-03-14T09:10:03.000Z',
    westus: '2026-03-14T09:10:00.500Z',
  }),
  aStatus('3', '2026-03-14T09:20:00.000Z', { eastus: '2026-03-14T09:20:09.000Z', westus: null }),
];
