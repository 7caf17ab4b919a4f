/**
 * Rule `full-scan-guard`: a statement reading a table whose estimated size is
 * above `full_scan_max_rows` is explained first, and refused when the plan
 * reads that table in full without an index. The verdict is cached per
 * statement shape (fingerprint) so the EXPLAIN round trip is paid once.
 *
 * The guard holds no connection: the endpoint passes an `explain` callback
 * that runs one statement on the user's upstream session (same database,
 * search path and settings as the statement itself) and returns its rows.
 * The callback must run exactly one statement (no multi-statement text, e.g.
 * pg's `queryMode: 'extended'`, mysql2 without `multipleStatements`).
 *
 * Matching scans to big tables:
 * - PostgreSQL plans name the real relation and schema: a `Seq Scan` on a
 *   listed big table is refused.
 * - MySQL/MariaDB plans name the alias, not the table. A full scan is refused
 *   when its name is a big table's name, or when its estimated rows reach the
 *   threshold (an aliased big table); temporary results (`<derived2>`,
 *   `<subquery2>`, `<union1,2>`) are skipped because the scans that fill them
 *   are in the plan too. A full scan whose size is unknown is refused.
 * - MySQL/MariaDB: a full index scan (`index`) counts as a full scan when its
 *   estimate reaches the threshold (the estimate reflects a LIMIT): on
 *   InnoDB's PRIMARY it is the whole table. PostgreSQL: a condition-less
 *   Index Scan is allowed (see plan-scans.ts). Index lookups and ranges are
 *   allowed, however many rows they match.
 * - A PostgreSQL `Seq Scan` is refused even under a LIMIT (a filter may read
 *   the whole table before finding enough rows); a role may skip the rule
 *   with the `sqlgate:skip(full-scan-guard)` hint.
 * - A plan that cannot be read, or an EXPLAIN that fails, refuses the
 *   statement (fail closed) and is not cached.
 */
import { LRUCache } from 'lru-cache';
import { SqlgateError, ruleMessage } from '../errors.js';
import type { Dialect } from '../facts.js';
import { explainStatement, readPlan, type PlanScan } from './plan-scans.js';

export const FULL_SCAN_RULE = 'full-scan-guard';

/** A table the catalog estimates above the threshold. For MySQL, `schema` is the database. */
export interface BigTable {
  readonly schema: string;
  readonly table: string;
  readonly rows: number;
}

/** Runs one statement upstream and returns its rows. */
export type ExplainFn = (sql: string) => Promise<unknown[]>;

export type FullScanVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly table: string; readonly reason: string };

export interface FullScanGuardOptions {
  /** Cached verdicts at most. */
  readonly maxEntries?: number;
  /** Milliseconds a verdict is trusted (plans change with statistics). */
  readonly ttlMs?: number;
}

const OK: FullScanVerdict = Object.freeze({ ok: true });

export class FullScanGuard {
  private readonly cache: LRUCache<string, FullScanVerdict>;
  private readonly inFlight = new Map<string, Promise<{ verdict: FullScanVerdict; cacheable: boolean }>>();
  /** EXPLAIN round trips made (cache misses); for tests and metrics. */
  explains = 0;

  constructor(options: FullScanGuardOptions = {}) {
    this.cache = new LRUCache<string, FullScanVerdict>({
      max: options.maxEntries ?? 10_000,
      ttl: options.ttlMs ?? 10 * 60_000,
    });
  }

