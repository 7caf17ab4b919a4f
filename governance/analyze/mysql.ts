/**
 * MySQL/MariaDB front end. The digest lexer (`lexer.ts`) has already split
 * the message and expanded executable comments; a keyword classifier gives
 * every statement its kind and handles what node-sql-parser cannot read
 * (SET NAMES, PREPARE/EXECUTE, DO, KILL, ANALYZE TABLE, SHOW, USE…);
 * relational statements go through node-sql-parser (MySQL flavour, then
 * MariaDB) and are lowered into the IR. Anything else unreadable is refused.
 */
import NodeSqlParser from 'node-sql-parser';
import type { DynamicFacts, SessionChange, SettingValue } from '../facts.js';
import { mysqlSettings, settingValue } from './mysql-set.js';
import type { StatementKind } from '../../rules/policy-schema.js';
import type { Assignment, Cte, Expr, FromItem, Lowered, OrderItem, QName, Query, RelStmt, Target, With } from './ir.js';
import { irColumnNames, lowered, readOf } from './ir.js';
import type { MysqlStatement, Token } from './lexer.js';
import { joinTokens, splitMysql, unquoteIdent, unquoteString } from './lexer.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Node = any;

const parser = new NodeSqlParser.Parser();

/**
 * MySQL's grammar first: a statement one flavour rejects costs a whole
 * failed parse (as much as a good one) before the other is tried, and
 * node-sql-parser's MariaDB grammar rejects more ordinary statements (a
 * column named `status`, DELETE … LIMIT, REPLACE) than its MySQL one
 * rejects (DELETE IGNORE): 22 against 1 of the statements in this
 * repository's tests. Where both read a statement, the facts are the same
 * for all 1,100 of them.
 */
const FLAVOURS = ['MySQL', 'MariaDB'] as const;

function astify(text: string): Node | undefined {
  for (const database of FLAVOURS) {
    try {
      const ast = parser.astify(text, { database });
      const one = Array.isArray(ast) ? (ast.length === 1 ? ast[0] : undefined) : ast;
      if (one) return one;
    } catch { /* try the next flavour */ }
  }
  return undefined;
}

// ---------------------------------------------------------------- identifiers

function ident(x: Node): string {
  if (x === null || x === undefined) return '';
  if (typeof x === 'string') return x;
  if (typeof x === 'object') {
    if ('expr' in x && x.expr) return ident(x.expr);
    if ('value' in x) return ident(x.value);
  }
  return String(x);
}

function funcName(n: Node): string {
  const name = n.name;
  if (typeof name === 'string') return name.toLowerCase();
  if (name && Array.isArray(name.name)) return name.name.map(ident).join('.').toLowerCase();
  if (name && typeof name === 'object') return ident(name).toLowerCase();
  return '';
}

// ---------------------------------------------------------------- expressions

const LITERAL_TYPES = new Set(['number', 'single_quote_string', 'double_quote_string', 'string', 'hex_string', 'full_hex_string', 'bit_string',
  'natural_string', 'date', 'time', 'timestamp', 'datetime', 'regex_string', 'var_string', 'backticks_quote_string_literal']);

function expr(n: Node): Expr {
  if (n === null || n === undefined) return { kind: 'other', args: [] };
  if (Array.isArray(n)) return { kind: 'other', args: n.map(expr) };
  if (typeof n !== 'object') return { kind: 'literal' };
  if (n.ast) return { kind: 'subquery', mode: 'scalar', query: query(n.ast) };
  const t: string = n.type;
  if (t === 'number' && Number.isInteger(n.value)) return { kind: 'literal', ordinal: n.value };
  if (LITERAL_TYPES.has(t)) return { kind: 'literal' };
  switch (t) {
    case 'bool': case 'boolean': return { kind: 'literal', value: n.value === true || String(n.value).toLowerCase() === 'true' };
    case 'null': return { kind: 'literal', value: null };
    case 'param': case 'var': return { kind: 'param' };
    // A prepared statement's `?` comes as a raw token.
    case 'origin': return n.value === '?' ? { kind: 'param' } : { kind: 'other', args: generic(n) };
    case 'default': return typeof n.value === 'string' && n.value.toUpperCase() === 'DEFAULT' ? { kind: 'other', args: [] } : { kind: 'column', path: [ident(n.value)] };
    case 'column_ref': {
      const col = ident(n.column);
      const path: string[] = [];
      if (n.db) path.push(ident(n.db));
      if (n.schema) path.push(ident(n.schema));
      if (n.table) path.push(ident(n.table));
      if (col === '*') return { kind: 'star', path };
      return { kind: 'column', path: [...path, col] };
    }
    case 'star': return { kind: 'star', path: [] };
    case 'select': return { kind: 'subquery', mode: 'scalar', query: query(n) };
    case 'binary_expr': {
      const op = String(n.operator).toUpperCase();
      const right = n.right;
      // IN / EXISTS with a subquery on the right.
      const sub = right?.type === 'expr_list' && right.value?.length === 1 && (right.value[0]?.ast || right.value[0]?.type === 'select') ? right.value[0] : undefined;
      if (sub && (op === 'IN' || op === 'NOT IN')) return { kind: 'subquery', mode: 'in', query: query(sub.ast ?? sub), lhs: expr(n.left) };
      const args = [expr(n.left), ...(right?.type === 'expr_list' ? (right.value ?? []).map(expr) : [expr(right)])];
      return { kind: 'op', op: op === '&&' ? 'AND' : op === '||' ? 'OR' : op === 'XOR' ? 'XOR' : op, args };
    }
    case 'unary_expr': {
      const op = String(n.operator).toUpperCase();
      return { kind: 'op', op: op === '!' ? 'NOT' : op, args: [expr(n.expr)] };
    }
    case 'function': {
      const name = funcName(n);
      const args: Node[] = n.args?.type === 'expr_list' ? n.args.value ?? [] : n.args ? [n.args] : [];
      if (name === 'exists' && args.length === 1 && (args[0]?.ast || args[0]?.type === 'select')) {
        return { kind: 'subquery', mode: 'exists', query: query(args[0].ast ?? args[0]) };
      }
      // x = ANY (SELECT …), x > ALL (SELECT …): comparisons with a subquery.
      if ((name === 'any' || name === 'all' || name === 'some') && args.length === 1 && (args[0]?.ast || args[0]?.type === 'select')) {
        return { kind: 'subquery', mode: 'in', query: query(args[0].ast ?? args[0]) };
      }
      // ON DUPLICATE KEY UPDATE a = VALUES(a): the inserted value of column a.
      if (name === 'values' && args.length === 1) return expr(args[0]);
      if (convertType(n)) return { kind: 'func', name, args: [expr(args[0])], aggregate: false };
      const window = n.over ? windowExprs(n.over) : undefined;
      return { kind: 'func', name, args: args.map(expr), aggregate: false, ...(window ? { window } : {}) };
    }
    case 'aggr_func': {
      const name = funcName(n);
      const a = n.args ?? {};
      const args: Expr[] = [];
      let star = false;
      if (a.expr) {
        if (a.expr.type === 'star') star = true;
        else if (a.expr.type === 'expr_list') args.push(...(a.expr.value ?? []).map(expr));
        else args.push(expr(a.expr));
      }
      for (const o of a.orderby ?? []) args.push(expr(o.expr));
      const window = n.over ? windowExprs(n.over) : undefined;
      return { kind: 'func', name, args, aggregate: true, ...(star ? { star } : {}), ...(window ? { window } : {}) };
    }
    case 'window_func': {
      const args: Node[] = n.args?.type === 'expr_list' ? n.args.value ?? [] : n.args ? [n.args] : [];
      const window = n.over ? windowExprs(n.over) : [];
      return { kind: 'func', name: funcName(n), args: args.map(expr), aggregate: false, window };
    }
    // @x := expr inside a query stores the value where a later SELECT @x can read it.
    case 'assign': return { kind: 'op', op: 'ASSIGN', args: [expr(n.right)] };
    case 'cast': return { kind: 'op', op: 'CAST', args: [expr(n.expr)] };
    case 'case': {
      const args: Expr[] = [];
      if (n.expr) args.push(expr(n.expr));
      for (const a of n.args ?? []) { if (a.cond) args.push(expr(a.cond)); args.push(expr(a.result)); }
      return { kind: 'op', op: 'CASE', args };
    }
    case 'interval': return { kind: 'op', op: 'INTERVAL', args: [expr(n.expr)] };
    case 'expr_list': return { kind: 'op', op: 'LIST', args: (n.value ?? []).map(expr) };
    case 'extract': return { kind: 'func', name: 'extract', args: [expr(n.args?.source)], aggregate: false };
    case 'convert': return { kind: 'func', name: 'convert', args: generic(n), aggregate: false };
    default: return { kind: 'other', args: generic(n) };
  }
}

