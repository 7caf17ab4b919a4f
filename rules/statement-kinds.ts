/**
 * statement-kinds: which kinds of statement a role may run. Roles that say
 * nothing get the read-only set. A write hidden inside another kind (a
 * data-modifying CTE, EXPLAIN ANALYZE of a DELETE) needs the write's kind too.
 */
import type { StatementKind } from './policy-schema.js';
import { allWrites, result, type RuleInput, type RuleResult } from './rule.js';

export const id = 'statement-kinds';

/**
 * What a role may run when its policy entry lists no statement_kinds.
 * DEALLOCATE only forgets prepared statements; drivers send DEALLOCATE ALL
 * when they reset a pooled connection.
 */
export const READ_ONLY_KINDS: readonly StatementKind[] = ['select', 'show', 'explain', 'set', 'use', 'transaction', 'deallocate'];

export function check({ facts, principal }: RuleInput): RuleResult {
  const r = result();
  const needed = new Set<StatementKind>([facts.kind]);
  // Every write needs its own kind, also where the statement's kind hides it (a data-modifying CTE).
  for (const w of allWrites(facts)) {
    if (w.kind === 'truncate') needed.add('ddl');
    else if (w.kind === 'upsert') { needed.add('insert'); needed.add('update'); }
    else needed.add(w.kind);
  }
  for (const kind of needed) {
    if (!principal.kinds.has(kind)) {
      const hidden = kind !== facts.kind ? ` (inside ${/^[aeiou]/.test(facts.kind) ? 'an' : 'a'} ${facts.kind} statement)` : '';
      r.refusals.push({ rule: id, code: 'STATEMENT_KIND_DENIED', text: `${kind} statements${hidden} are not allowed for user ${principal.user}` });
      r.outcomes.push({ rule: id, outcome: 'deny', detail: `kind ${kind} not in [${[...principal.kinds].join(', ')}]` });
      return r;
    }
  }
  r.outcomes.push({ rule: id, outcome: 'allow', detail: `kind ${[...needed].join('+')} allowed` });
  return r;
}
