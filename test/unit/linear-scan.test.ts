// The bench's rewrite of the embedded query engine's gather: the same answers, without the per-item array copy.
import query from '@zeit/cosmosdb-query';
import { describe, expect, it } from 'vitest';
import { linearGather } from '../../bench/support/linear-scan';
import executor from '@zeit/cosmosdb-query/lib/executor';

const items = Array.from({ length: 300 }, (_, i) => ({
  id: `i${i}`,
  _rid: `rid${String(i).padStart(4, '0')}`,
  pk: `p${i % 7}`,
  type: i % 3 === 0 ? 'approval' : 'tag',
  state: ['waiting', 'answering', 'answered'][(i % 4) % 3],
  nextAttemptAt: `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}Z`,
  updatedAt: `2026-02-${String((i % 28) + 1).padStart(2, '0')}`,
  digests: [`d${i % 5}`],
}));

const QUERIES: [string, { name: string; value: unknown }[]][] = [
  [
    "SELECT TOP 20 * FROM c WHERE c.type = 'approval' AND (c.state = 'waiting' OR (c.state = 'answering' AND c.nextAttemptAt <= @now))",
    [{ name: '@now', value: '2026-01-01T00:00:30Z' }],
  ],
  ["SELECT * FROM c WHERE c.pk = @pk AND c.type = 'tag'", [{ name: '@pk', value: 'p3' }]],
  ['SELECT c.id, c.pk FROM c WHERE ARRAY_CONTAINS(c.digests, @d)', [{ name: '@d', value: 'd2' }]],
  ["SELECT * FROM c WHERE c.type = 'tag' ORDER BY c.updatedAt DESC", []],
  ['SELECT VALUE COUNT(1) FROM c', []],
];

describe('the linear gather', () => {
  it.each(QUERIES)('answers %s exactly as the original engine does', (sql, parameters) => {
    const compiled = query(sql);
    const rewritten = linearGather(compiled.code);
    // The quadratic gather was there, and is gone.
    expect(compiled.code).toContain('[...$, {');
    expect(rewritten).not.toContain('[...$, {');
    const page = { parameters, maxItemCount: 50 };
    const expected = compiled.exec(items, page) as { result: unknown[] };
    expect(expected.result.length).toBeGreaterThan(0);
    expect(executor(items, { code: rewritten, ...page })).toEqual(expected);
  });

  it('answers a JOIN (a gather of another shape) exactly as the original engine does', () => {
    const compiled = query('SELECT c.id, d FROM c JOIN d IN c.digests WHERE d = @d');
    const page = { parameters: [{ name: '@d', value: 'd4' }], maxItemCount: 500 };
    const expected = compiled.exec(items, page) as { result: unknown[] };
    expect(executor(items, { code: linearGather(compiled.code), ...page })).toEqual(expected);
    expect(expected.result).toHaveLength(60);
  });
});
