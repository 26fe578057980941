// What Cosmos DB documents an operation to cost in request units (RU), applied to the bench's counted
// operations. The embedded server charges 1 per request, so RU on a real account can only be estimated.
//
// Sources (Microsoft Learn, read 2026-12-03):
// - "Request units in Azure Cosmos DB": a point read of a 1 KB item is 1 RU.
// - "Understand request unit consumption": read and write RU by document size, default indexing
//   (every path), session consistency: 1 KB 1.00 / 4.95, 2 KB 1.04 / 6.29, 4 KB 1.14 / 6.67,
//   8 KB 1.33 / 7.04, 16 KB 1.67 / 9.52. Writes grow with indexed paths; fewer paths, fewer RU.
// - Queries "consume a variable number of RUs, potentially more than point operations"; no figure
//   is documented, so QUERY_RU below is an assumption, named as one wherever it is used.

/** [document KB, read RU, write RU] from the documented table. */
const TABLE: readonly (readonly [number, number, number])[] = [
  [1, 1.0, 4.95],
  [2, 1.04, 6.29],
  [4, 1.14, 6.67],
  [8, 1.33, 7.04],
  [16, 1.67, 9.52],
];

/** Assumed, not documented: a single-partition query returning a page of a few small items. */
export const QUERY_RU = 3;

/** Linear between the documented sizes; at or below 1 KB the 1 KB figure. */
function fromTable(kb: number, column: 1 | 2): number {
  const first = TABLE[0] as (typeof TABLE)[number];
  if (kb <= first[0]) return first[column];
  for (let i = 1; i < TABLE.length; i++) {
    const [hiKb, ...hi] = TABLE[i] as (typeof TABLE)[number];
    const [loKb, ...lo] = TABLE[i - 1] as (typeof TABLE)[number];
    if (kb <= hiKb) {
      const a = lo[column - 1] as number;
      const b = hi[column - 1] as number;
      return a + ((b - a) * (kb - loKb)) / (hiKb - loKb);
    }
  }
  const last = TABLE[TABLE.length - 1] as (typeof TABLE)[number];
  return (last[column] * kb) / last[0];
}

export const readRu = (bytes: number): number => fromTable(bytes / 1024, 1);
export const writeRu = (bytes: number): number => fromTable(bytes / 1024, 2);

/**
 * RU of one counted operation (a counting-proxy kind such as `read tag`, `replace tag`,
 * `query delivery`), given the mean stored size of each item type. Patch and delete are priced as
 * writes of the item (both rewrite it and its index entries); the SDK's metadata and query-plan
 * requests are not charged.
 */
export function operationRu(operation: string, itemBytes: Record<string, number>): number {
  const [verb = '', type = 'other'] = operation.split(' ');
  const size = itemBytes[type] ?? itemBytes.other ?? 1024;
  if (operation === 'outbox clear') return writeRu(itemBytes.tag ?? size);
  if (operation === 'query plan' || verb === 'sdk:') return 0;
  if (verb === 'query') return QUERY_RU;
  // A transactional batch costs what its operations would cost one by one.
  if (verb === 'batch') {
    return type.split('+').reduce((sum, t) => sum + writeRu(itemBytes[t] ?? size), 0);
  }
  if (verb === 'read') return readRu(size);
  if (/^(create|replace|upsert|patch|put|delete)$/.test(verb)) return writeRu(size);
  return readRu(size);
}

/** RU per webhook from mean counts by operation. */
export function estimateRu(
  byOperation: Record<string, number>,
  itemBytes: Record<string, number>,
): number {
  return Object.entries(byOperation).reduce(
    (sum, [operation, n]) => sum + n * operationRu(operation, itemBytes),
    0,
  );
}

/** Serverless list price assumed for the monthly estimate (USD per million RU; see docs/benchmarks.md). */
export const SERVERLESS_USD_PER_MILLION_RU = 0.25;
export const DAYS_PER_MONTH = 30.44;

/** Monthly request cost of `pushesPerDay` pushes, each a round costing `ruPerRound`. */
export function monthlyUsd(pushesPerDay: number, ruPerRound: number): number {
  return (pushesPerDay * DAYS_PER_MONTH * ruPerRound * SERVERLESS_USD_PER_MILLION_RU) / 1e6;
}
