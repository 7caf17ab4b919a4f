/**
 * PostgreSQL front end: libpg-query (the server's own grammar, compiled to
 * WebAssembly) parses; this module lowers its JSON parse tree into the IR.
 * Unquoted identifiers arrive already folded to lower case by the parser.
 * Node reference: https://github.com/pganalyze/libpg_query (pg_query.proto).
 */
import { loadModule, parseSync, fingerprintSync, scanSync } from 'libpg-query';
import type { DynamicFacts, Hint, SessionChange, SettingValue } from '../facts.js';
import type { Assignment, Cte, Expr, FromItem, Lowered, OrderItem, QName, Query, RelStmt, Target, With, WriteStmt } from './ir.js';
import { lowered, readOf } from './ir.js';
import { parseHint } from './hints.js';
import { pgDigest, type PgDigest } from './pg-digest.js';
import { hash } from 'node:crypto';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Node = any;

let loaded = false;

/** libpg-query's WebAssembly module must be loaded once before `analyze`. */
export async function initPg(): Promise<void> {
  if (loaded) return;
  await loadModule();
  loaded = true;
}

export function pgReady(): boolean {
  return loaded;
}

/** One statement of a PostgreSQL message. */
export interface PgPiece {
  readonly text: string;
  readonly ast: Node | undefined;
  readonly error?: string;
  /** The text from the end of the previous statement: leading comments (hints) included. */
  readonly hintText?: string;
}

/** Splits and parses a message; statements that fail to parse come back with `error`. */
export function pgParse(sql: string): PgPiece[] {
  try {
    return pieces(sql, parseSync(sql).stmts ?? []);
  } catch (err) {
    // One bad statement spoils the whole parse: split on top-level `;` with
    // the server's own scanner and parse each piece alone.
    let tokens: { start: number; end: number; tokenName: string }[];
    try {
      tokens = scanSync(sql).tokens;
    } catch {
      return [{ text: sql.trim(), ast: undefined, error: (err as Error).message }];
    }
    const buf = Buffer.from(sql, 'utf8');
    const out: PgPiece[] = [];
    let start = 0;
    const flush = (end: number) => {
      const text = buf.subarray(start, end).toString('utf8').trim();
      if (text) {
        try {
          const stmts = parseSync(text).stmts ?? [];
          for (const p of pieces(text, stmts)) out.push(p);
        } catch (e) {
          out.push({ text, ast: undefined, error: (e as Error).message });
        }
      }
    };
    for (const t of tokens) {
      if (t.tokenName === 'ASCII_59') { flush(t.start); start = t.end; }
    }
    flush(buf.length);
    return out;
  }
}

function pieces(sql: string, stmts: Node[]): PgPiece[] {
  const buf = Buffer.from(sql, 'utf8');
  let prevEnd = 0;
  return stmts.map((s: Node) => {
    const from = s.stmt_location ?? 0;
    const to = s.stmt_len ? from + s.stmt_len : buf.length;
    const hintText = buf.subarray(prevEnd, to).toString('utf8');
    prevEnd = to;
    return { text: buf.subarray(from, to).toString('utf8').trim(), ast: s.stmt, hintText };
  });
}

/**
 * The statement's shape id: the same for texts that differ only in literal
 * values. From the digest lexer when it reads the statement (about a
 * microsecond); libpg-query's fingerprint, which parses the text a second
 * time (10–20 µs), only for what the lexer declines.
 */
export function pgFingerprint(text: string, known?: PgDigest): string {
  // The cached path has digested the message already: no second pass.
  const d = known?.text === text ? known : pgDigest(text);
  if (d) return hash('sha256', d.digest, 'hex').slice(0, 16);
  try {
    return fingerprintSync(text);
  } catch {
    return '';
  }
}

/** `/*+ sqlgate:skip(rule) *\/` comments, found with the server's scanner so that strings are never mistaken for comments. */
export function pgHints(text: string): Hint[] {
  const out: Hint[] = [];
  // Scanning costs as much as parsing: only when a hint could be there.
  if (!text.includes('sqlgate:')) return out;
  try {
    for (const t of scanSync(text).tokens) {
      if (t.tokenName === 'C_COMMENT') out.push(...parseHint(t.text));
    }
  } catch { /* unscannable text is refused elsewhere */ }
  return out;
}

function unwrap(n: Node): [string, Node] {
  if (!n || typeof n !== 'object') return ['', n];
  const k = Object.keys(n)[0];
  return [k, n[k]];
}

function str(n: Node): string {
  const [t, v] = unwrap(n);
  if (t === 'String') return v.sval ?? '';
  if (t === 'A_Star') return '*';
  return '';
}

function list(n: Node): Node[] {
  if (!n) return [];
  if (Array.isArray(n)) return n;
  const [t, v] = unwrap(n);
  if (t === 'List') return v.items ?? [];
  return [n];
}