/**
 * CONVERT(expr, type): the second argument is always a type. Where the
 * expression is more than a column (a CASE), node-sql-parser's MariaDB
 * grammar reads a bare type word (UNSIGNED, SIGNED) as a column reference.
 */
function convertType(n: Node): boolean {
  return n.type === 'function' && funcName(n) === 'convert' && n.args?.type === 'expr_list' && n.args.value?.length === 2;
}

/** Names of every column_ref in a node-sql-parser tree. */
function astColumnRefs(n: Node, out: Set<string> = new Set(), depth = 0): Set<string> {
  if (!n || typeof n !== 'object' || depth > 400) return out;
  if (Array.isArray(n)) { for (const y of n) astColumnRefs(y, out, depth + 1); return out; }
  if (convertType(n)) return astColumnRefs(n.args.value[0], out, depth + 1);
  if (n.type === 'column_ref') {
    const c = ident(n.column);
    if (c && c !== '*') out.add(c);
  }
  for (const [k, v] of Object.entries(n)) {
    if (k === 'tableList' || k === 'columnList') continue;
    if (v && typeof v === 'object') astColumnRefs(v, out, depth + 1);
  }
  return out;
}

/** Every expression inside an unknown node, so nothing read is missed. */
function generic(n: Node): Expr[] {
  const out: Expr[] = [];
  const visit = (x: Node, depth: number) => {
    if (!x || typeof x !== 'object' || depth > 60) return;
    if (Array.isArray(x)) { for (const y of x) visit(y, depth + 1); return; }
    if (depth > 0 && (typeof x.type === 'string' || x.ast)) { out.push(expr(x)); return; }
    for (const v of Object.values(x)) visit(v, depth + 1);
  };
  visit(n, 0);
  return out;
}

function windowExprs(over: Node): Expr[] {
  const spec = over?.as_window_specification?.window_specification ?? over?.window_specification ?? over;
  const out: Expr[] = [];
  for (const p of spec?.partitionby ?? []) out.push(expr(p.expr ?? p));
  for (const o of spec?.orderby ?? []) out.push(expr(o.expr ?? o));
  return out;
}

// ---------------------------------------------------------------- queries

function withClause(w: Node): With | undefined {
  if (!w || !Array.isArray(w) || w.length === 0) return undefined;
  const ctes: Cte[] = w.map((c: Node) => ({
    name: ident(c.name),
    ...(c.columns ? { columns: c.columns.map((x: Node) => ident(x.column ?? x)) } : {}),
    body: query(c.stmt?.ast ?? c.stmt),
  }));
  return { recursive: w.some((c: Node) => c.recursive), ctes };
}

function groupList(g: Node): Node[] {
  if (!g) return [];
  if (Array.isArray(g)) return g;
  return g.columns ?? [];
}

function hasLimit(l: Node): boolean {
  return !!(l && Array.isArray(l.value) && l.value.length > 0);
}

function orderList(o: Node): OrderItem[] {
  return (o ?? []).map((x: Node) => ({ expr: expr(x.expr) }));
}

