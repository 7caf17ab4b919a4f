/**
 * The guard's matching rules on plan shapes captured from MariaDB (the
 * integration suite runs the real planners): thresholds, aliases, temporary
 * tables, unknown sizes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FullScanGuard, type BigTable, type ExplainFn } from '../../../governance/plan/full-scan-guard.js';

const big: BigTable = { schema: 'shop', table: 'orders', rows: 50_000 };
const plan = (...tables: object[]): ExplainFn => async () =>
  [{ EXPLAIN: JSON.stringify({ query_block: { select_id: 1, nested_loop: tables.map((t) => ({ table: t })) } }) }];

test('an aliased full scan is judged by its estimate against the threshold (tables above it are big)', async () => {
  const g = new FullScanGuard();
  const at = await g.check('mysql', 'q', 'a', [big], plan({ table_name: 'o', access_type: 'ALL', rows: 10_000 }), 10_000);
  assert.deepEqual(at, { ok: true });
  const above = await g.check('mysql', 'q', 'b', [big], plan({ table_name: 'o', access_type: 'ALL', rows: 10_001 }), 10_000);
  assert.equal(above.ok, false);
  // Without a threshold, the smallest listed big table's estimate is the bar.
  assert.equal((await g.check('mysql', 'q', 'c', [big], plan({ table_name: 'o', access_type: 'ALL', rows: 50_000 }))).ok, false);
  assert.equal((await g.check('mysql', 'q', 'd', [big], plan({ table_name: 'o', access_type: 'ALL', rows: 49_999 }))).ok, true);
});

test('a full scan named like a big table is refused whatever its estimate (stale statistics)', async () => {
  const v = await new FullScanGuard().check('mysql', 'q', 'a', [big], plan({ table_name: 'ORDERS', access_type: 'ALL', rows: 3 }), 10_000);
  assert.deepEqual(v, { ok: false, table: 'shop.orders', reason: 'the plan reads all of shop.orders (about 50000 rows) without an index' });
});

test('temporary results are skipped; a full scan of unknown size is refused; hash joins count', async () => {
  const g = new FullScanGuard();
  assert.deepEqual(await g.check('mysql', 'q', 'a', [big], plan({ table_name: '<derived2>', access_type: 'ALL', rows: 90_000 }), 10_000), { ok: true });
  assert.equal((await g.check('mysql', 'q', 'b', [big], plan({ table_name: 'x', access_type: 'ALL' }), 10_000)).ok, false);
  assert.equal((await g.check('mysql', 'q', 'c', [big], plan({ table_name: 'orders', access_type: 'hash_ALL', rows: 50_000 }), 10_000)).ok, false);
});

test('a full index walk is judged by its estimate only (a LIMIT shows in it)', async () => {
  const g = new FullScanGuard();
  assert.deepEqual(await g.check('mysql', 'q', 'a', [big], plan({ table_name: 'orders', access_type: 'index', key: 'PRIMARY', rows: 10 }), 10_000), { ok: true });
  assert.equal((await g.check('mysql', 'q', 'b', [big], plan({ table_name: 'orders', access_type: 'index', key: 'PRIMARY', rows: 50_000 }), 10_000)).ok, false);
});

test('the EXPLAIN text sent upstream is the statement behind EXPLAIN, and the cache is bounded', async () => {
  const seen: string[] = [];
  const g = new FullScanGuard({ maxEntries: 2 });
  const explain: ExplainFn = async (sql) => { seen.push(sql); return plan({ table_name: 'orders', access_type: 'ref', rows: 1 })(sql); };
  for (const fp of ['a', 'b', 'c', 'a']) await g.check('mysql', 'SELECT * FROM orders WHERE id = 1;', fp, [big], explain, 10_000);
  assert.equal(seen[0], 'EXPLAIN FORMAT=JSON SELECT * FROM orders WHERE id = 1');
  assert.equal(g.explains, 4, "'a' was evicted by 'b' and 'c' and explained again");
});
