// Makes the embedded server's query scan linear in the container's size, as the bench's Cosmos DB process needs at 100,000 items.
//
// @zeit/cosmosdb-query (the embedded server's query engine) compiles `FROM c` into
// `$c.reduce(($, c) => typeof c !== "undefined" ? [...$, { c: c }] : $, [])`, which copies the
// array once per item: every query costs O(n²) in the container's size, whatever its filter or
// partition key (over 10 s at 30,000 items on this machine, the SDK's timeout). This rewrites
// exactly that expression into the equivalent `filter(...).map(...)`; any other generated code
// (joins, other shapes) is left as it is. Only the bench's Cosmos DB process applies it, and
// docs/benchmarks.md says so.
import Items from '@vercel/cosmosdb-server/lib/account/items';

const QUADRATIC_GATHER =
  /\$c\.reduce\(\(\$, (\w+)\) => typeof \1 !== "undefined" \? \[\.\.\.\$, \{\s*(\w+): \1\s*\}\] : \$, \[\]\)/g;

/** The generated code with the quadratic gather replaced; unchanged when it has none. */
export const linearGather = (code: string): string =>
  code.replace(
    QUADRATIC_GATHER,
    (_, item: string, alias: string) =>
      `$c.filter((${item}) => typeof ${item} !== "undefined").map((${item}) => ({ ${alias}: ${item} }))`,
  );

let applied = false;

/** Patches the embedded server's query cache so every compiled query gets the linear gather. */
export function useLinearScans(): void {
  if (applied) return;
  applied = true;
  type Compiled = { code: string; _code: string | null };
  const proto = Items.prototype as unknown as {
    _getQuery: (this: unknown, sql: string) => Compiled;
  };
  const original = proto._getQuery;
  const rewritten = new WeakSet<Compiled>();
  proto._getQuery = function (this: unknown, sql: string): Compiled {
    const query = original.call(this, sql);
    // `code` is generated on first use and cached in `_code`: rewrite it once.
    if (!rewritten.has(query)) {
      query._code = linearGather(query.code);
      rewritten.add(query);
    }
    return query;
  };
}