export function query(n: Node): Query {
  if (!n || typeof n !== 'object') return { kind: 'values', rows: [] };
  if (n.ast) return query(n.ast);
  if (n.type !== 'select') {
    if (n.type === 'values') return { kind: 'values', rows: (n.values ?? []).map((r: Node) => (r.value ?? []).map(expr)) };
    return { kind: 'values', rows: [[{ kind: 'other', args: generic(n) }]] };
  }
  const w = withClause(n.with);
  const base: Query = {
    kind: 'select',
    ...(w && !n._next ? { with: w } : {}),
    ...(n.distinct && /distinct/i.test(String(n.distinct.type ?? n.distinct)) ? { distinct: true } : {}),
    targets: columns(n.columns),
    from: fromList(n.from),
    ...(n.where ? { where: expr(n.where) } : {}),
    groupBy: groupList(n.groupby).map(expr),
    ...(n.having ? { having: expr(n.having) } : {}),
    windows: (n.window?.expr ?? []).flatMap((x: Node) => windowExprs(x.as_window_specification ?? x)),
    orderBy: n._next ? [] : orderList(n.orderby),
    limit: !n._next && hasLimit(n.limit),
    ...(intoKind(n.into) ? { into: intoKind(n.into) } : {}),
  };
  if (!n._next) return base;
  // node-sql-parser chains set operations through `_next`; ORDER BY/LIMIT of
  // the last branch apply to the whole result.
  let acc: Query = base;
  let cur: Node = n;
  let last: Node = n;
  while (cur._next) {
    const next = cur._next;
    acc = { kind: 'setop', op: String(cur.set_op ?? 'union'), left: acc, right: query({ ...next, _next: null, orderby: null, limit: null }), orderBy: [], limit: false };
    last = next;
    cur = next;
  }
  return { ...(acc as Query & { kind: 'setop' }), ...(w ? { with: w } : {}), orderBy: orderList(last.orderby), limit: hasLimit(last.limit) };
}

function intoKind(into: Node): 'variable' | 'outfile' | undefined {
  if (!into || (!into.keyword && !into.expr)) return undefined;
  const k = String(into.keyword ?? '').toLowerCase();
  if (k === 'outfile' || k === 'dumpfile') return 'outfile';
  return 'variable';
}

function columns(cols: Node): Target[] {
  if (!cols) return [];
  if (cols === '*') return [{ expr: { kind: 'star', path: [] } }];
  return (Array.isArray(cols) ? cols : [cols]).map((c: Node) => {
    const e = expr(c.expr ?? c);
    const alias = c.as ? ident(c.as) : undefined;
    return { expr: e, ...(alias ? { alias } : {}) };
  });
}

function tableItem(t: Node): FromItem {
  if (t.expr && (t.expr.ast || t.expr.type === 'select')) {
    return { kind: 'derived', query: query(t.expr.ast ?? t.expr), lateral: String(t.prefix ?? '').toLowerCase() === 'lateral', ...(t.as ? { alias: ident(t.as) } : {}) };
  }
  if (t.type === 'dual') return { kind: 'function', func: { kind: 'other', args: [] }, alias: 'dual', columnAliases: [] };
  if (t.expr) return { kind: 'function', func: expr(t.expr), ...(t.as ? { alias: ident(t.as) } : { alias: '?' }) };
  const name: QName = { ...(t.db ? { database: ident(t.db) } : {}), name: ident(t.table) };
  return { kind: 'table', name, ...(t.as ? { alias: ident(t.as) } : {}) };
}

function fromList(from: Node): FromItem[] {
  if (!from) return [];
  const list: Node[] = Array.isArray(from) ? from : [from];
  const out: FromItem[] = [];
  for (const t of list) {
    const item = tableItem(t);
    if (t.join && out.length > 0) {
      const left = out.pop()!;
      const join = String(t.join).toUpperCase();
      out.push({
        kind: 'join', left, right: item, natural: join.includes('NATURAL'),
        ...(t.on ? { on: expr(t.on) } : {}),
        ...(t.using ? { using: t.using.map(ident) } : {}),
      });
    } else out.push(item);
  }
  return out;
}

function assignments(set: Node): Assignment[] {
  return (set ?? []).map((s: Node) => ({ column: ident(s.column), ...(s.table ? { qualifier: ident(s.table) } : {}), value: expr(s.value) }));
}

function lowerRel(ast: Node): { rel?: RelStmt; returnsRows: boolean; dynamic: DynamicFacts[] } {
  const dynamic: DynamicFacts[] = [];
  switch (ast.type) {
    case 'select': {
      const q = query(ast);
      const into = intoKind(ast.into);
      if (into === 'outfile') dynamic.push({ kind: 'into-outfile' });
      if (into === 'variable') dynamic.push({ kind: 'set-variable-from-query' });
      return { rel: { kind: 'query', query: q }, returnsRows: !into, dynamic };
    }
    case 'insert': case 'replace': {
      const t = ast.table?.[0] ?? {};
      const target: QName = { ...(t.db ? { database: ident(t.db) } : {}), name: ident(t.table) };
      let source: Query | undefined;
      let cols: string[] | undefined = ast.columns ? ast.columns.map(ident) : undefined;
      if (ast.values?.type === 'values') source = { kind: 'values', rows: (ast.values.values ?? []).map((r: Node) => (r.value ?? []).map(expr)) };
      else if (ast.values) source = query(ast.values);
      else if (ast.select) source = query(ast.select);
      if (ast.set) {
        const sets = assignments(ast.set);
        cols = sets.map((s) => s.column);
        source = { kind: 'values', rows: [sets.map((s) => s.value)] };
      }
      const dup = ast.on_duplicate_update?.set;
      return {
        rel: {
          kind: 'insert', target, ...(cols ? { columns: cols } : {}), ...(source ? { source } : {}),
          ...(dup ? { upsert: { sets: assignments(dup) } } : {}), returning: [], replace: ast.type === 'replace',
        },
        returnsRows: false, dynamic,
      };
    }
    case 'update':
      return {
        rel: {
          kind: 'update', ...(withClause(ast.with) ? { with: withClause(ast.with)! } : {}),
          tables: fromList(ast.table), from: fromList(ast.from), sets: assignments(ast.set),
          ...(ast.where ? { where: expr(ast.where) } : {}), orderBy: orderList(ast.orderby), limit: hasLimit(ast.limit), returning: [],
        },
        returnsRows: false, dynamic,
      };
    case 'delete': {
      const from = fromList(ast.from ?? ast.table);
      const targets: QName[] = (ast.table ?? []).map((t: Node) => ({ ...(t.db ? { database: ident(t.db) } : {}), name: ident(t.table ?? t.as) }));
      // Single-table DELETE FROM t AS x: the target is named by its alias.
      const single = !ast.from || (Array.isArray(ast.from) && ast.from.length === 1 && (ast.table ?? []).length <= 1);
      const singleTarget = single && from[0]?.kind === 'table' ? [{ name: from[0].alias ?? from[0].name.name, ...(from[0].alias ? {} : from[0].name.database ? { database: from[0].name.database } : {}) }] : targets;
      return {
        rel: {
          kind: 'delete', ...(withClause(ast.with) ? { with: withClause(ast.with)! } : {}), targets: singleTarget.length ? singleTarget : targets, from,
          ...(ast.where ? { where: expr(ast.where) } : {}), orderBy: orderList(ast.orderby), limit: hasLimit(ast.limit), returning: [],
        },
        returnsRows: false, dynamic,
      };
    }
    default:
      return { returnsRows: false, dynamic };
  }
}

