/** Hand-built StatementFacts for rule/engine unit tests (no analysis involved). */
import type { ColumnId, StatementFacts, TableId, WriteFacts } from '../../../governance/facts.js';

export function table(name: string, dialect: 'mysql' | 'postgres' = 'mysql'): TableId {
  return dialect === 'mysql' ? { database: 'shop', schema: 'shop', table: name } : { database: 'shop', schema: 'public', table: name };
}

export function col(t: string, c: string, dialect: 'mysql' | 'postgres' = 'mysql'): ColumnId {
  return { ...table(t, dialect), column: c };
}

export function facts(p: Partial<StatementFacts> & { outputsOf?: (ColumnId | [ColumnId, boolean])[] }): StatementFacts {
  const outputs = p.outputs ?? (p.outputsOf ?? []).map((o, index) => {
    const [column, bare] = Array.isArray(o) ? o : [o, true];
    return { index, name: column.column, sources: [{ column, bare }] };
  });
  const base: StatementFacts = {
    dialect: 'mysql', kind: 'select', verb: 'select', text: '', fingerprint: '',
    tablesRead: [], outputs, reads: [], wholeRows: [], write: undefined, ddlTargets: [], dynamic: [], hints: [],
    sessionChange: undefined, unresolved: undefined,
  };
  const { outputsOf: _o, ...rest } = p;
  return { ...base, ...rest, outputs };
}

export function write(target: TableId, p: Partial<WriteFacts> = {}): WriteFacts {
  return { kind: p.truncate ? 'truncate' : p.columns?.length ? 'update' : 'delete', target, columns: [], truncate: false, hasWhere: true, hasLimit: false, alwaysTrue: false, whereTouchesTarget: true, ...p };
}
