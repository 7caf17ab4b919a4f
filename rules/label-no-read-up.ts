/**
 * label-no-read-up (mandatory access control, on when the instance sets
 * label_security): a column or view labelled above the user's clearance may
 * not be read, anywhere in the statement, unless a grant names that column
 * (or view) explicitly. A bare output left to a masking rule is shown masked
 * instead. Trusted-User: a trusted user may write any level; others may not
 * write a column above their clearance (grants do not lift that: trust does).
 */
import { columnAccesses, placeWords } from './column-access.js';
import { showColumn, showTable } from './principal.js';
import { allWrites, result, type RuleInput, type RuleResult } from './rule.js';
import { freelyReadable } from './system-objects.js';

export const id = 'label-no-read-up';

export function check({ facts, principal, context }: RuleInput): RuleResult {
  const r = result();
  if (!principal.instance.label_security) {
    r.outcomes.push({ rule: id, outcome: 'allow', detail: `label security is off on instance ${principal.instanceName}` });
    return r;
  }
  const d = facts.dialect;
  const clearance = principal.definition.clearance;
  const seen = new Set<string>();
  const deny = (text: string) => {
    if (seen.has(text)) return;
    seen.add(text);
    r.refusals.push({ rule: id, code: 'LABEL_NO_READ_UP', text });
    r.outcomes.push({ rule: id, outcome: 'deny', detail: text });
  };

  for (const t of facts.tablesRead) {
    const level = principal.tableLabel(t);
    if (level > clearance && !principal.explicitTableGrant(t, 'select')) {
      deny(`table ${showTable(d, t)} (label ${level}) is above your clearance ${clearance}`);
    }
  }
  const { columns, unexpandedWholeRows } = columnAccesses(facts, context);
  let masked = 0;
  const granted = new Set<string>();
  for (const a of columns) {
    if (freelyReadable(d, a.column)) continue;
    const level = principal.columnLabel(a.column);
    if (level <= clearance) continue;
    if (principal.explicitColumnGrant(a.column, 'select')) {
      granted.add(`${showColumn(d, a.column)} (label ${level})`);
      continue;
    }
    if (a.bare && principal.mask(a.column)) { masked++; continue; }
    const where = a.place === 'output' ? '' : ` (read in ${placeWords(a.place)})`;
    deny(`column ${showColumn(d, a.column)} (label ${level}) is above your clearance ${clearance}${where}`);
  }
  for (const { table } of unexpandedWholeRows) {
    for (const l of principal.columnLabelsOf(table)) {
      if (l.level > clearance && !(l.column !== '*' && principal.explicitColumnGrant({ ...table, column: l.column }, 'select'))) {
        deny(`a whole-row reference to ${showTable(d, table)} reads column ${l.column} (label ${l.level}), above your clearance ${clearance}`);
      }
    }
  }
  if (!principal.definition.trusted) {
    for (const c of allWrites(facts).flatMap((w) => w.columns)) {
      const level = principal.columnLabel(c);
      if (level > clearance) {
        deny(`column ${showColumn(d, c)} (label ${level}) is above your clearance ${clearance}; only trusted users may write it`);
      }
    }
  }
  if (r.refusals.length === 0) {
    const why = [
      ...(granted.size > 0 ? [`above clearance ${clearance} but explicitly granted: ${[...granted].join(', ')}`] : []),
      ...(masked > 0 ? [`${masked} labelled bare output(s) left to masking`] : []),
    ];
    r.outcomes.push({ rule: id, outcome: 'allow', detail: why.length > 0 ? why.join('; ') : `nothing read above clearance ${clearance}` });
  }
  return r;
}