/** Lowers a view definition as information_schema prints it. */
export function mysqlViewQuery(definition: string): Query | undefined {
  const stmts = splitMysql(definition);
  if (stmts.length !== 1 || stmts[0].error) return undefined;
  const ast = astify(stmts[0].parseText);
  return ast && ast.type === 'select' ? query(ast) : undefined;
}

// ---------------------------------------------------------------- keyword classifier

function words(tokens: readonly Token[]): string[] {
  return tokens.map((t) => (t.kind === 'word' ? t.text.toUpperCase() : t.text));
}

/** Reads `name`, `db.name`, `` `db`.`name` `` at position i. */
function readQName(tokens: readonly Token[], i: number): { name?: QName; next: number } {
  const part = (t: Token | undefined) => (t && (t.kind === 'word' || t.kind === 'quoted-ident') ? unquoteIdent(t.text) : undefined);
  const a = part(tokens[i]);
  if (a === undefined) return { next: i };
  if (tokens[i + 1]?.text === '.' && part(tokens[i + 2]) !== undefined) return { name: { database: a, name: part(tokens[i + 2])! }, next: i + 3 };
  return { name: { name: a }, next: i + 1 };
}

function skipWords(w: readonly string[], i: number, skip: readonly string[]): number {
  while (i < w.length && skip.includes(w[i])) i++;
  return i;
}

/** Settings that change how the server reads text or encodes results (DESIGN.md decision 11). */
const LEXING = new Set(['names', 'character set', 'charset', 'sql_mode', 'character_set_client', 'character_set_connection', 'character_set_results', 'collation_connection']);

export interface MysqlLowering {
  readonly lowered: Lowered;
  /** Statement texts to analyse as well (PREPARE s FROM 'text'). */
  readonly nestedTexts: readonly string[];
}

function unparsed(kind: StatementKind, verb: string, message: string, more: Partial<Lowered> = {}): MysqlLowering {
  return { lowered: lowered(kind, verb, { ...more, unresolved: { code: 'UNPARSED_STATEMENT', message } }), nestedTexts: [] };
}

function ok(l: Lowered, nestedTexts: readonly string[] = []): MysqlLowering {
  return { lowered: l, nestedTexts };
}

/** Kind, verb and IR for one MySQL statement (from the lexer). */
export function lowerMysqlText(s: MysqlStatement): MysqlLowering {
  if (s.error) return unparsed('other', 'other', `cannot read statement: ${s.error}`);
  const main = lowerTokens(s.tokens, s.parseText);
  if (!s.alternative) return main;
  // An executable comment the server may skip: judge both readings.
  const alt = lowerTokens(s.alternative.tokens, s.alternative.parseText);
  const a = main.lowered;
  const b = alt.lowered;
  if (a.kind !== b.kind) return unparsed(a.kind, a.verb, 'an executable comment the server may or may not run changes the kind of statement');
  return ok({ ...a, ...(a.unresolved ?? b.unresolved ? { unresolved: a.unresolved ?? b.unresolved } : {}), alternative: b }, [...main.nestedTexts, ...alt.nestedTexts]);
}