const AGGREGATES = new Set(['count', 'sum', 'avg', 'min', 'max', 'array_agg', 'string_agg', 'json_agg', 'jsonb_agg', 'json_object_agg', 'jsonb_object_agg',
  'bool_and', 'bool_or', 'every', 'bit_and', 'bit_or', 'bit_xor', 'stddev', 'stddev_pop', 'stddev_samp', 'variance', 'var_pop', 'var_samp',
  'percentile_cont', 'percentile_disc', 'mode', 'xmlagg', 'corr', 'covar_pop', 'covar_samp', 'range_agg', 'range_intersect_agg']);

// ---------------------------------------------------------------- expressions

function expr(n: Node): Expr {
  if (n === null || n === undefined) return { kind: 'other', args: [] };
  const [t, v] = unwrap(n);
  switch (t) {
    case 'ColumnRef': {
      const fields = (v.fields ?? []).map(str);
      if (fields[fields.length - 1] === '*') return { kind: 'star', path: fields.slice(0, -1) };
      return { kind: 'column', path: fields };
    }
    case 'A_Const':
      if (v.isnull) return { kind: 'literal', value: null };
      if (v.boolval !== undefined) return { kind: 'literal', value: v.boolval.boolval === true };
      // ORDER BY 1 / GROUP BY 1 name an output by position.
      if (v.ival !== undefined) return { kind: 'literal', ordinal: Number(v.ival.ival ?? 0) };
      return { kind: 'literal' };
    case 'ParamRef': return { kind: 'param' };
    case 'A_Expr': {
      const op = aexprOp(v);
      const args: Expr[] = [];
      if (v.lexpr) args.push(...list(v.lexpr).map(expr));
      if (v.rexpr) args.push(...list(v.rexpr).map(expr));
      return { kind: 'op', op, args };
    }
    case 'BoolExpr':
      return { kind: 'op', op: v.boolop === 'AND_EXPR' ? 'AND' : v.boolop === 'OR_EXPR' ? 'OR' : 'NOT', args: (v.args ?? []).map(expr) };
    case 'NullTest':
      return { kind: 'op', op: v.nulltesttype === 'IS_NULL' ? 'IS NULL' : 'IS NOT NULL', args: [expr(v.arg)] };
    case 'BooleanTest':
      return { kind: 'op', op: String(v.booltesttype ?? 'IS_TRUE').replace(/_/g, ' '), args: [expr(v.arg)] };
    case 'FuncCall': {
      const name = (v.funcname ?? []).map(str).join('.');
      const base = name.split('.').pop()!;
      const args = (v.args ?? []).map(expr);
      for (const o of v.agg_order ?? []) args.push(sortExpr(o));
      if (v.agg_filter) args.push(expr(v.agg_filter));
      const window: Expr[] = v.over ? windowExprs(v.over) : [];
      const aggregate = !!(v.agg_star || v.agg_order || v.agg_filter || v.agg_distinct || AGGREGATES.has(base));
      return { kind: 'func', name, args, aggregate, ...(v.over ? { window } : {}), ...(v.agg_star ? { star: true } : {}) };
    }
    case 'TypeCast': return { kind: 'op', op: 'CAST', args: [expr(v.arg)] };
    case 'CollateClause': return expr(v.arg);
    case 'SubLink': {
      const mode = v.subLinkType === 'EXISTS_SUBLINK' ? 'exists' : v.subLinkType === 'EXPR_SUBLINK' ? 'scalar' : v.subLinkType === 'ARRAY_SUBLINK' ? 'array' : 'in';
      return { kind: 'subquery', mode, query: query(v.subselect), ...(v.testexpr ? { lhs: expr(v.testexpr) } : {}) };
    }
    case 'CaseExpr': {
      const args: Expr[] = [];
      if (v.arg) args.push(expr(v.arg));
      for (const w of v.args ?? []) { const [, cw] = unwrap(w); args.push(expr(cw.expr), expr(cw.result)); }
      if (v.defresult) args.push(expr(v.defresult));
      return { kind: 'op', op: 'CASE', args };
    }
    case 'CoalesceExpr': return { kind: 'func', name: 'coalesce', args: (v.args ?? []).map(expr), aggregate: false };
    case 'MinMaxExpr': return { kind: 'func', name: v.op === 'IS_LEAST' ? 'least' : 'greatest', args: (v.args ?? []).map(expr), aggregate: false };
    case 'NullIfExpr': return { kind: 'func', name: 'nullif', args: (v.args ?? []).map(expr), aggregate: false };
    case 'A_Indirection': {
      let base = expr(v.arg);
      for (const ind of v.indirection ?? []) {
        const [it] = unwrap(ind);
        if (it === 'String') base = { kind: 'field', base, field: str(ind) };
        else if (it === 'A_Star') base = { kind: 'field', base, field: '*' };
        else base = { kind: 'op', op: 'SUBSCRIPT', args: [base, ...generic(ind)] };
      }
      return base;
    }
    case 'RowExpr': return { kind: 'op', op: 'ROW', args: (v.args ?? []).map(expr) };
    case 'A_ArrayExpr': return { kind: 'op', op: 'ARRAY', args: (v.elements ?? []).map(expr) };
    case 'SQLValueFunction': return { kind: 'param' };
    case 'SetToDefault': return { kind: 'other', args: [] };
    case 'SelectStmt': return { kind: 'subquery', mode: 'scalar', query: query(n) };
    case 'List': return { kind: 'other', args: list(n).map(expr) };
    default: return { kind: 'other', args: generic(n) };
  }
}

