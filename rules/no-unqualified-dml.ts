/**
 * no-unqualified-dml: UPDATE/DELETE that would touch every row — no WHERE and
 * no LIMIT, an always-true WHERE, a WHERE that never mentions the target
 * table (so its truth does not depend on the row), and TRUNCATE. A role with
 * `may_skip: [no-unqualified-dml]` may run one such statement by adding the
 * hint `/*+ sqlgate:skip(no-unqualified-dml) *\/`; the skip is audited.
 */
import { showTable } from './principal.js';
import { hasSkipHint, result, writeKind, type RuleInput, type RuleResult } from './rule.js';

export const id = 'no-unqualified-dml';

export function check({ facts, principal }: RuleInput): RuleResult {
  const r = result();
  const w = facts.write;
  const wk = writeKind(facts);
  if (!w || !(wk === 'update' || wk === 'delete' || wk === 'truncate')) {
    r.outcomes.push({ rule: id, outcome: 'allow', detail: 'not an UPDATE/DELETE/TRUNCATE' });
    return { outcomes: r.outcomes, refusals: r.refusals, skipped: [] };
  }
  const target = showTable(facts.dialect, w.target);
  let problem: string | undefined;
  if (wk === 'truncate') problem = `TRUNCATE of ${target} removes every row`;
  else if (!w.hasWhere && !w.hasLimit) problem = `${wk.toUpperCase()} of ${target} has no WHERE clause and no LIMIT`;
  else if (w.hasWhere && w.alwaysTrue) problem = `${wk.toUpperCase()} of ${target} has an always-true WHERE clause`;
  else if (w.hasWhere && !w.whereTouchesTarget && !w.hasLimit) problem = `${wk.toUpperCase()} of ${target} has a WHERE clause that does not depend on the target's columns`;
  if (!problem) {
    r.outcomes.push({ rule: id, outcome: 'allow', detail: `${wk} is qualified` });
    return { outcomes: r.outcomes, refusals: r.refusals, skipped: [] };
  }
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