  /**
   * Checks one statement. `bigTables` are the tables it reads that the
   * catalog estimates above the threshold; none means nothing to check (no
   * EXPLAIN). `maxRows` is the threshold itself (`full_scan_max_rows`:
   * tables estimated above it are big), used for MySQL scans under an alias;
   * without it, a scan as large as the smallest listed table counts as big.
   */
  async check(
    dialect: Dialect,
    sql: string,
    fingerprint: string,
    bigTables: readonly BigTable[],
    explain: ExplainFn,
    maxRows?: number,
  ): Promise<FullScanVerdict> {
    if (bigTables.length === 0) return OK;
    // The smallest estimate that makes a scan big.
    const threshold = maxRows !== undefined ? maxRows + 1 : Math.min(...bigTables.map((t) => t.rows));
    // The verdict depends on which tables are big (and where they resolved) and on the threshold, not only on the shape.
    const key = JSON.stringify([dialect, fingerprint, threshold,
      bigTables.map((t) => [t.schema, t.table]).sort((a, b) => (a.join('.') < b.join('.') ? -1 : 1))]);
    const hit = this.cache.get(key);
    if (hit) return hit;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.judge(dialect, sql, bigTables, explain, threshold)
        .finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    const { verdict, cacheable } = await pending;
    if (cacheable) this.cache.set(key, verdict);
    return verdict;
  }

  /** Forgets every cached verdict (e.g. after a policy reload or ANALYZE). */
  clear(): void {
    this.cache.clear();
  }

  private async judge(dialect: Dialect, sql: string, bigTables: readonly BigTable[], explain: ExplainFn, threshold: number):
    Promise<{ verdict: FullScanVerdict; cacheable: boolean }> {
    const names = bigTables.map(qualified).join(', ');
    let rows: unknown[];
    try {
      this.explains++;
      rows = await explain(explainStatement(dialect, sql));
    } catch (err) {
      return { verdict: { ok: false, table: names, reason: `its plan could not be checked (EXPLAIN failed: ${(err as Error).message})` }, cacheable: false };
    }
    const plan = readPlan(dialect, rows);
    if (!plan.readable) return { verdict: { ok: false, table: names, reason: `its plan could not be checked (${plan.why})` }, cacheable: false };
    for (const scan of plan.scans) {
      const big = matchBig(dialect, scan, bigTables, threshold);
      if (big) return { verdict: { ok: false, table: big.table, reason: big.reason }, cacheable: true };
    }
    return { verdict: OK, cacheable: true };
  }
}

function qualified(t: BigTable): string {
  return `${t.schema}.${t.table}`;
}

function matchBig(dialect: Dialect, scan: PlanScan, bigTables: readonly BigTable[], threshold: number):
  { table: string; reason: string } | undefined {
  if (dialect === 'postgres') {
    const t = bigTables.find((b) => b.table === scan.name && (scan.schema === undefined || b.schema === scan.schema));
    const how = scan.via === 'table' ? 'without an index' : 'through a whole index, with no condition narrowing it';
    return t && { table: qualified(t), reason: `the plan reads all of ${qualified(t)} (about ${t.rows} rows) ${how}` };
  }
  if (scan.name.startsWith('<')) return undefined;
  const lower = scan.name.toLowerCase();
  // A full index scan's estimate already reflects a LIMIT: judge it by size alone.
  const t = scan.via === 'table' ? bigTables.find((b) => b.table.toLowerCase() === lower) : undefined;
  if (t) return { table: qualified(t), reason: `the plan reads all of ${qualified(t)} (about ${t.rows} rows) without an index` };
  const how = scan.via === 'table' ? 'without an index' : 'through a whole index, with no condition narrowing it';
  if (scan.rows === undefined) return { table: scan.name, reason: `the plan reads all of ${scan.name} ${how} and its size is unknown` };
  if (scan.rows >= threshold) return { table: scan.name, reason: `the plan reads all of ${scan.name} (about ${scan.rows} rows) ${how}` };
  return undefined;
}

/** The error an endpoint sends for a refused verdict. */
export function fullScanError(verdict: Extract<FullScanVerdict, { ok: false }>): SqlgateError {
  return new SqlgateError('FULL_SCAN_REFUSED',
    ruleMessage(`statement refused on ${verdict.table}: ${verdict.reason}; add a condition on an indexed column`, FULL_SCAN_RULE),
    { rule: FULL_SCAN_RULE });
}