/** Unknown node: every expression found inside it, so nothing read is missed. */
function generic(n: Node): Expr[] {
  const out: Expr[] = [];
  const walk = (x: Node) => {
    if (!x || typeof x !== 'object') return;
    if (Array.isArray(x)) { x.forEach(walk); return; }
    for (const [k, v] of Object.entries(x)) {
      if (/^[A-Z]/.test(k) && v && typeof v === 'object' && !Array.isArray(v)) {
        if (k === 'String' || k === 'Integer' || k === 'Float' || k === 'Boolean' || k === 'TypeName') continue;
        out.push(expr({ [k]: v }));
      } else walk(v);
    }
  };
  const [, v] = unwrap(n);
  walk(v);
  return out;
}

function aexprOp(v: Node): string {
  const name = (v.name ?? []).map(str).join('.');
  switch (v.kind) {
    case 'AEXPR_IN': return name === '<>' ? 'NOT IN' : 'IN';
    case 'AEXPR_LIKE': return name.startsWith('!') ? 'NOT LIKE' : 'LIKE';
    case 'AEXPR_ILIKE': return name.startsWith('!') ? 'NOT ILIKE' : 'ILIKE';
    case 'AEXPR_SIMILAR': return 'SIMILAR';
    case 'AEXPR_DISTINCT': return 'IS DISTINCT FROM';
    case 'AEXPR_NOT_DISTINCT': return 'IS NOT DISTINCT FROM';
    case 'AEXPR_NULLIF': return 'NULLIF';
    case 'AEXPR_OP_ANY': return `${name} ANY`;
    case 'AEXPR_OP_ALL': return `${name} ALL`;
    case 'AEXPR_OP': return name;
    default: return String(v.kind ?? 'OP').replace('AEXPR_', '');
  }
}

function sortExpr(n: Node): Expr {
  const [t, v] = unwrap(n);
  return t === 'SortBy' ? expr(v.node) : expr(n);
}

function windowExprs(w: Node): Expr[] {
  const def = w.WindowDef ?? w;
  return [...(def.partitionClause ?? []).map(expr), ...(def.orderClause ?? []).map(sortExpr)];
}

// ---------------------------------------------------------------- queries

function withClause(w: Node): With | undefined {
  if (!w) return undefined;
  const ctes: Cte[] = (w.ctes ?? []).map((c: Node) => {
    const [, cte] = unwrap(c);
    const body = relOf(cte.ctequery);
    return {
      name: cte.ctename,
      ...(cte.aliascolnames ? { columns: cte.aliascolnames.map(str) } : {}),
      body: body && body.kind === 'query' ? body.query : (body as WriteStmt | undefined) ?? { kind: 'values', rows: [] },
    };
  });
  return { recursive: !!w.recursive, ctes };
}

function targets(list_: Node[] | undefined): Target[] {
  return (list_ ?? []).map((rt: Node) => {
    const [, r] = unwrap(rt);
    return { expr: expr(r.val), ...(r.name !== undefined ? { alias: r.name } : {}) };
  });
}

export function query(n: Node): Query {
  const [t, v] = unwrap(n);
  if (t !== 'SelectStmt') return { kind: 'values', rows: [[{ kind: 'other', args: generic(n) }]] };
  const w = withClause(v.withClause);
  const orderBy: OrderItem[] = (v.sortClause ?? []).map((s: Node) => ({ expr: sortExpr(s) }));
  const limit = !!(v.limitCount || v.limitOffset);
  const limitExprs: Expr[] = [v.limitCount, v.limitOffset].filter(Boolean).map(expr).filter((e) => e.kind !== 'literal' && e.kind !== 'param');
  if (v.op && v.op !== 'SETOP_NONE') {
    return {
      kind: 'setop', op: v.op.replace('SETOP_', '').toLowerCase() + (v.all ? ' all' : ''),
      ...(w ? { with: w } : {}),
      left: query({ SelectStmt: v.larg }), right: query({ SelectStmt: v.rarg }), orderBy, limit,
      ...(limitExprs.length ? { limitExprs } : {}),
    };
  }
  if (v.valuesLists) {
    const values: Query = { kind: 'values', rows: v.valuesLists.map((row: Node) => list(row).map(expr)) };
    return w ? { kind: 'setop', op: 'values', with: w, left: values, right: { kind: 'values', rows: [] }, orderBy, limit } : values;
  }
  const distinct = (v.distinctClause ?? []).filter((d: Node) => d && Object.keys(d).length > 0).map(expr);
  const windows = (v.windowClause ?? []).flatMap((wd: Node) => windowExprs(wd));
  return {
    kind: 'select',
    ...(w ? { with: w } : {}),
    ...(distinct.length ? { distinctOn: distinct } : v.distinctClause ? { distinct: true } : {}),
    targets: targets(v.targetList),
    from: (v.fromClause ?? []).map(fromItem),
    ...(v.whereClause ? { where: expr(v.whereClause) } : {}),
    groupBy: (v.groupClause ?? []).map(expr),
    ...(v.havingClause ? { having: expr(v.havingClause) } : {}),
    windows,
    orderBy,
    limit,
    ...(limitExprs.length ? { limitExprs } : {}),
    ...(v.intoClause ? { into: 'table' as const } : {}),
  };
}

