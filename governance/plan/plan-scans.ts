/**
 * Reads EXPLAIN output and lists the full table scans in it. Pure: no I/O.
 *
 * MySQL/MariaDB: `EXPLAIN FORMAT=JSON` gives one row whose single column is
 * the plan as JSON text; every table access is an object with `table_name`
 * (the alias when the query gives one) and `access_type`, nested under
 * `nested_loop`, `materialized`, `query_specifications`, subquery keys...
 * `ALL` (and MariaDB's hash-join `hash_ALL`) read every row without an index;
 * `index` reads every entry of an index (for InnoDB's PRIMARY that is the
 * whole table: MariaDB plans `UPDATE ... WHERE unindexed` that way), and its
 * `rows` estimate already reflects a LIMIT.
 * Refs: https://dev.mysql.com/doc/refman/8.0/en/explain-output.html#explain-join-types
 *       https://mariadb.com/kb/en/explain-format-json/
 *
 * PostgreSQL: `EXPLAIN (FORMAT JSON, VERBOSE)` gives `[{ Plan: {...} }]`
 * with children in `Plans` (init plans, subplans, CTEs included); a
 * `Seq Scan` node names its `Relation Name` and, with VERBOSE, its `Schema`.
 * An `Index Scan` without an `Index Cond` (ORDER BY an indexed column, a
 * merge join's input) is not reported: it often stops early (LIMIT, the
 * other side of a merge join running out) and the plan does not say when.
 * Ref: https://www.postgresql.org/docs/15/using-explain.html
 *
 * The walk is deliberately generic (every nested object is visited) so that
 * a plan shape not seen here still has its scans found.
 */
import type { Dialect } from '../facts.js';

/** One full scan found in a plan. */
export interface PlanScan {
  /** The name the plan gives: the real relation (PostgreSQL) or the table alias (MySQL). */
  readonly name: string;
  /** PostgreSQL schema, when the plan says. */
  readonly schema: string | undefined;
  /** The planner's estimate of rows read (MySQL `rows`), when given. */
  readonly rows: number | undefined;
  /** `table`: every row read without an index; `index`: every entry of an index read. */
  readonly via: 'table' | 'index';
}

/** What the plan says, or that it could not be read (the guard then refuses). */
export type PlanReading =
  | { readonly readable: true; readonly scans: readonly PlanScan[] }
  | { readonly readable: false; readonly why: string };

/** Access types that read the whole table without an index. */
const MYSQL_FULL_SCAN = new Set(['ALL', 'hash_ALL']);

/** The EXPLAIN statement to run for `sql` in `dialect`. */
export function explainStatement(dialect: Dialect, sql: string): string {
  // A trailing terminator would end the EXPLAIN early on some drivers.
  const text = sql.replace(/[\s;]+$/u, '');
  return dialect === 'mysql' ? `EXPLAIN FORMAT=JSON ${text}` : `EXPLAIN (FORMAT JSON, VERBOSE) ${text}`;
}

/** Lists the full scans in EXPLAIN result rows (as the driver returned them). */
export function readPlan(dialect: Dialect, rows: readonly unknown[]): PlanReading {
  const roots: unknown[] = [];
  for (const row of rows) {
    if (row === null || typeof row !== 'object') continue;
    for (const value of Object.values(row as Record<string, unknown>)) {
      if (typeof value === 'string') {
        try {
          roots.push(JSON.parse(value));
        } catch {
          return { readable: false, why: 'the plan is not JSON' };
        }
      } else if (value !== null && typeof value === 'object') {
        roots.push(value);
      }
    }
  }
  const scans: PlanScan[] = [];
  let planNodes = 0;
  const visit = (node: unknown, depth: number): void => {
    if (depth > 200 || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const item of node) visit(item, depth + 1);
      return;
    }
    const o = node as Record<string, unknown>;
    if (dialect === 'mysql') {
      if ('query_block' in o) planNodes++;
      const access = o.access_type;
      if (typeof access === 'string' && typeof o.table_name === 'string' && (MYSQL_FULL_SCAN.has(access) || access === 'index')) {
        // MariaDB says `rows`; MySQL 8 says `rows_examined_per_scan`.
        const rows = typeof o.rows === 'number' ? o.rows
          : typeof o.rows_examined_per_scan === 'number' ? o.rows_examined_per_scan : undefined;
        scans.push({ name: o.table_name, schema: undefined, rows, via: access === 'index' ? 'index' : 'table' });
      }
    } else {
      const type = o['Node Type'];
      if ('Plan' in o || typeof type === 'string') planNodes++;
      if (type === 'Seq Scan' && typeof o['Relation Name'] === 'string') {
        scans.push({ name: o['Relation Name'], schema: typeof o.Schema === 'string' ? o.Schema : undefined, rows: undefined, via: 'table' });
      }
    }
    for (const value of Object.values(o)) visit(value, depth + 1);
  };
  for (const root of roots) visit(root, 0);
  if (planNodes === 0) return { readable: false, why: 'no query plan in the EXPLAIN output' };
  return { readable: true, scans };
}
