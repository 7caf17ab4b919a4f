/**
 * The limit rules — row-cap, daily-row-quota, daily-query-quota,
 * statement-timeout, full-scan-guard — do not refuse on their own: they turn
 * the effective limits into directives the endpoints enforce while the
 * statement runs (cut rows, charge quotas, cancel upstream, check the plan).
 * Effective limits: DEFAULT_LIMITS < policy.limits < instance.limits < user.limits.
 */
import { DEFAULT_LIMITS, type Limits } from './policy-schema.js';
import type { Directives, MaskDirective, RuleOutcome } from '../governance/decision.js';
import { allWrites, hasSkipHint, result, type RuleInput, type RuleResult } from './rule.js';

export const ROW_CAP = 'row-cap';
export const DAILY_ROW_QUOTA = 'daily-row-quota';
export const DAILY_QUERY_QUOTA = 'daily-query-quota';
export const STATEMENT_TIMEOUT = 'statement-timeout';
export const FULL_SCAN_GUARD = 'full-scan-guard';

/** Later layers override earlier ones field by field. */
export function effectiveLimits(...layers: readonly (Limits | undefined)[]): Required<Limits> {
  const out: Required<Limits> = { ...DEFAULT_LIMITS };
  for (const layer of layers) {
    if (!layer) continue;
    for (const [k, v] of Object.entries(layer) as [keyof Limits, number | undefined][]) if (v !== undefined) out[k] = v;
  }
  return out;
}

/** The trace lines of the limits depend only on the limits: build them once per limits object. */
const limitLines = new WeakMap<Required<Limits>, { rows: RuleOutcome; noRows: RuleOutcome; rest: readonly RuleOutcome[]; noBig: RuleOutcome }>();

function linesFor(l: Required<Limits>) {
  let x = limitLines.get(l);
  if (!x) {
    x = {
      rows: { rule: ROW_CAP, outcome: 'info', detail: `at most ${l.max_rows_per_query} rows per result; more are cut` },
      noRows: { rule: ROW_CAP, outcome: 'info', detail: 'returns no rows' },
      rest: [
        { rule: DAILY_ROW_QUOTA, outcome: 'info', detail: `${l.max_rows_per_day} rows per day` },
        { rule: DAILY_QUERY_QUOTA, outcome: 'info', detail: `${l.max_queries_per_day} statements per day` },
        { rule: STATEMENT_TIMEOUT, outcome: 'info', detail: `cancelled upstream after ${l.statement_timeout_ms} ms` },
      ],
      noBig: { rule: FULL_SCAN_GUARD, outcome: 'info', detail: `no table above ${l.full_scan_max_rows} rows` },
    };
    limitLines.set(l, x);
  }
  return x;
}

export function directives({ facts, principal, context }: RuleInput, masks: readonly MaskDirective[]): RuleResult & { directives: Directives } {
  const r = result();
  const l = principal.limits;
  const lines = linesFor(l);
  const returnsRows = facts.outputs.length > 0 || facts.kind === 'select' || facts.kind === 'show' || facts.kind === 'explain';
  r.outcomes.push(returnsRows ? lines.rows : lines.noRows);
  for (const o of lines.rest) r.outcomes.push(o);
  let fullScan: number | undefined = l.full_scan_max_rows;
  const skipped: string[] = [];
  if (hasSkipHint(facts, FULL_SCAN_GUARD) && principal.maySkip.has(FULL_SCAN_GUARD)) {
    fullScan = undefined;
    skipped.push(FULL_SCAN_GUARD);
    r.outcomes.push({ rule: FULL_SCAN_GUARD, outcome: 'skip', detail: 'skipped by hint (role may_skip)' });
  }
  const bigTables: { schema: string; table: string; rows: number }[] = [];
  if (fullScan !== undefined && context.tableRows) {
    const seen = new Set<string>();
    const tables = [...facts.tablesRead, ...allWrites(facts).map((w) => w.target)];
    for (const t of tables) {
      const k = `${t.schema}.${t.table}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const rows = context.tableRows(t);
      if (rows !== undefined && rows > fullScan) bigTables.push({ schema: t.schema, table: t.table, rows });
    }
    r.outcomes.push(bigTables.length
      ? { rule: FULL_SCAN_GUARD, outcome: 'info', detail: `plan check for ${bigTables.map((b) => `${b.schema}.${b.table} (~${b.rows} rows)`).join(', ')}` }
      : lines.noBig);
  }
  return {
    outcomes: r.outcomes,
    refusals: r.refusals,
    skipped,
    directives: {
      masks,
      maxRows: returnsRows ? l.max_rows_per_query : undefined,
      maxResultBytes: l.max_result_bytes,
      timeoutMs: l.statement_timeout_ms,
      maxRowsPerDay: l.max_rows_per_day,
      maxQueriesPerDay: l.max_queries_per_day,
      fullScanMaxRows: fullScan,
      bigTables,
      showErrorRows: principal.readsEverything,
    },
  };
}