function qname(rv: Node): QName {
  return {
    ...(rv.catalogname ? { database: rv.catalogname } : {}),
    ...(rv.schemaname ? { schema: rv.schemaname } : {}),
    name: rv.relname,
  };
}

function aliasOf(a: Node): { alias?: string; columnAliases?: string[] } {
  if (!a) return {};
  return { alias: a.aliasname, ...(a.colnames ? { columnAliases: a.colnames.map(str) } : {}) };
}

function fromItem(n: Node): FromItem {
  const [t, v] = unwrap(n);
  switch (t) {
    case 'RangeVar': return { kind: 'table', name: qname(v), ...aliasOf(v.alias) };
    case 'RangeSubselect': return { kind: 'derived', query: query(v.subquery), lateral: !!v.lateral, ...aliasOf(v.alias) };
    case 'RangeFunction': {
      const calls: Expr[] = (v.functions ?? []).flatMap((f: Node) => list(f).slice(0, 1).map(expr));
      const func: Expr = calls.length === 1 ? calls[0] : { kind: 'other', args: calls };
      const a = aliasOf(v.alias);
      const coldefs: string[] = (v.coldeflist ?? []).map((c: Node) => unwrap(c)[1].colname).filter(Boolean);
      return { kind: 'function', func, ...a, ...(coldefs.length && !a.columnAliases ? { columnAliases: coldefs } : {}) };
    }
    case 'JoinExpr':
      return {
        kind: 'join', left: fromItem(v.larg), right: fromItem(v.rarg), natural: !!v.isNatural,
        ...(v.quals ? { on: expr(v.quals) } : {}),
        ...(v.usingClause ? { using: v.usingClause.map(str) } : {}),
      };
    case 'RangeTableSample': return fromItem(v.relation);
    default: return { kind: 'function', func: { kind: 'other', args: generic(n) }, alias: `?${t}` };
  }
}

function assignments(list_: Node[] | undefined): Assignment[] {
  return (list_ ?? []).map((rt: Node) => {
    const [, r] = unwrap(rt);
    let value: Expr = expr(r.val);
    const [vt, vv] = unwrap(r.val);
    if (vt === 'MultiAssignRef') value = expr(vv.source);
    return { column: r.name, value };
  });
}

function returning(v: Node): Target[] {
  const r = v.returningClause?.exprs ?? v.returningList;
  return targets(r);
}

/** The relational part of a statement node, if any. */
function relOf(n: Node): RelStmt | WriteStmt | undefined {
  const [t, v] = unwrap(n);
  const w = withClause(v?.withClause);
  switch (t) {
    case 'SelectStmt': return { kind: 'query', query: query(n) };
    case 'InsertStmt': {
      const oc = v.onConflictClause;
      return {
        kind: 'insert', ...(w ? { with: w } : {}), target: qname(v.relation),
        ...(v.relation.alias ? { alias: v.relation.alias.aliasname } : {}),
        ...(v.cols ? { columns: v.cols.map((c: Node) => unwrap(c)[1].name) } : {}),
        ...(v.selectStmt ? { source: query(v.selectStmt) } : {}),
        ...(oc && (oc.action === 'ONCONFLICT_UPDATE' || oc.infer?.whereClause) ? { upsert: {
          sets: oc.action === 'ONCONFLICT_UPDATE' ? assignments(oc.targetList) : [],
          ...(oc.whereClause || oc.infer?.whereClause ? { where: { kind: 'op', op: 'AND', args: [oc.whereClause, oc.infer?.whereClause].filter(Boolean).map(expr) } as Expr } : {}),
        } } : {}),
        returning: returning(v), replace: false,
      };
    }
    case 'UpdateStmt':
      return {
        kind: 'update', ...(w ? { with: w } : {}),
        tables: [{ kind: 'table', name: qname(v.relation), ...aliasOf(v.relation.alias) }],
        from: (v.fromClause ?? []).map(fromItem), sets: assignments(v.targetList),
        ...(v.whereClause ? { where: expr(v.whereClause) } : {}),
        orderBy: [], limit: false, returning: returning(v),
      };
    case 'DeleteStmt': {
      const target: FromItem = { kind: 'table', name: qname(v.relation), ...aliasOf(v.relation.alias) };
      const name: QName = v.relation.alias ? { name: v.relation.alias.aliasname } : qname(v.relation);
      return {
        kind: 'delete', ...(w ? { with: w } : {}), targets: [name],
        from: [target, ...(v.usingClause ?? []).map(fromItem)],
        ...(v.whereClause ? { where: expr(v.whereClause) } : {}),
        orderBy: [], limit: false, returning: returning(v),
      };
    }
    case 'MergeStmt': {
      const sets: Assignment[] = [];
      const insertColumns: string[] = [];
      const insertValues: Expr[] = [];
      const conditions: Expr[] = [];
      let deletes = false;
      for (const c of v.mergeWhenClauses ?? []) {
        const [, m] = unwrap(c);
        if (m.condition) conditions.push(expr(m.condition));
        if (m.commandType === 'CMD_UPDATE') sets.push(...assignments(m.targetList));
        if (m.commandType === 'CMD_DELETE') deletes = true;
        if (m.commandType === 'CMD_INSERT') {
          insertColumns.push(...(m.targetList ?? []).map((rt: Node) => unwrap(rt)[1].name));
          insertValues.push(...(m.values ?? []).map(expr));
        }
      }
      return {
        kind: 'merge', ...(w ? { with: w } : {}),
        target: { kind: 'table', name: qname(v.relation), ...aliasOf(v.relation.alias) },
        source: fromItem(v.sourceRelation), on: expr(v.joinCondition),
        sets, insertColumns, insertValues, conditions, deletes,
      };
    }
    default: return undefined;
  }
}

