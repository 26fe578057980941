// `acr-gate simulate`: plays ACR, posting one push per region with staggered delays, for demos and smoke tests.
import { randomBytes, randomUUID } from 'node:crypto';
import type { ApiClient } from './api-client';
import { EXIT, type ExitCode } from './exit-codes';

export interface SimulateOptions {
  registry: string;
  repository: string;
  tag: string;
  regions: string[];
  digest?: string;
  /** Mean delay between regions; each gets ±50 % jitter. The first region is immediate. */
  delayMs: number;
  /** Send each webhook twice, as ACR may. */
  duplicate: boolean;
  err: (text: string) => void;
}

const nanoTimestamp = (date: Date): string =>
  `${date.toISOString().slice(0, 23)}${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}Z`;

/** The body ACR posts when a push lands in a replica. */
export function aRegionalPush(o: {
  registry: string;
  repository: string;
  tag: string;
  digest: string;
  at: Date;
}) {
  return {
    id: randomUUID(),
    timestamp: nanoTimestamp(o.at),
    action: 'push',
    target: {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      size: 1042,
      length: 1042,
      digest: o.digest,
      repository: o.repository,
      tag: o.tag,
    },
    request: { id: randomUUID(), host: o.registry, method: 'PUT', useragent: 'acr-gate-simulate' },
  };
}

export async function simulateCommand(api: ApiClient, o: SimulateOptions): Promise<ExitCode> {
  const digest = o.digest ?? `sha256:${randomBytes(32).toString('hex')}`;
  o.err(
    `simulating a push of ${o.registry}/${o.repository}:${o.tag} (${digest}) to ${o.regions.join(', ')}\n`,
  );
  let failed = 0;
  for (const [i, region] of o.regions.entries()) {
    if (i > 0)
      await new Promise((resolve) => setTimeout(resolve, o.delayMs * (0.5 + Math.random())));
    const body = aRegionalPush({ ...o, digest, at: new Date() });
    for (let copy = 0; copy < (o.duplicate ? 2 : 1); copy++) {
      const status = await api.postWebhook(region, body);
      o.err(`  ${region.padEnd(20)} ${status}${copy > 0 ? ' (duplicate)' : ''}\n`);
      if (status >= 300) failed += 1;
    }
  }
  return failed > 0 ? EXIT.unavailable : EXIT.ok;
}
