/**
 * masking: a column a masking rule covers for this user may reach the client
 * only as a bare output, and is then masked on the wire at its output
 * position. Anywhere else — a predicate, an expression, an aggregate, a
 * whole-row reference, a value copied into a table or variable — it is
 * refused, or the predicate would answer what the mask hides (DESIGN.md
 * decision 3).
 */
import type { MaskDirective } from '../governance/decision.js';
import type { Mask } from './policy-schema.js';
import { columnAccesses, placeWords } from './column-access.js';
import { showColumn, showTable } from './principal.js';
import { result, type RuleInput, type RuleResult } from './rule.js';

export const id = 'masking';

const STRENGTH: Record<Mask['kind'], number> = { partial: 0, alias: 1, hash: 2, null: 3 };

/** Two masks land on one output (UNION branches): keep the stronger, the tighter partial. */
function merge(a: MaskDirective, b: MaskDirective): MaskDirective {
  if (STRENGTH[a.kind] !== STRENGTH[b.kind]) return STRENGTH[a.kind] > STRENGTH[b.kind] ? a : b;
  if (a.kind === 'partial') return { ...a, keepFirst: Math.min(a.keepFirst, b.keepFirst), keepLast: Math.min(a.keepLast, b.keepLast) };
  return a;
}

export function check({ facts, principal, context }: RuleInput): RuleResult {
  const r = result();
  const d = facts.dialect;
  const byIndex = new Map<number, MaskDirective>();
  const seen = new Set<string>();
  const { columns, unexpandedWholeRows } = columnAccesses(facts, context);
  for (const a of columns) {
    const m = principal.mask(a.column);
    if (!m) continue;
    if (a.bare && a.index !== undefined) {
      const dir: MaskDirective = {
        index: a.index, kind: m.kind, keepFirst: m.keep_first, keepLast: m.keep_last, maskChar: m.mask_char, alias: m.alias,
        column: { database: a.column.database, schema: a.column.schema, table: a.column.table, column: a.column.column }, rule: id,
      };
      const prev = byIndex.get(a.index);
      byIndex.set(a.index, prev ? merge(prev, dir) : dir);
      continue;
    }
    const text = `masked column ${showColumn(d, a.column)} may only be selected as a plain column, not read in ${placeWords(a.place)}`;
    if (seen.has(text)) continue;
    seen.add(text);
    r.refusals.push({ rule: id, code: 'COLUMN_ACCESS_DENIED', text });
    r.outcomes.push({ rule: id, outcome: 'deny', detail: text });
  }
  for (const { table } of unexpandedWholeRows) {
    if (principal.masksTable(table)) {
      const text = `a whole-row reference to ${showTable(d, table)} would read masked columns`;
      r.refusals.push({ rule: id, code: 'COLUMN_ACCESS_DENIED', text });
      r.outcomes.push({ rule: id, outcome: 'deny', detail: text });
    }
  }
  const masks = [...byIndex.values()].sort((a, b) => a.index - b.index);
  // An output that mixes a masked and an unmasked bare source (UNION) is masked whole: the directive is per position.
  for (const m of masks) r.outcomes.push({ rule: id, outcome: 'mask', detail: `output ${m.index} (${showColumn(d, m.column)}) masked: ${m.kind}` });
  if (masks.length === 0 && r.refusals.length === 0) r.outcomes.push({ rule: id, outcome: 'allow', detail: 'no masked column read' });
  return { outcomes: r.outcomes, refusals: r.refusals, masks };
}