/** Object types whose AlterTableStmt / SET SCHEMA works on a relation with columns. */
const RELATIONS = new Set(['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_FOREIGN_TABLE']);

/**
 * The relations a CREATE or ALTER TABLE reaches besides `own` (the table it
 * creates): each becomes a DDL target read whole (INHERIT, ATTACH PARTITION,
 * PARTITION OF, the altered table itself), except a foreign key's table,
 * whose checked columns are read. LIKE copies a definition only.
 */
function reaches(stmt: Node, own: Node | undefined): { targets: QName[]; reads: Query[] } {
  const targets: QName[] = [];
  const reads: Query[] = [];
  const walk = (n: Node, depth: number): void => {
    if (!n || typeof n !== 'object' || depth > 200) return;
    if (Array.isArray(n)) { for (const x of n) walk(x, depth + 1); return; }
    if (n.TableLikeClause) return;
    if (n.contype === 'CONSTR_FOREIGN' && n.pktable) {
      reads.push(readOf(qname(n.pktable), (n.pk_attrs ?? []).map(str)));
      return;
    }
    if (typeof n.relname === 'string' && n !== own) {
      targets.push(qname(n));
      reads.push(readOf(qname(n)));
      return;
    }
    for (const k in n) walk(n[k], depth + 1);
  };
  walk(stmt, 0);
  return { targets, reads };
}

const TXN: Record<string, string> = {
  TRANS_STMT_BEGIN: 'begin', TRANS_STMT_START: 'begin', TRANS_STMT_COMMIT: 'commit', TRANS_STMT_ROLLBACK: 'rollback',
  TRANS_STMT_SAVEPOINT: 'savepoint', TRANS_STMT_RELEASE: 'release', TRANS_STMT_ROLLBACK_TO: 'rollback_to',
  TRANS_STMT_PREPARE: 'prepare_transaction', TRANS_STMT_COMMIT_PREPARED: 'commit_prepared', TRANS_STMT_ROLLBACK_PREPARED: 'rollback_prepared',
};

function snake(t: string): string {
  return t.replace(/Stmt$/, '').replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
}

/**
 * `SELECT [pg_catalog.]set_config('name', value, is_local)` alone, as pg_dump
 * files begin (search_path '') and applications set their own settings for
 * row security (`set_config('app.tenant', $1, true)`): with a constant name
 * and is_local it is a SET, judged as one. Anywhere else set_config stays an
 * untrusted function.
 */
function setConfigCall(v: Node): { value: Node; change: Pick<Lowered, 'settings' | 'sessionChange' | 'unresolved'> } | undefined {
  if (v.fromClause || v.whereClause || v.groupClause || v.havingClause || v.withClause || v.op !== 'SETOP_NONE' || v.targetList?.length !== 1) return undefined;
  const [t, call] = unwrap(v.targetList[0].ResTarget?.val);
  if (t !== 'FuncCall' || call.args?.length !== 3 || call.over || call.agg_star || call.agg_distinct) return undefined;
  const fname = (call.funcname ?? []).map(str).join('.').toLowerCase();
  if (fname !== 'set_config' && fname !== 'pg_catalog.set_config') return undefined;
  const name = constString(call.args[0]);
  const local = constString(call.args[2]);
  if (name === undefined || local === undefined) return undefined;
  const value = call.args[1];
  const constant = constString(value);
  const setting: SettingValue = constant !== undefined ? { kind: 'constant', text: constant, quoted: true } : { kind: 'expression', text: 'a value computed when it runs' };
  const lname = name.toLowerCase();
  const change: Pick<Lowered, 'settings' | 'sessionChange' | 'unresolved'> = { settings: [{ name: lname, scope: 'session', value: setting }] };
  if (lname !== 'search_path') return { value, change: { ...change, sessionChange: { kind: 'setting', name: lname, value: constant } } };
  const schemas = constant === undefined ? undefined : searchPathList(constant);
  if (!schemas) return { value, change: { ...change, unresolved: { code: 'UNTRACKED_SETTING', message: 'search_path set in a way sqlgate cannot follow' } } };
  return { value, change: { ...change, sessionChange: { kind: 'search-path', schemas, local: local === 'true' || local === 't' } } };
}

