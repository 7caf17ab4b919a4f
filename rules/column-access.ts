/**
 * One flat list of every column a statement reads, shared by column-acl,
 * label-no-read-up and masking so the three agree on what "bare" means.
 *
 * An output is bare (maskable) only when its value reaches the client
 * unchanged. Outputs that land in a variable (SET @x := (SELECT ...),
 * SELECT ... INTO), a file (INTO OUTFILE, COPY ... TO) or a COPY stream
 * cannot be masked on the wire, so they count as reads in an expression; so
 * do a BINARY cursor's. A text cursor's rows are masked when FETCH returns
 * them (the PostgreSQL door keeps each cursor's masks by name).
 */
import type { ColumnId, ReadPlace, StatementFacts, TableId } from '../governance/facts.js';
import type { RuleContext } from './rule.js';

export interface ColumnAccess {
  readonly column: ColumnId;
  /** True only for a bare pass-through output the endpoint can mask. */
  readonly bare: boolean;
  /** 'output' for outputs, else where the column is read. */
  readonly place: ReadPlace | 'output';
  /** Output index for outputs. */
  readonly index: number | undefined;
}

const UNMASKABLE_DYNAMIC = new Set(['set-variable-from-query', 'into-outfile', 'copy-to-file', 'copy-program']);

/** Outputs of this statement reach the client as result rows the endpoint can rewrite. */
export function outputsMaskable(facts: StatementFacts): boolean {
  if (facts.kind === 'copy') return false;
  if (facts.verb === 'declare_binary_cursor') return false;
  return !facts.dynamic.some((d) => UNMASKABLE_DYNAMIC.has(d.kind));
}

/** Whole-row reads the catalog could not expand: judged by table-wide rules. */
export interface WholeRowAccess {
  readonly table: TableId;
}

export interface Accesses {
  readonly columns: readonly ColumnAccess[];
  readonly unexpandedWholeRows: readonly WholeRowAccess[];
}

const cache = new WeakMap<StatementFacts, Accesses>();

export function columnAccesses(facts: StatementFacts, context: RuleContext): Accesses {
  const hit = cache.get(facts);
  if (hit && !context.tableColumns) return hit;
  const maskable = outputsMaskable(facts);
  const columns: ColumnAccess[] = [];
  for (const out of facts.outputs) {
    for (const s of out.sources) {
      columns.push({ column: s.column, bare: s.bare && maskable, place: s.bare ? 'output' : 'output-expression', index: out.index });
    }
  }
  for (const read of facts.reads) columns.push({ column: read.column, bare: false, place: read.place, index: undefined });
  const unexpanded: WholeRowAccess[] = [];
  for (const t of facts.wholeRows) {
    const names = context.tableColumns?.(t);
    if (names && names.length > 0) {
      for (const column of names) columns.push({ column: { ...t, column }, bare: false, place: 'whole-row', index: undefined });
    } else {
      unexpanded.push({ table: t });
    }
  }
  const acc = { columns, unexpandedWholeRows: unexpanded };
  if (!context.tableColumns) cache.set(facts, acc);
  return acc;
}

/** Human words for a read place, for messages. */
export function placeWords(place: ReadPlace | 'output'): string {
  switch (place) {
    case 'output': return 'the select list';
    case 'output-expression': return 'an expression in the select list';
    case 'where': return 'WHERE';
    case 'join': return 'a JOIN condition';
    case 'group-by': return 'GROUP BY';
    case 'having': return 'HAVING';
    case 'order-by': return 'ORDER BY';
    case 'window': return 'a window clause';
    case 'function-arg': return 'a function argument';
    case 'aggregate': return 'an aggregate';
    case 'subquery': return 'a subquery';
    case 'whole-row': return 'a whole-row reference';
    case 'set': return 'a value being written';
    case 'returning': return 'RETURNING';
    case 'ddl': return 'a schema change, which can move or expose the columns of the tables it reaches';
    default: return 'the statement';
  }
}
