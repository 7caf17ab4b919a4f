/**
 * no-unqualified-dml: UPDATE/DELETE that would touch every row — no WHERE and
 * no LIMIT, an always-true WHERE, a WHERE that never mentions the target
 * table (so its truth does not depend on the row), and TRUNCATE. Every write
 * of a statement is checked (a data-modifying CTE, a multi-table DELETE).
 * A role with `may_skip: [no-unqualified-dml]` may run one such statement by
 * adding the hint `/*+ sqlgate:skip(no-unqualified-dml) *\/`; the skip is
 * audited. Tables a role lists in `unqualified_dml_tables` (a migration
 * tool's lock table) may be updated or deleted from without a WHERE;
 * TRUNCATE may not.
 */
import type { WriteFacts } from '../governance/facts.js';
import type { Principal } from './principal.js';
import { showTable } from './principal.js';
import { allWrites, hasSkipHint, result, type RuleInput, type RuleResult } from './rule.js';

export const id = 'no-unqualified-dml';

/** What is wrong with one write, or undefined when it is qualified (or allowed unqualified). */
function problemOf(w: WriteFacts, dialect: Parameters<typeof showTable>[0], principal: Principal): { problem: string; exempt: boolean } | undefined {
  if (w.kind !== 'update' && w.kind !== 'delete' && w.kind !== 'truncate') return undefined;
  const target = showTable(dialect, w.target);
  const verb = w.kind.toUpperCase();
  let problem: string | undefined;
  if (w.kind === 'truncate') problem = `TRUNCATE of ${target} removes every row`;
  else if (!w.hasWhere && !w.hasLimit) problem = `${verb} of ${target} has no WHERE clause and no LIMIT`;
  else if (w.hasWhere && w.alwaysTrue) problem = `${verb} of ${target} has an always-true WHERE clause`;
  else if (w.hasWhere && !w.whereTouchesTarget && !w.hasLimit) problem = `${verb} of ${target} has a WHERE clause that does not depend on the target's columns`;
  if (!problem) return undefined;
  return { problem, exempt: w.kind !== 'truncate' && principal.unqualifiedDmlAllowed(w.target) };
}

export function check({ facts, principal }: RuleInput): RuleResult {
  const r = result();
  const found = allWrites(facts).map((w) => problemOf(w, facts.dialect, principal)).filter((p) => p !== undefined);
  for (const p of found.filter((x) => x.exempt)) {
    r.outcomes.push({ rule: id, outcome: 'allow', detail: `${p.problem}; allowed: a role lists the table in unqualified_dml_tables` });
  }
  const bad = found.find((p) => !p.exempt);
  if (!bad) {
    if (found.length === 0) r.outcomes.push({ rule: id, outcome: 'allow', detail: allWrites(facts).length > 0 ? 'every write is qualified' : 'not an UPDATE/DELETE/TRUNCATE' });
    return { outcomes: r.outcomes, refusals: r.refusals, skipped: [] };
  }
  let problem = bad.problem;
  if (hasSkipHint(facts, id)) {
    if (principal.maySkip.has(id)) {
      r.outcomes.push({ rule: id, outcome: 'skip', detail: `${problem}; skipped by hint (role may_skip)` });
      return { outcomes: r.outcomes, refusals: r.refusals, skipped: [id] };
    }
    problem += '; your roles may not skip this check';
  }
  r.refusals.push({ rule: id, code: 'UNQUALIFIED_DML', text: problem });
  r.outcomes.push({ rule: id, outcome: 'deny', detail: problem });
  return { outcomes: r.outcomes, refusals: r.refusals, skipped: [] };
}
