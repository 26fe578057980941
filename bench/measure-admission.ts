// Measurement 8: the admission gate (Gatekeeper provider) for 1, 10 and 100 keys, and a per-region long-poll beside the all-regions one.
import { performance } from 'node:perf_hooks';
import type { BenchEnv } from './support/bench-env';
import type { Child } from './support/child-rpc';
import { sleep, summarize, type Summary } from './support/stats';
import { FOUR_REGIONS, READ_TOKEN, postPush } from './support/workload';

export interface AdmissionResult {
  /** Sequential requests per batch size, each key a tag present in the region. */
  requests: number;
  provider: { keys: number; latency: Summary }[];
  waitRounds: number;
  /** From the webhook completing the scope (one region) to the scoped long-poll's answer. */
  scopedWait: Summary;
  /** From the webhook completing every region to the all-regions long-poll's answer. */
  allRegionsWait: Summary;
  failures: number;
}

const REGISTRY = 'admission.azurecr.io';
const REPOSITORY = 'admission/app';
const REGION = FOUR_REGIONS[3] ?? 'westus';
/** Reads take a read token: a webhook token only delivers arrivals. */
const headers = { authorization: `Bearer ${READ_TOKEN}` };

const push = (baseUrl: string, tag: string, region: number): Promise<void> =>
  postPush(baseUrl, { registry: REGISTRY, repository: REPOSITORY, tag }, region);

/** As Gatekeeper calls it: no headers but the content type, the token in the URL. */
async function ask(baseUrl: string, keys: string[]): Promise<boolean> {
  const response = await fetch(
    `${baseUrl}/api/gatekeeper/${REGION}?token=${encodeURIComponent(READ_TOKEN)}`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        apiVersion: 'externaldata.gatekeeper.sh/v1beta1',
        kind: 'ProviderRequest',
        request: { keys },
      }),
    },
  );
  const body = (await response.json()) as { response?: { items?: { error: string }[] } };
  const items = body.response?.items ?? [];
  return response.status === 200 && items.length === keys.length && items.every((i) => !i.error);
}

async function longPoll(baseUrl: string, tag: string, regions?: string) {
  const query = regions === undefined ? '?wait=30' : `?wait=30&regions=${regions}`;
  const response = await fetch(
    `${baseUrl}/api/replications/${REGISTRY}/${REPOSITORY}:${tag}${query}`,
    { headers },
  );
  const body = (await response.json()) as { status?: string };
  return {
    at: performance.now(),
    ok: body.status === 'replicated' && response.headers.get('x-acr-gate-wait') === 'settled',
  };
}

export async function measureAdmission(env: BenchEnv, a: Child): Promise<AdmissionResult> {
  const url = String(a.info.url);
  const run = `${Date.now()}`;
  // 100 tags in the measured region: the largest batch names each once.
  const tags = Array.from({ length: 100 }, (_, i) => `adm-${run}-${i}`);
  for (const tag of tags) await push(url, tag, 3);
  const keyOf = (tag: string) => `${REGISTRY}/${REPOSITORY}:${tag}`;

  let failures = 0;
  const requests = env.quick ? 30 : 200;
  const provider: AdmissionResult['provider'] = [];
  for (const n of [1, 10, 100]) {
    const keys = tags.slice(0, n).map(keyOf);
    await ask(url, keys); // warm
    const samples: number[] = [];
    for (let i = 0; i < requests; i++) {
      const started = performance.now();
      if (!(await ask(url, keys))) failures += 1;
      samples.push(performance.now() - started);
    }
    provider.push({ keys: n, latency: summarize(samples) });
    env.log(`  admission: ${n} key(s) done`);
  }

  const waitRounds = env.quick ? 8 : 30;
  const scoped: number[] = [];
  const all: number[] = [];
  const scope = FOUR_REGIONS[1] ?? 'eastus';
  for (let i = 0; i < waitRounds; i++) {
    const tag = `wait-${run}-${i}`;
    await push(url, tag, 0);
    const onScope = longPoll(url, tag, scope);
    const onAll = longPoll(url, tag);
    await sleep(100 + Math.random() * 400);
    // The scope's region arrives: the scoped wait answers, the other keeps waiting.
    await push(url, tag, 1);
    const scopeDone = performance.now();
    const s = await onScope;
    for (const region of [2, 3]) await push(url, tag, region);
    const allDone = performance.now();
    const r = await onAll;
    if (!s.ok || !r.ok) failures += 1;
    scoped.push(s.at - scopeDone);
    all.push(r.at - allDone);
  }
  return {
    requests,
    provider,
    waitRounds,
    scopedWait: summarize(scoped),
    allRegionsWait: summarize(all),
    failures,
  };
}