/** `a, "B c"` as search_path's text gives it; undefined for what sqlgate will not guess at. */
function searchPathList(text: string): string[] | undefined {
  if (text.trim() === '') return [];
  const out: string[] = [];
  for (const part of text.split(',')) {
    const p = part.trim();
    const quoted = /^"((?:[^"]|"")+)"$/.exec(p);
    if (quoted) out.push(quoted[1].replace(/""/g, '"'));
    else if (/^[A-Za-z_][A-Za-z0-9_$]*$/.test(p)) out.push(p.toLowerCase());
    else return undefined;
  }
  return out;
}

function constString(n: Node): string | undefined {
  const [t, v] = unwrap(n);
  if (t === 'A_Const') return v.sval?.sval ?? (v.ival ? String(v.ival.ival ?? 0) : v.fval?.fval ?? (v.boolval ? String(v.boolval.boolval === true) : undefined));
  if (t === 'String') return v.sval;
  if (t === 'TypeCast') return constString(v.arg);
  return undefined;
}

/** Lowers one parsed PostgreSQL statement. */
export function lowerPg(ast: Node): Lowered {
  const [t, v] = unwrap(ast);
  switch (t) {
    case 'SelectStmt': {
      const q = query(ast);
      if (v.intoClause) {
        return lowered('ddl', 'create_table_as', { sideQueries: [q], ddlTargets: [qname(v.intoClause.rel)] });
      }
      const sc = setConfigCall(v);
      if (sc && q.kind === 'select') {
        // Its one output is the value it set: lineage of the value argument.
        const target = { ...q.targets[0], expr: { kind: 'func' as const, name: 'coalesce', args: [expr(sc.value)], aggregate: false } };
        return lowered('select', 'set_config', { rel: { kind: 'query', query: { ...q, targets: [target] } }, returnsRows: true, ...sc.change });
      }
      return lowered('select', 'select', { rel: { kind: 'query', query: q }, returnsRows: true });
    }
    case 'InsertStmt': case 'UpdateStmt': case 'DeleteStmt': case 'MergeStmt': {
      const rel = relOf(ast) as RelStmt;
      const kind = t === 'InsertStmt' ? 'insert' : t === 'UpdateStmt' ? 'update' : t === 'DeleteStmt' ? 'delete' : 'merge';
      return lowered(kind, kind, { rel, returnsRows: returning(v).length > 0 });
    }
    case 'ExplainStmt': {
      const analyze = (v.options ?? []).some((o: Node) => {
        const [, d] = unwrap(o);
        return d.defname === 'analyze' && (d.arg === undefined || constString(d.arg) !== 'false');
      });
      const inner = lowerPg(v.query);
      // EXPLAIN ANALYZE runs the statement: its writes are real.
      return lowered('explain', analyze ? `explain_analyze_${inner.verb}` : 'explain', {
        ...(inner.rel ? { rel: inner.rel } : {}), sideQueries: inner.sideQueries, dynamic: inner.dynamic,
        ddlTargets: analyze ? inner.ddlTargets : [], explainOnly: !analyze,
      });
    }
    case 'CreateStmt': {
      // INHERITS (t) and PARTITION OF t join the new table to t; REFERENCES checks t's columns.
      const x = reaches(v, v.relation);
      const plain = !v.inhRelations?.length && !v.partbound && !v.ofTypename && (v.tableElts ?? []).every((e: Node) => 'ColumnDef' in e || 'Constraint' in e);
      const columns = plain ? (v.tableElts ?? []).filter((e: Node) => 'ColumnDef' in e).map((e: Node) => e.ColumnDef.colname as string) : undefined;
      return lowered('ddl', 'create_table', {
        ddlTargets: [qname(v.relation), ...x.targets], ddlReads: x.reads,
        ...(v.if_not_exists ? {} : { creates: qname(v.relation), ...(columns ? { createsColumns: columns } : {}) }),
      });
    }
    case 'CreateTableAsStmt': {
      const [it] = unwrap(v.query);
      const inner = it === 'SelectStmt' ? [query(v.query)] : [];
      return lowered('ddl', v.objtype === 'OBJECT_MATVIEW' ? 'create_materialized_view' : 'create_table_as', { sideQueries: inner, ddlTargets: [qname(v.into.rel)] });
    }
    case 'ViewStmt': return lowered('ddl', 'create_view', { sideQueries: [query(v.query)], ddlTargets: [qname(v.view)] });
    case 'AlterTableStmt': {
      if (!RELATIONS.has(v.objtype)) return lowered('ddl', 'alter_table', { ddlTargets: [qname(v.relation)] });
      const x = reaches(v, undefined);
      return lowered('ddl', 'alter_table', { ddlTargets: x.targets, ddlReads: x.reads });
    }
    case 'IndexStmt': return lowered('ddl', 'create_index', { ddlTargets: [qname(v.relation)], ddlReads: [readOf(qname(v.relation))] });
    case 'RenameStmt': {
      if (!v.relation) return lowered('ddl', 'rename');
      // Renaming a column, a constraint or the table itself; an index or a sequence has no columns to move.
      const relation = !['OBJECT_INDEX', 'OBJECT_SEQUENCE'].includes(v.renameType);
      return lowered('ddl', 'rename', { ddlTargets: [qname(v.relation)], ...(relation ? { ddlReads: [readOf(qname(v.relation))] } : {}) });
    }
    case 'AlterObjectSchemaStmt': {
      if (!v.relation || !RELATIONS.has(v.objectType)) return lowered('ddl', 'alter_object_schema');
      return lowered('ddl', 'alter_object_schema', { ddlTargets: [qname(v.relation)], ddlReads: [readOf(qname(v.relation))] });
    }
    case 'CreateTrigStmt': return lowered('ddl', 'create_trig', { ddlTargets: [qname(v.relation)], ddlReads: [readOf(qname(v.relation))] });
    case 'CreatePolicyStmt': case 'AlterPolicyStmt':
      return lowered('ddl', snake(t), { ddlTargets: [qname(v.table)], ddlReads: [readOf(qname(v.table))] });
    case 'CreateStatsStmt': {
      const names: QName[] = (v.relations ?? []).map((r: Node) => qname(unwrap(r)[1]));
      return lowered('ddl', 'create_stats', { ddlTargets: names, ddlReads: names.map((n) => readOf(n)) });
    }
    case 'DropStmt': {
      const tableLike = ['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_FOREIGN_TABLE', 'OBJECT_INDEX', 'OBJECT_SEQUENCE'].includes(v.removeType);
      const targets: QName[] = tableLike ? (v.objects ?? []).map((o: Node) => {
        const parts = list(o).map(str);
        return parts.length === 1 ? { name: parts[0] } : parts.length === 2 ? { schema: parts[0], name: parts[1] } : { database: parts[0], schema: parts[1], name: parts[2] };
      }) : [];
      return lowered('ddl', `drop_${String(v.removeType ?? 'object').replace('OBJECT_', '').toLowerCase()}`, { ddlTargets: targets });
    }
    case 'TruncateStmt': {
      const names: QName[] = (v.relations ?? []).map((r: Node) => qname(unwrap(r)[1]));
      return lowered('ddl', 'truncate', { rel: { kind: 'truncate', targets: names }, ddlTargets: names });
    }
    case 'GrantStmt': case 'GrantRoleStmt': return lowered('grant', v.is_grant ? 'grant' : 'revoke');
    case 'TransactionStmt': return lowered('transaction', TXN[v.kind] ?? 'transaction');
    case 'VariableSetStmt': return lowerSet(v);
    case 'VariableShowStmt': return lowered('show', 'show');
    case 'DiscardStmt': return lowered('set', 'discard', { sessionChange: { kind: 'reset-search-path' } });
    case 'CallStmt': {
      const name = (v.funccall.funcname ?? []).map(str).join('.');
      return lowered('call', 'call', { dynamic: [{ kind: 'call', name }], exprs: (v.funccall.args ?? []).map(expr) });
    }
    case 'DoStmt': {
      const body = (v.args ?? []).map((a: Node) => constString(unwrap(a)[1].arg) ?? '').join(' ');
      const dynamic: DynamicFacts[] = [{ kind: 'do-block' }];
      if (/\bEXECUTE\b/i.test(body)) dynamic.push({ kind: 'execute-dynamic' });
      return lowered('do', 'do', { dynamic });
    }
    case 'CopyStmt': return lowerCopy(v);
    case 'PrepareStmt': {
      const inner = lowerPg(v.query);
      return lowered('prepare', 'prepare', { ...(inner.rel ? { rel: inner.rel } : {}), returnsRows: inner.returnsRows, sideQueries: inner.sideQueries, dynamic: inner.dynamic, ddlTargets: inner.ddlTargets });
    }
    case 'ExecuteStmt': return lowered('execute', 'execute', { exprs: (v.params ?? []).map(expr) });
    case 'DeallocateStmt': return lowered('deallocate', 'deallocate');
    case 'LockStmt': return lowered('lock', 'lock', { ddlTargets: [] });
    case 'DeclareCursorStmt': {
      const inner = lowerPg(v.query);
      const options = Number(v.options ?? 0);
      // A BINARY cursor's rows cannot be masked on the wire (CURSOR_OPT_BINARY = 1, CURSOR_OPT_HOLD = 32).
      return lowered('select', options & 1 ? 'declare_binary_cursor' : 'declare_cursor', {
        ...(inner.rel ? { rel: inner.rel } : {}), returnsRows: true, dynamic: inner.dynamic,
        cursor: { name: v.portalname ?? '', hold: (options & 32) !== 0 },
      });
    }
    case 'CreateFunctionStmt': {
      // A plpgsql body that EXECUTEs text runs dynamic SQL whenever it is called.
      const body = (v.options ?? []).filter((o: Node) => unwrap(o)[1].defname === 'as').map((o: Node) => JSON.stringify(unwrap(o)[1].arg)).join(' ');
      const dynamic: DynamicFacts[] = /\bEXECUTE\b/i.test(body) ? [{ kind: 'execute-dynamic' }] : [];
      return lowered('ddl', v.is_procedure ? 'create_procedure' : 'create_function', { dynamic });
    }
    case 'VacuumStmt': return lowered('other', v.is_vacuumcmd ? 'vacuum' : 'analyze');
    // Rows of a cursor were judged when it was declared (as never maskable).
    case 'FetchStmt': return lowered(v.ismove ? 'other' : 'select', v.ismove ? 'move' : 'fetch', { cursor: { name: v.portalname ?? '', hold: false } });
    case 'ClosePortalStmt': return lowered('other', 'close_portal', { cursor: { name: v.portalname ?? '', hold: false } });
    // LOAD 'library' puts server-side code into the backend.
    case 'LoadStmt': return lowered('other', 'load', { dynamic: [{ kind: 'file-function', name: 'LOAD' }] });
    default:
      if (/^(Create|Alter|Drop|Comment|Reindex|Cluster|Refresh)/.test(t)) return lowered('ddl', snake(t));
      return lowered('other', snake(t));
  }
}