function lowerTokens(tokens: readonly Token[], parseText: string): MysqlLowering {
  const w = words(tokens);
  if (w.length === 0) return ok(lowered('other', 'empty'));
  let first = w[0];
  if (first === '(') first = w.find((x) => x !== '(') ?? '(';
  switch (first) {
    case 'SELECT': case 'WITH': case 'TABLE': case 'VALUES': case 'INSERT': case 'REPLACE': case 'UPDATE': case 'DELETE':
      return relational(withoutIndexHints(tokens, parseText), tokensWithoutIndexHints(tokens));
    case 'EXPLAIN': case 'DESCRIBE': case 'DESC': return explain(tokens, w);
    case 'ANALYZE':
      if (w[1] === 'TABLE' || w[1] === 'NO_WRITE_TO_BINLOG' || w[1] === 'LOCAL') return ok(lowered('other', 'analyze_table'));
      // MariaDB ANALYZE <statement> runs the statement, like EXPLAIN ANALYZE.
      return explainInner(tokens.slice(1), 'explain_analyze', true);
    case 'SET': return set(tokens, w, parseText);
    case 'USE': {
      const db = tokens[1] ? unquoteIdent(tokens[1].text) : undefined;
      if (!db) return unparsed('use', 'use', 'USE without a database');
      return ok(lowered('use', 'use', { sessionChange: { kind: 'use', database: db } }));
    }
    case 'BEGIN': case 'COMMIT': case 'ROLLBACK': case 'SAVEPOINT': case 'RELEASE': case 'XA':
      return ok(lowered('transaction', w[1] === 'TO' || w[2] === 'TO' ? 'rollback_to' : first.toLowerCase()));
    case 'START':
      if (w[1] === 'TRANSACTION') return ok(lowered('transaction', 'begin'));
      return ok(lowered('other', `start_${(w[1] ?? '').toLowerCase()}`));
    // SHOW FULL PROCESSLIST is SHOW PROCESSLIST (FULL only lengthens Info); SHOW FULL TABLES stays show_tables.
    case 'SHOW':
      // SHOW CREATE USER is told apart: it prints an account's password hash.
      if (w[1] === 'CREATE' && w[2] === 'USER') return ok(lowered('show', 'show_create_user'));
      return ok(lowered('show', `show_${((w[1] === 'FULL' ? w[2] : w[1]) ?? '').toLowerCase()}`));
    case 'HELP': return ok(lowered('show', 'help'));
    case 'CALL': {
      const { name } = readQName(tokens, 1);
      const qn = name ? [name.database, name.name].filter(Boolean).join('.') : '';
      const ast = astify(parseText.replace(/^\s*CALL\b/i, 'SELECT'));
      const exprs = ast?.type === 'select' ? columns(ast.columns).map((t) => t.expr).filter((e) => e.kind === 'func').flatMap((e) => (e.kind === 'func' ? e.args : [])) : [];
      if (!ast && tokens.some((t) => t.kind === 'word' && t.text.toUpperCase() === 'SELECT')) {
        return unparsed('call', 'call', 'CALL arguments could not be parsed', { dynamic: [{ kind: 'call', name: qn }] });
      }
      return ok(lowered('call', 'call', { dynamic: [{ kind: 'call', name: qn }], exprs }));
    }
    case 'PREPARE': return prepare(tokens);
    case 'EXECUTE':
      if (w[1] === 'IMMEDIATE') {
        const t = tokens[2];
        if (t?.kind === 'string' && tokens.length === 3) return ok(lowered('execute', 'execute_immediate', { dynamic: [{ kind: 'execute-dynamic' }] }), [unquoteString(t.text)]);
        return ok(lowered('execute', 'execute_immediate', { dynamic: [{ kind: 'execute-dynamic' }] }));
      }
      return ok(lowered('execute', 'execute'));
    case 'DEALLOCATE': return ok(lowered('deallocate', 'deallocate'));
    case 'DO': {
      // MySQL DO evaluates expressions for their side effects: read them as a SELECT.
      const ast = astify(parseText.replace(/^\s*DO\b/i, 'SELECT'));
      if (!ast) return unparsed('do', 'do', 'DO expression could not be parsed', { dynamic: [{ kind: 'do-block' }] });
      return ok(lowered('do', 'do', { dynamic: [{ kind: 'do-block' }], sideQueries: [query(ast)] }));
    }
    case 'KILL': return ok(lowered('other', 'kill'));
    case 'LOCK': case 'UNLOCK': return ok(lowered('lock', `${first.toLowerCase()}_tables`));
    case 'LOAD': return loadData(tokens, w);
    case 'GRANT': case 'REVOKE': return ok(lowered('grant', first.toLowerCase()));
    case 'CREATE': case 'ALTER': case 'DROP': case 'RENAME': case 'TRUNCATE': return ddl(tokens, w);
    case 'OPTIMIZE': case 'CHECK': case 'REPAIR': case 'CHECKSUM': case 'FLUSH': case 'RESET': case 'PURGE': case 'INSTALL': case 'UNINSTALL': case 'SHUTDOWN': case 'BINLOG': case 'CACHE': case 'SIGNAL': case 'RESIGNAL':
      return ok(lowered('other', first.toLowerCase()));
    default:
      return unparsed('other', first.toLowerCase(), `statement starting with ${first} is not understood`);
  }
}

/**
 * Index hints (USE/FORCE/IGNORE INDEX|KEY [FOR …] (…)) choose a plan, not
 * data; node-sql-parser rejects some of them, so they are dropped before
 * parsing.
 */
function withoutIndexHints(tokens: readonly Token[], parseText: string): string {
  const keep = tokensWithoutIndexHints(tokens);
  return keep.length === tokens.length ? parseText : joinTokens(keep);
}

function tokensWithoutIndexHints(tokens: readonly Token[]): Token[] {
  const w = words(tokens);
  let found = false;
  const keep: Token[] = [];
  // Scheduling/error-handling modifiers after UPDATE/DELETE/INSERT/REPLACE
  // change neither rows nor columns; the parser rejects some of them.
  let start = 0;
  if (/^(UPDATE|DELETE|INSERT|REPLACE)$/.test(w[0] ?? '')) {
    keep.push(tokens[0]);
    start = 1;
    while (/^(LOW_PRIORITY|HIGH_PRIORITY|DELAYED|QUICK)$/.test(w[start] ?? '') || (w[start] === 'IGNORE' && w[0] !== 'INSERT')) { start++; found = true; }
  }
  for (let k = start; k < tokens.length; k++) {
    if ((w[k] === 'USE' || w[k] === 'FORCE' || w[k] === 'IGNORE') && (w[k + 1] === 'INDEX' || w[k + 1] === 'KEY')) {
      let j = k + 2;
      if (w[j] === 'FOR') { j++; if (w[j] === 'JOIN') j++; else if ((w[j] === 'ORDER' || w[j] === 'GROUP') && w[j + 1] === 'BY') j += 2; else { keep.push(tokens[k]); continue; } }
      if (w[j] !== '(') { keep.push(tokens[k]); continue; }
      let depth = 0;
      for (; j < tokens.length; j++) {
        if (w[j] === '(') depth++;
        else if (w[j] === ')' && --depth === 0) break;
      }
      k = j;
      found = true;
      continue;
    }
    keep.push(tokens[k]);
  }
  void found;
  return keep;
}

/** Words the parser may consume without keeping them in the tree. */
const KEYWORDS = new Set(('select from where and or not as on join inner left right outer cross using in is null like between exists case when then else end '
  + 'distinct distinctrow all any some union except intersect group by order having limit offset asc desc with recursive insert into values value update set '
  + 'delete replace ignore low_priority high_priority delayed quick duplicate key for share lock mode of nowait skip locked interval true false unknown div mod '
  + 'xor regexp rlike binary collate escape separator straight_join sql_calc_found_rows sql_no_cache sql_cache sql_small_result sql_big_result '
  + 'sql_buffer_result over partition window rows range unbounded preceding following current row rollup outfile dumpfile lateral '
  + 'day hour minute second microsecond week month quarter year day_hour day_minute day_second hour_minute hour_second minute_second '
  + 'day_microsecond hour_microsecond minute_microsecond second_microsecond char signed unsigned decimal integer int date datetime time json double float '
  + 'sounds cast convert character utf8 utf8mb4 latin1 returning default index primary force use natural count sum avg min max boolean language expansion').split(' '));

/**
 * node-sql-parser has been seen to drop text silently (executable comments);
 * make sure every name in the statement made it into the tree, or refuse.
 */
