/**
 * Micro-benchmark of statement analysis: µs per statement, uncached (parse +
 * lower + resolve every time) and cached (LRU hit), per dialect, on a mix of
 * ordinary application statements. No asserts; prints a table.
 *
 *   node dist/bench/analyze.js [rounds]
 */
import { analyze, analyzeCached, clearAnalysisCache, initAnalysis, type AnalyzeContext } from '../governance/analyze/analyze.js';
import { catalogFromTables } from '../governance/catalog/catalog.js';
import type { Dialect } from '../governance/facts.js';
import { loadavg } from 'node:os';

const TABLES = [
  { database: 'shop', name: 'customers', columns: ['id', 'name', 'phone', 'email', 'city', 'created_at'] },
  { database: 'shop', name: 'orders', columns: ['id', 'customer_id', 'total', 'status', 'created_at'] },
  { database: 'shop', name: 'items', columns: ['id', 'order_id', 'sku', 'qty', 'price'] },
  { database: 'shop', name: 'pgbench_accounts', columns: ['aid', 'bid', 'abalance', 'filler'] },
];

const COMMON = [
  'SELECT id, name, email FROM customers WHERE id = 42',
  "SELECT c.name, o.total FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.status = 'paid' ORDER BY o.created_at DESC LIMIT 20",
  'SELECT status, count(*), sum(total) FROM orders GROUP BY status',
  "UPDATE orders SET status = 'shipped' WHERE id = 7",
  'DELETE FROM items WHERE order_id = 9',
  "INSERT INTO orders (id, customer_id, total, status) VALUES (1, 2, 10.5, 'new')",
  'SELECT * FROM items WHERE order_id IN (SELECT id FROM orders WHERE customer_id = 3)',
  'WITH recent AS (SELECT customer_id, max(created_at) AS last FROM orders GROUP BY customer_id) SELECT c.id, r.last FROM customers c JOIN recent r ON r.customer_id = c.id',
];
const MIX: Record<Dialect, string[]> = {
  postgres: [...COMMON, 'SELECT to_jsonb(c) FROM customers c WHERE id = $1', 'BEGIN', 'SET search_path TO public'],
  mysql: [...COMMON, "SELECT GROUP_CONCAT(sku SEPARATOR ',') FROM items WHERE order_id = 5", 'BEGIN', "SET NAMES utf8mb4"],
};

/** CPU µs per call (user+system): steadier than wall time on a shared machine. */
function time(fn: () => void, n: number): number {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

await initAnalysis();
const rounds = Number(process.argv[2] ?? 200);
const rows: string[][] = [['dialect', 'statements', 'uncached µs/stmt', 'cached µs/stmt', 'new literals µs/stmt']];
for (const dialect of ['postgres', 'mysql'] as const) {
  const ctx: AnalyzeContext = { dialect, catalog: catalogFromTables(dialect, TABLES), database: 'shop', searchPath: ['public'] };
  const mix = MIX[dialect];
  for (const s of mix) analyze(s, ctx); // warm up JIT and the WASM module
  const uncached = time(() => { for (const s of mix) analyze(s, ctx); }, rounds) / mix.length;
  clearAnalysisCache();
  for (const s of mix) analyzeCached(s, ctx);
  const cached = time(() => { for (const s of mix) analyzeCached(s, ctx); }, rounds * 10) / mix.length;
  // Same shapes, fresh literals each time ($n parameters stay): the
  // exact-text cache misses and both dialects share the analysis through
  // their digests.
  let k = 1000;
  const fresh = time(() => { k++; for (const s of mix) analyzeCached(s.replace(/(?<!\$)\b(\d+)\b/g, String(k)), ctx); }, rounds) / mix.length;
  rows.push([dialect, String(mix.length), uncached.toFixed(1), cached.toFixed(2), fresh.toFixed(1)]);
  // pgbench -S: one point select, a new key every time.
  const point = 'SELECT abalance FROM pgbench_accounts WHERE aid = 1;';
  const pointUncached = time(() => { analyze(point.replace('1', String(++k)), ctx); }, rounds);
  clearAnalysisCache();
  time(() => { analyzeCached(point.replace('1', String(++k)), ctx); }, rounds * 10); // warm up
  const pointFresh = time(() => { analyzeCached(point.replace('1', String(++k)), ctx); }, rounds * 50);
  rows.push([`${dialect} pgbench -S`, '1', pointUncached.toFixed(1), '', pointFresh.toFixed(1)]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
console.log(`# load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${process.arch}; figures are CPU µs per statement`);
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  '));