function lowerSet(v: Node): Lowered {
  const name: string = v.name ?? '';
  const local = !!v.is_local;
  if (v.kind === 'VAR_RESET_ALL') return lowered('set', 'reset_all', { sessionChange: { kind: 'reset-search-path' } });
  if (name === 'search_path') {
    if (v.kind === 'VAR_RESET' || v.kind === 'VAR_SET_DEFAULT') {
      return lowered('set', local ? 'set_local' : v.kind === 'VAR_RESET' ? 'reset' : 'set', { sessionChange: { kind: 'reset-search-path' } });
    }
    const schemas = (v.args ?? []).map(constString).filter((s: string | undefined): s is string => s !== undefined);
    const change: SessionChange = { kind: 'search-path', schemas, local };
    if (v.kind !== 'VAR_SET_VALUE') return lowered('set', 'set', { unresolved: { code: 'UNTRACKED_SETTING', message: 'search_path set in a way sqlgate cannot follow' } });
    return lowered('set', local ? 'set_local' : 'set', { sessionChange: change });
  }
  const value = (v.args ?? []).map(constString).join(', ') || undefined;
  const verb = v.kind === 'VAR_RESET' ? 'reset' : local ? 'set_local' : 'set';
  const settingName = v.kind === 'VAR_SET_MULTI' ? name.replace(/^transaction.*/, 'transaction') : name;
  // PostgreSQL's SET takes constants only; DEFAULT and RESET give the
  // server's default, which sqlgate does not know.
  const setting: SettingValue = v.kind === 'VAR_RESET' || v.kind === 'VAR_SET_DEFAULT' ? { kind: 'default' }
    : { kind: 'constant', text: value ?? '', quoted: true };
  // Every other setting is reported; the endpoint decides which to track,
  // pin or refuse (client_encoding, standard_conforming_strings... change lexing).
  return lowered('set', verb, {
    sessionChange: { kind: 'setting', name: settingName, value },
    settings: [{ name: settingName.toLowerCase(), scope: 'session', value: setting }],
  });
}