function droppedWord(tokens: readonly Token[], ast: Node): string | undefined {
  const seen = new Set<string>();
  const walk = (x: Node, depth: number) => {
    if (x === null || x === undefined || depth > 200) return;
    if (typeof x === 'string') { seen.add(x.toLowerCase()); return; }
    if (typeof x !== 'object') return;
    if (Array.isArray(x)) { for (const y of x) walk(y, depth + 1); return; }
    for (const [k, v] of Object.entries(x)) {
      if (k === 'tableList' || k === 'columnList') continue;
      walk(v, depth + 1);
    }
  };
  walk(ast, 0);
  for (const t of tokens) {
    if (t.kind !== 'word' && t.kind !== 'quoted-ident') continue;
    const name = unquoteIdent(t.text).toLowerCase();
    if (t.kind === 'word' && KEYWORDS.has(name)) continue;
    if (!seen.has(name) && ![...seen].some((x) => x.endsWith(`.${name}`) || x.startsWith(`${name}.`) || x.endsWith(`::${name}`))) return unquoteIdent(t.text);
  }
  return undefined;
}

function relational(parseText: string, tokens?: readonly Token[]): MysqlLowering {
  const ast = astify(parseText);
  const first = /^[\s(]*([A-Za-z]+)/.exec(parseText)?.[1]?.toLowerCase() ?? 'other';
  const kindOf: Record<string, StatementKind> = { select: 'select', with: 'select', table: 'select', values: 'select', insert: 'insert', replace: 'replace', update: 'update', delete: 'delete' };
  let kind = kindOf[first] ?? 'other';
  if (!ast) return unparsed(kind, first, 'statement could not be parsed');
  const lost = tokens ? droppedWord(tokens, ast) : undefined;
  if (lost !== undefined) return unparsed(kind, first, `the parser lost part of the statement (${lost})`);
  if (kind === 'select' && ast.type !== 'select') kind = (kindOf[ast.type] ?? 'other');
  const r = lowerRel(ast);
  if (!r.rel) return unparsed(kind, first, `unsupported statement type ${ast.type}`);
  // Every column the parser saw must have made it into the IR.
  const lowered_ = irColumnNames(r.rel);
  const have = new Set([...lowered_].map((x) => x.toLowerCase()));
  for (const c of astColumnRefs(ast)) {
    if (!have.has(c.toLowerCase())) return unparsed(kind, first, `column ${c} was lost while reading the statement`);
  }
  return ok(lowered(kind, ast.type ?? first, { rel: r.rel, returnsRows: r.returnsRows, dynamic: r.dynamic }));
}

function explain(tokens: readonly Token[], w: readonly string[]): MysqlLowering {
  // DESCRIBE t / EXPLAIN t: column list of a table.
  const { name, next } = readQName(tokens, 1);
  if (name && (next >= tokens.length || tokens[next].kind === 'word' || tokens[next].kind === 'quoted-ident') && !/^(SELECT|INSERT|UPDATE|DELETE|REPLACE|WITH|TABLE|ANALYZE|EXTENDED|PARTITIONS|FORMAT|FOR)$/.test(w[1] ?? '')) {
    return ok(lowered('show', 'describe'));
  }
  let i = 1;
  let analyze = false;
  while (i < w.length) {
    if (w[i] === 'ANALYZE') { analyze = true; i++; continue; }
    if (w[i] === 'EXTENDED' || w[i] === 'PARTITIONS') { i++; continue; }
    if (w[i] === 'FORMAT' && w[i + 1] === '=') { i += 3; continue; }
    break;
  }
  if (w[i] === 'FOR' && w[i + 1] === 'CONNECTION') return ok(lowered('explain', 'explain_connection'));
  return explainInner(tokens.slice(i), analyze ? 'explain_analyze' : 'explain', analyze);
}

function explainInner(inner: readonly Token[], verb: string, runs: boolean): MysqlLowering {
  const r = relational(joinTokens(inner));
  const l = r.lowered;
  return ok({ ...l, kind: 'explain', verb: `${verb}_${l.verb}`, returnsRows: false, explainOnly: !runs, ...(l.unresolved ? { unresolved: l.unresolved } : {}) });
}

function set(tokens: readonly Token[], w: readonly string[], parseText: string): MysqlLowering {
  const scopeWords = ['GLOBAL', 'SESSION', 'LOCAL', 'PERSIST', 'PERSIST_ONLY'];
  const i = skipWords(w, 1, scopeWords);
  const scope = w.slice(1, i).some((x) => x !== 'SESSION' && x !== 'LOCAL') ? 'global' as const : 'session' as const;
  const one = (verb: string, name: string, value: SettingValue): MysqlLowering => ok(lowered('set', verb, {
    sessionChange: { kind: 'setting', name, value: value.kind === 'constant' ? value.text : undefined },
    settings: [{ name, scope, value }],
  }));
  // SET NAMES cs [COLLATE c] / SET CHARACTER SET cs: the character set is the first value token.
  const charset = (from: number): SettingValue => {
    const end = tokens.findIndex((t, k) => k >= from && t.kind === 'word' && t.text.toUpperCase() === 'COLLATE');
    return settingValue(tokens.slice(from, end < 0 ? tokens.length : end), 'names');
  };
  if (w[i] === 'NAMES') return one('set_names', 'names', charset(i + 1));
  if (w[i] === 'CHARACTER' && w[i + 1] === 'SET') return one('set_charset', 'character set', charset(i + 2));
  if (w[i] === 'CHARSET') return one('set_charset', 'character set', charset(i + 1));
  if (w[i] === 'TRANSACTION') return one('set_transaction', 'transaction', { kind: 'constant', text: joinTokens(tokens.slice(i + 1)), quoted: false });
  // SET PASSWORD [FOR account] = …: without FOR, the account is sqlgate's own.
  if (w[i] === 'PASSWORD') return one('set_password', w.includes('FOR') ? 'password for' : 'password', { kind: 'expression', text: '…' });
  if (w[i] === 'ROLE') return one('set_role', 'role', { kind: 'constant', text: joinTokens(tokens.slice(i + 1)), quoted: false });
  if (w[i] === 'DEFAULT' && w[i + 1] === 'ROLE') return one('set_default_role', 'default role', { kind: 'constant', text: joinTokens(tokens.slice(i + 2)), quoted: false });
  if (w[i] === 'STATEMENT') return unparsed('set', 'set_statement', 'SET STATEMENT … FOR is not supported');
  const settings = mysqlSettings(tokens);
  // The session change names one setting, a lexing one first; the rules judge them all (`settings`).
  const pick = settings.find((x) => LEXING.has(x.name)) ?? settings[0];
  const pickValue = pick?.value.kind === 'constant' || pick?.value.kind === 'expression' ? pick.value.text : undefined;
  const sessionChange: SessionChange | undefined = pick ? { kind: 'setting', name: pick.name, value: pickValue } : undefined;
  const hasQuery = tokens.some((t) => t.kind === 'word' && t.text.toUpperCase() === 'SELECT');
  const ast = astify(parseText);
  const exprs: Expr[] = [];
  if (ast && ast.type === 'set') {
    for (const a of ast.expr ?? []) {
      // A bare name given to a server setting is the value's name, not a
      // column (`SET character_set_client = utf8mb4`, `time_zone = SYSTEM`,
      // `sql_mode = TRADITIONAL`, as mysqldump writes): the server takes it
      // as a string, and the rules judge it among `settings`.
      // (MariaDB's grammar reads a bare ON as a call without parentheses.)
      const right = a.right as { type?: string; table?: unknown; args?: unknown; name?: { name?: { value?: unknown }[] } } | undefined;
      const word = right?.type === 'column_ref' ? right.table === null || right.table === undefined
        : right?.type === 'function' && right.args === null && String(right.name?.name?.[0]?.value).toUpperCase() === 'ON';
      if (a.left?.prefix !== '@' && word) continue;
      exprs.push(expr(a.right ?? a.value ?? a));
    }
  } else if (hasQuery) {
    return unparsed('set', 'set', 'SET with a subquery could not be parsed');
  } else {
    // Simple SET a = 1, @b = 'x' that the parser rejects: values are literals or names.
    for (const t of tokens) if (t.kind === 'word' && /^[A-Za-z_]+$/.test(t.text) && tokens[tokens.indexOf(t) + 1]?.text === '(') {
      return unparsed('set', 'set', 'SET with a function call could not be parsed');
    }
  }
  const dynamic: DynamicFacts[] = hasQuery ? [{ kind: 'set-variable-from-query' }] : [];
  return ok(lowered('set', 'set', { ...(sessionChange ? { sessionChange } : {}), settings, exprs, dynamic }));
}

function prepare(tokens: readonly Token[]): MysqlLowering {
  const name = tokens[1] ? unquoteIdent(tokens[1].text) : '';
  const from = tokens[2]?.text.toUpperCase() === 'FROM' ? tokens[3] : undefined;
  if (!from) return unparsed('prepare', 'prepare', 'PREPARE without FROM');
  if (from.kind === 'variable') return ok(lowered('prepare', 'prepare', { dynamic: [{ kind: 'prepare-from-variable', name }] }));
  if (from.kind === 'string' && tokens.length === 4) {
    return ok(lowered('prepare', 'prepare', { dynamic: [{ kind: 'prepare-from-text', name }] }), [unquoteString(from.text)]);
  }
  return ok(lowered('prepare', 'prepare', { dynamic: [{ kind: 'prepare-from-variable', name }] }));
}

function loadData(tokens: readonly Token[], w: readonly string[]): MysqlLowering {
  const into = w.indexOf('INTO');
  let target: QName | undefined;
  if (into >= 0 && w[into + 1] === 'TABLE') target = readQName(tokens, into + 2).name;
  const dynamic: DynamicFacts[] = [{ kind: 'load-data', ...(target ? { name: target.name } : {}) }];
  if (!target) return unparsed('load_data', 'load_data', 'LOAD DATA target not understood', { dynamic });
  return ok(lowered('load_data', w[1] === 'XML' ? 'load_xml' : 'load_data', {
    dynamic, rel: { kind: 'insert', target, returning: [], replace: w.includes('REPLACE') },
  }));
}

/**
 * Tables a CREATE or ALTER TABLE reaches besides its own, from `i` on:
 * EXCHANGE PARTITION ... WITH TABLE t and a MERGE table's UNION=(t, ...)
 * swap or show t's rows (targets, read whole); REFERENCES t (cols) checks
 * t's columns (read).
 */
function reachedTables(tokens: readonly Token[], w: readonly string[], i: number): { targets: QName[]; reads: Query[] } {
  const targets: QName[] = [];
  const reads: Query[] = [];
  const merge = w.includes('MERGE') || w.includes('MRG_MYISAM');
  for (let k = i; k < tokens.length; k++) {
    if (w[k] === 'REFERENCES') {
      const r = readQName(tokens, k + 1);
      if (!r.name) continue;
      const columns: string[] = [];
      if (tokens[r.next]?.text === '(') {
        for (let j = r.next + 1; j < tokens.length && tokens[j].text !== ')'; j++) {
          if (tokens[j].kind === 'word' || tokens[j].kind === 'quoted-ident') columns.push(unquoteIdent(tokens[j].text));
        }
      }
      reads.push(readOf(r.name, columns));
    } else if (w[k] === 'EXCHANGE' && w[k + 1] === 'PARTITION') {
      const with_ = w.indexOf('WITH', k);
      const r = with_ >= 0 && w[with_ + 1] === 'TABLE' ? readQName(tokens, with_ + 2) : { name: undefined };
      if (r.name) { targets.push(r.name); reads.push(readOf(r.name)); }
    } else if (w[k] === 'UNION' && merge && (tokens[k + 1]?.text === '=' || tokens[k + 1]?.text === '(')) {
      for (let j = k + 1; j < tokens.length && tokens[j].text !== ')'; j++) {
        const r = readQName(tokens, j);
        if (r.name) { targets.push(r.name); reads.push(readOf(r.name)); j = r.next - 1; }
      }
    }
  }
  return { targets, reads };
}

/** Words that open a CREATE TABLE item other than a column (an index, a key, a constraint). */
const NOT_A_COLUMN = new Set(['PRIMARY', 'KEY', 'INDEX', 'UNIQUE', 'CONSTRAINT', 'FOREIGN', 'FULLTEXT', 'SPATIAL', 'CHECK', 'PERIOD', 'SYSTEM']);

/** The column names of CREATE TABLE t (…) from its definition list at `i`, in order; undefined when not readable. */
function definedColumns(tokens: readonly Token[], w: readonly string[], i: number): string[] | undefined {
  if (tokens[i]?.text !== '(') return undefined;
  const columns: string[] = [];
  let depth = 0;
  let itemStart = false;
  for (let k = i; k < tokens.length; k++) {
    const t = tokens[k];
    if (t.text === '(') { if (++depth === 1) itemStart = true; continue; }
    if (t.text === ')') { if (--depth === 0) return columns.length > 0 ? columns : undefined; continue; }
    if (depth !== 1) continue;
    if (t.text === ',') { itemStart = true; continue; }
    if (!itemStart) continue;
    itemStart = false;
    if (t.kind === 'quoted-ident') columns.push(unquoteIdent(t.text));
    else if (t.kind === 'word') { if (!NOT_A_COLUMN.has(w[k])) columns.push(t.text); }
    else return undefined;
  }
  return undefined;
}

function ddl(tokens: readonly Token[], w: readonly string[]): MysqlLowering {
  const verb0 = w[0].toLowerCase();
  const targets: QName[] = [];
  const sideQueries: Query[] = [];
  if (verb0 === 'truncate') {
    const i = w[1] === 'TABLE' ? 2 : 1;
    const { name } = readQName(tokens, i);
    if (!name) return unparsed('ddl', 'truncate', 'TRUNCATE target not understood');
    return ok(lowered('ddl', 'truncate', { rel: { kind: 'truncate', targets: [name] }, ddlTargets: [name] }));
  }
  if (verb0 === 'rename') {
    // RENAME TABLE a TO b, c TO d
    for (let i = 2; i < tokens.length;) {
      const { name, next } = readQName(tokens, i);
      if (!name) break;
      targets.push(name);
      i = next;
      if (w[i] === 'TO') { const r = readQName(tokens, i + 1); if (r.name) targets.push(r.name); i = r.next; }
      if (w[i] === ',') i++; else break;
    }
    // Every other name is a source: its columns move under the new name.
    return ok(lowered('ddl', 'rename_table', { ddlTargets: targets, ddlReads: targets.filter((_, k) => k % 2 === 0).map((n) => readOf(n)) }));
  }
  // Skip modifiers to the object keyword.
  let i = skipWords(w, 1, ['OR', 'REPLACE', 'TEMPORARY', 'ONLINE', 'OFFLINE', 'IGNORE', 'UNIQUE', 'FULLTEXT', 'SPATIAL', 'AGGREGATE']);
  while (w[i] === 'ALGORITHM' || w[i] === 'DEFINER' || w[i] === 'SQL') {
    if (w[i] === 'SQL') i += 3; // SQL SECURITY DEFINER|INVOKER
    else { i += 2; while (i < w.length && w[i] !== 'VIEW' && w[i] !== 'PROCEDURE' && w[i] !== 'FUNCTION' && w[i] !== 'TRIGGER' && w[i] !== 'EVENT' && w[i] !== 'SQL' && w[i] !== 'ALGORITHM' && w[i] !== 'DEFINER') i++; }
  }
  const object = (w[i] ?? 'object').toLowerCase();
  i++;
  const ifNotExists = w[i] === 'IF';
  i = skipWords(w, i, ['IF', 'NOT', 'EXISTS']);
  const verb = `${verb0}_${object}`;
  if (object === 'table' || object === 'view') {
    for (;;) {
      const { name, next } = readQName(tokens, i);
      if (!name) break;
      targets.push(name);
      i = next;
      if (verb0 === 'drop' && w[i] === ',') { i++; continue; }
      break;
    }
    if (targets.length === 0) return unparsed('ddl', verb, `${verb0.toUpperCase()} ${object.toUpperCase()} target not understood`);
    const ddlReads: Query[] = [];
    if (object === 'table' && verb0 !== 'drop') {
      const x = reachedTables(tokens, w, i);
      targets.push(...x.targets);
      ddlReads.push(...(verb0 === 'alter' ? [readOf(targets[0])] : []), ...x.reads);
    }
    if (verb0 !== 'drop') {
      // CREATE VIEW v AS SELECT…, CREATE TABLE t [AS] SELECT…, ALTER VIEW v AS SELECT…: the query is read.
      const sel = tokens.findIndex((t, k) => k >= i && t.kind === 'word' && /^(SELECT|WITH)$/i.test(t.text) && (tokens[k - 1]?.text.toUpperCase() === 'AS' || tokens[k - 1]?.text === ')' || tokens[k - 1]?.text === '(' || k === i || tokens[k - 1] && /^(IGNORE|REPLACE)$/i.test(tokens[k - 1].text)));
      if (sel >= 0) {
        let start = sel;
        if (tokens[sel - 1]?.text === '(') start = sel - 1;
        const ast = astify(joinTokens(tokens.slice(start)));
        if (!ast || ast.type !== 'select') return unparsed('ddl', verb, 'the query of the DDL statement could not be parsed', { ddlTargets: targets });
        sideQueries.push(query(ast));
      } else if (verb0 === 'create' && object === 'table' && w.includes('LIKE')) {
        const r = readQName(tokens, w.indexOf('LIKE') + 1);
        if (r.name) sideQueries.push({ kind: 'select', targets: [], from: [{ kind: 'table', name: r.name }], groupBy: [], windows: [], orderBy: [], limit: false });
      }
    }
    const columns = sideQueries.length === 0 && !w.includes('LIKE') ? definedColumns(tokens, w, i) : undefined;
    const creates = verb0 === 'create' && object === 'table' && !ifNotExists ? { creates: targets[0], ...(columns ? { createsColumns: columns } : {}) } : {};
    return ok(lowered('ddl', verb, { ddlTargets: targets, sideQueries, ddlReads, ...creates }));
  }
  if (object === 'index' || object === 'trigger') {
    // CREATE INDEX i ON t (...), CREATE TRIGGER tr BEFORE INSERT ON t ...: t's columns are reached.
    const on = w.indexOf('ON', i);
    const r = on >= 0 ? readQName(tokens, on + 1) : { name: undefined };
    if (!r.name) return verb0 === 'create' ? unparsed('ddl', verb, `CREATE ${object.toUpperCase()} table not understood`) : ok(lowered('ddl', verb));
    // Dropping one moves nothing.
    if (verb0 === 'drop') return ok(lowered('ddl', verb, { ddlTargets: [r.name] }));
    return ok(lowered('ddl', verb, { ddlTargets: [r.name], ddlReads: [readOf(r.name)] }));
  }
  return ok(lowered('ddl', verb));
}