function lowerCopy(v: Node): Lowered {
  const dynamic: DynamicFacts[] = [];
  const toFile = v.filename !== undefined && v.filename !== null;
  if (v.is_program) dynamic.push({ kind: 'copy-program', name: v.filename });
  else if (toFile) dynamic.push({ kind: v.is_from ? 'copy-from-file' : 'copy-to-file', name: v.filename });
  const cols: string[] | undefined = v.attlist ? v.attlist.map(str) : undefined;
  if (v.is_from) {
    const rel: WriteStmt = { kind: 'insert', target: qname(v.relation), ...(cols ? { columns: cols } : {}), returning: [], replace: false };
    return lowered('copy', toFile || v.is_program ? 'copy_from_file' : 'copy_from_stdin', { rel, dynamic });
  }
  const q: Query = v.query ? query(v.query) : {
    kind: 'select', targets: cols ? cols.map((c) => ({ expr: { kind: 'column', path: [c] } })) : [{ expr: { kind: 'star', path: [] } }],
    from: [{ kind: 'table', name: qname(v.relation) }], groupBy: [], windows: [], orderBy: [], limit: false,
  };
  if (toFile || v.is_program) return lowered('copy', 'copy_to_file', { sideQueries: [q], dynamic });
  // COPY ... TO STDOUT sends the rows to the client: a read like SELECT.
  return lowered('copy', 'copy_to_stdout', { rel: { kind: 'query', query: q }, returnsRows: true });
}

/** Names of every column reference in a parse tree (to check the lowering lost none). */
export function pgColumnRefs(n: Node, out: Set<string> = new Set(), depth = 0): Set<string> {
  if (!n || typeof n !== 'object' || depth > 400) return out;
  if (Array.isArray(n)) {
    for (const y of n) pgColumnRefs(y, out, depth + 1);
    return out;
  }
  // for…in, not Object.entries: this walk runs on every new statement, and the arrays per node were its cost.
  const rec = n as Record<string, unknown>;
  for (const k in rec) {
    const v = rec[k];
    if (k === 'ColumnRef' && v && typeof v === 'object') {
      const fields = ((v as { fields?: Node[] }).fields ?? []).map(str);
      const last = fields[fields.length - 1];
      if (last && last !== '*') out.add(last);
    } else if (v && typeof v === 'object') pgColumnRefs(v, out, depth + 1);
  }
  return out;
}
