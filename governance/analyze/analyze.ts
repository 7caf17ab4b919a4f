/**
 * Statement analysis: SQL text in, one `StatementFacts` per statement out.
 * PostgreSQL goes through libpg-query (once per statement shape, see
 * `analyzeCached`), MySQL through the digest lexer and
 * node-sql-parser (or a keyword classifier for what that parser cannot
 * read); both are lowered into the IR and resolved by `resolve.ts`.
 * Never throws for bad SQL: what cannot be understood is reported in
 * `unresolved`, and the engine refuses it (fail closed).
 *
 * What the facts mean, for the rules:
 * - `outputs` line up with the server's result columns one for one (checked
 *   against real servers); a source is `bare` only when the value is passed
 *   through unchanged. Outputs of PREPARE / EXECUTE IMMEDIATE / DECLARE
 *   CURSOR are never bare: their rows come back later, where no mask can be
 *   tied to them.
 * - `reads` holds every column used anywhere else, including computed
 *   outputs (place output-expression / function-arg / aggregate), ORDER BY
 *   and GROUP BY positions, INSERT … SELECT sources ('set'), `SELECT … INTO`
 *   targets ('other'). Inside a view definition nothing is a read of the
 *   user's: only the view's outputs carry lineage. Views are listed in
 *   `tablesRead` together with the base tables they read.
 * - `write` is the write most in need of a check; `writes` lists all of them
 *   when there are several (multi-table DELETE/UPDATE, data-modifying CTEs,
 *   PREPARE text). EXPLAIN without ANALYZE has none. A write target is not in
 *   `tablesRead` unless it is also read as a plain FROM item. Writes through
 *   a view name the view's column and the base column.
 * - `alwaysTrue` never depends on literal values: any predicate (or OR
 *   branch) without a column is treated as always true, so `WHERE 1=2` is
 *   flagged too; `whereTouchesTarget` is false when no column of the target
 *   is referenced.
 * - Within one message, USE / SET search_path apply to the statements after
 *   them; after RESET search_path or the end of a transaction that used SET
 *   LOCAL, unqualified names fail to resolve until the session says more.
 */
import { LRUCache } from 'lru-cache';
import type { Dialect, Hint, SessionChange, StatementFacts, TableId, WriteFacts } from '../facts.js';
import { withTables, type Catalog, type CatalogTable } from '../catalog/catalog.js';
import type { Lowered, QName, Query } from './ir.js';
import { irColumnNames, lowered } from './ir.js';
import { Resolver } from './resolve.js';
import { initPg, lowerPg, pgColumnRefs, pgFingerprint, pgHints, pgParse, pgReady, query as pgQuery } from './pg.js';
import { parseSync } from 'libpg-query';
import { lowerMysqlText, mysqlViewQuery } from './mysql.js';
import { splitMysql, type MysqlStatement } from './lexer.js';
import { pgDigest, type PgDigest } from './pg-digest.js';
import { sharesShape } from './shape.js';

/** Who is asking and where: everything besides the text that changes the analysis. */
export interface AnalyzeContext {
  readonly dialect: Dialect;
  readonly catalog: Catalog;
  /** Current database (MySQL `USE`; PostgreSQL the connected database). */
  readonly database: string | undefined;
  /** PostgreSQL search_path, resolved; ignored for MySQL. */
  readonly searchPath: readonly string[];
}

/** Loads libpg-query's WebAssembly once; await it before the first `analyze`. */
export async function initAnalysis(): Promise<void> {
  await initPg();
}

interface Session {
  database: string | undefined;
  searchPath: readonly string[];
  /** A SET LOCAL search_path is in force until the transaction ends. */
  localPath?: boolean;
  /** Tables an earlier statement of the message creates (CREATE TABLE without IF NOT EXISTS), by key. */
  created?: Map<string, CatalogTable | undefined>;
  /** The catalog the message is judged on, without the tables it creates. */
  readonly base: Catalog;
  /** `base` plus the created tables whose columns are known, for the statements after them. */
  overlay?: Catalog;
}

const tableKey = (t: TableId): string => `${t.database}\u0000${t.schema}\u0000${t.table}`;

/**
 * After `low` is analysed: what it creates is new to the statements after
 * it, and where its definition names the columns, the statements after it
 * may use it (a schema script sent as one message: CREATE TABLE, then
 * INSERT into it). If the CREATE fails, the server runs none of them.
 */
function noteCreated(low: Lowered, ctx: AnalyzeContext, session: Session): void {
  if (!low.creates) return;
  const id = ddlTarget(low.creates, { ...ctx, catalog: session.base }, session);
  const table: CatalogTable | undefined = low.createsColumns && session.base.lookup(id.database, id.schema, id.table) === undefined ? {
    database: id.database, schema: id.schema, name: id.table, kind: 'table', rows: 0,
    columns: low.createsColumns.map((name, k) => ({ name, type: 'unknown', ordinal: k + 1, nullable: true })),
  } : undefined;
  (session.created ??= new Map()).set(tableKey(id), table);
  const known = [...session.created.values()].filter((t): t is CatalogTable => t !== undefined);
  session.overlay = known.length > 0 ? withTables(session.base, known) : undefined;
}

/** The context the next statement of the message is analysed in. */
function contextFor(ctx: AnalyzeContext, session: Session): AnalyzeContext {
  return session.overlay ? { ...ctx, catalog: session.overlay } : ctx;
}

/**
 * A DDL read of a table the catalog does not know, made earlier in the same
 * message: the table is new, and holds nothing that existed before.
 */
function newInMessage(q: Query, ctx: AnalyzeContext, session: Session): boolean {
  const from = q.kind === 'select' && q.from.length === 1 ? q.from[0] : undefined;
  if (!session.created || from?.kind !== 'table') return false;
  const t = ddlTarget(from.name, { ...ctx, catalog: session.base }, session);
  return session.created.has(tableKey(t)) && (ctx.dialect === 'mysql'
    ? session.base.lookup(t.database, t.database, t.table) === undefined
    : session.base.lookup(session.database, t.schema, t.table) === undefined);
}

/** Analyses every statement of a (possibly multi-statement) text. */
export function analyze(sql: string, ctx: AnalyzeContext): StatementFacts[] {
  return analyzeWith(sql, ctx, undefined);
}

/** `split`: the MySQL message already split; `digest`: the PostgreSQL message already digested. */
function analyzeWith(sql: string, ctx: AnalyzeContext, split: readonly MysqlStatement[] | undefined, digest?: PgDigest): StatementFacts[] {
  const session: Session = { database: ctx.database, searchPath: ctx.searchPath, base: ctx.catalog };
  const out: StatementFacts[] = [];
  if (ctx.dialect === 'postgres') {
    if (!pgReady()) return [unparsed(ctx.dialect, sql, '', [], 'PostgreSQL analysis used before initAnalysis()')];
    for (const piece of pgParse(sql)) {
      const hints = pgHints(piece.hintText ?? piece.text);
      if (!piece.ast) { out.push(unparsed('postgres', piece.text, '', hints, `syntax error: ${piece.error ?? 'unparsable'}`)); continue; }
      let low: Lowered;
      try { low = lowerPg(piece.ast); } catch (err) { low = lowered('other', 'other', { unresolved: { code: 'UNPARSED_STATEMENT', message: `cannot lower statement: ${(err as Error).message}` } }); }
      low = checkPgLowering(piece.ast, low);
      const facts = finish(low, piece.text, pgFingerprint(piece.text, digest), hints, contextFor(ctx, session), session);
      noteCreated(low, ctx, session);
      out.push(facts);
      applySession(facts.sessionChange, session);
      if (facts.sessionChange?.kind === 'search-path' && facts.sessionChange.local) session.localPath = true;
      // The path before SET LOCAL comes back at the end of the transaction;
      // which one that was is not known here, so later names fail closed.
      if (facts.kind === 'transaction' && session.localPath && /^(commit|rollback|prepare_transaction)$/.test(facts.verb)) {
        session.searchPath = [];
        session.localPath = false;
      }
    }
    if (out.length === 0) out.push(emptyFacts('postgres', sql));
    return out;
  }
  const stmts = split ?? splitMysql(sql);
  for (const s of stmts) {
    let lowering: ReturnType<typeof lowerMysqlText>;
    try {
      lowering = lowerMysqlText(s);
    } catch (err) {
      lowering = { lowered: lowered('other', 'other', { unresolved: { code: 'UNPARSED_STATEMENT', message: `cannot lower statement: ${(err as Error).message}` } }), nestedTexts: [] };
    }
    const { lowered: low, nestedTexts } = lowering;
    const facts = finish(low, s.text, s.digest, s.hints, contextFor(ctx, session), session, nestedTexts);
    noteCreated(low, ctx, session);
    out.push(facts);
    applySession(facts.sessionChange, session);
  }
  if (out.length === 0) out.push(emptyFacts('mysql', sql));
  return out;
}

/**
 * Every column the parser saw in a statement that reads or writes data must
 * have made it into the IR; otherwise a clause was not lowered and the
 * statement is refused. DDL bodies (defaults, checks, index expressions) are
 * not analysed as reads and are left out.
 */
function checkPgLowering(ast: unknown, low: Lowered): Lowered {
  if (low.unresolved || low.kind === 'ddl' || low.kind === 'grant' || low.kind === 'set' || low.kind === 'show') return low;
  const have = irColumnNames([low.rel, low.sideQueries, low.exprs]);
  for (const c of pgColumnRefs(ast)) {
    if (!have.has(c)) return { ...low, unresolved: { code: 'UNPARSED_STATEMENT', message: `column ${c} was lost while reading the statement` } };
  }
  return low;
}

function applySession(change: SessionChange | undefined, s: Session): void {
  if (!change) return;
  if (change.kind === 'use') s.database = change.database;
  else if (change.kind === 'search-path') s.searchPath = change.schemas;
  // After a reset the server's default is not known here: later unqualified
  // names in the same message fail to resolve rather than guess.
  else if (change.kind === 'reset-search-path') s.searchPath = [];
}

function emptyFacts(dialect: Dialect, text: string): StatementFacts {
  return { ...base(dialect, text, '', []), kind: 'other', verb: 'empty' };
}

function base(dialect: Dialect, text: string, fingerprint: string, hints: readonly Hint[]): StatementFacts {
  return {
    dialect, kind: 'other', verb: 'other', text, fingerprint, tablesRead: [], outputs: [], reads: [], wholeRows: [],
    write: undefined, ddlTargets: [], dynamic: [], hints, sessionChange: undefined, unresolved: undefined,
  };
}

function unparsed(dialect: Dialect, text: string, fingerprint: string, hints: readonly Hint[], message: string): StatementFacts {
  return { ...base(dialect, text, fingerprint, hints), unresolved: { code: 'UNPARSED_STATEMENT', message } };
}

let nestingDepth = 0;

const viewCache = new WeakMap<CatalogTable, Query | null>();

function parseView(dialect: Dialect, t: CatalogTable): Query | undefined {
  const cached = viewCache.get(t);
  if (cached !== undefined) return cached ?? undefined;
  let q: Query | null = null;
  if (t.viewDefinition) {
    try {
      if (dialect === 'postgres') {
        const stmts = parseSync(t.viewDefinition).stmts ?? [];
        if (stmts.length === 1 && stmts[0].stmt && 'SelectStmt' in stmts[0].stmt) q = pgQuery(stmts[0].stmt);
      } else {
        q = mysqlViewQuery(t.viewDefinition) ?? null;
      }
    } catch {
      q = null;
    }
  }
  viewCache.set(t, q);
  return q ?? undefined;
}

const INSERTS: ReadonlySet<string> = new Set(['insert', 'replace', 'upsert']);

/** Orders writes so the one most in need of a check is `write`. */
function worst(writes: readonly WriteFacts[]): WriteFacts | undefined {
  // Inserts have no WHERE to check: any other write comes first.
  const score = (w: WriteFacts) => INSERTS.has(w.kind) ? 0 : w.truncate ? 5 : (!w.hasWhere && !w.hasLimit && w.columns !== undefined) ? 4 : w.alwaysTrue ? 3 : !w.whereTouchesTarget ? 2 : 1;
  let best: WriteFacts | undefined;
  for (const w of writes) if (!best || score(w) > score(best)) best = w;
  return best;
}

function finish(low: Lowered, text: string, fingerprint: string, hints: readonly Hint[], ctx: AnalyzeContext, session: Session, nested: readonly string[] = []): StatementFacts {
  const resolver = new Resolver({
    dialect: ctx.dialect, catalog: ctx.catalog, database: session.database, searchPath: session.searchPath,
    parseView: (t) => parseView(ctx.dialect, t),
  });
  let outputs: StatementFacts['outputs'] = [];
  try {
    if (low.rel) {
      const o = resolver.statement(low.rel);
      if (low.returnsRows) outputs = o;
    }
    for (const q of low.sideQueries) resolver.sideQuery(q);
    for (const q of low.ddlReads ?? []) if (!newInMessage(q, ctx, session)) resolver.sideQuery(q, 'ddl');
    for (const e of low.exprs) resolver.looseExpr(e);
  } catch (err) {
    resolver.fail('UNRESOLVED_COLUMN', `analysis failed: ${(err as Error).message}`);
  }
  for (const d of low.dynamic) resolver.addDynamic(d);
  const r = resolver.result(outputs);
  const ddlTargets = low.ddlTargets.map((n) => ddlTarget(n, ctx, session));
  const writes = low.explainOnly ? [] : r.writes;
  let facts: StatementFacts = {
    dialect: ctx.dialect, kind: low.kind, verb: low.verb, text, fingerprint,
    tablesRead: r.tablesRead, outputs: r.outputs, reads: r.reads, wholeRows: r.wholeRows,
    write: worst(writes), ...(writes.length > 1 ? { writes } : {}),
    ddlTargets, dynamic: r.dynamic, hints, sessionChange: low.sessionChange,
    ...(low.settings ? { settings: low.settings } : {}),
    unresolved: low.unresolved ?? r.unresolved,
    ...(low.cursor ? { cursor: low.cursor } : {}),
  };
  if (low.alternative) {
    const alt = finish({ ...low.alternative }, text, fingerprint, hints, ctx, { ...session });
    if (alt.outputs.length !== facts.outputs.length) {
      facts = { ...facts, unresolved: facts.unresolved ?? { code: 'UNPARSED_STATEMENT', message: 'an executable comment the server may or may not run changes the result columns' } };
    }
    const outputs = facts.outputs.map((o, i) => ({ ...o, sources: [...o.sources, ...(alt.outputs[i]?.sources ?? [])] }));
    facts = { ...merge(facts, { ...alt, outputs: [] }), outputs };
  }
  // PREPARE s FROM 'text': the text is what EXECUTE will run; judge it now.
  for (const n of nested) {
    if (nestingDepth >= 4) { facts = { ...facts, unresolved: facts.unresolved ?? { code: 'UNPARSED_STATEMENT', message: 'prepared text nested too deeply' } }; break; }
    nestingDepth++;
    try {
      for (const f of analyze(n, { ...ctx, database: session.database, searchPath: session.searchPath })) facts = merge(facts, f);
    } finally {
      nestingDepth--;
    }
  }
  // Rows of a prepared statement come back later (EXECUTE), where no mask can
  // be tied to them, and a BINARY cursor's cannot be rewritten: nothing of it
  // counts as a maskable bare pass-through. (A text cursor's rows are masked
  // at FETCH, by the PostgreSQL door, as its DECLARE was judged.)
  if (low.kind === 'prepare' || low.kind === 'execute' || low.verb === 'declare_binary_cursor') {
    facts = { ...facts, outputs: facts.outputs.map((o) => ({ ...o, sources: o.sources.map((x) => (x.bare ? { column: x.column, bare: false } : x)) })) };
  }
  return facts;
}

function merge(a: StatementFacts, b: StatementFacts): StatementFacts {
  const uniq = <T>(list: readonly T[], key: (x: T) => string) => [...new Map(list.map((x) => [key(x), x])).values()];
  const tk = (t: TableId) => `${t.database}.${t.schema}.${t.table}`;
  const writes = [...(a.writes ?? (a.write ? [a.write] : [])), ...(b.writes ?? (b.write ? [b.write] : []))];
  return {
    ...a,
    tablesRead: uniq([...a.tablesRead, ...b.tablesRead], tk),
    outputs: [...a.outputs, ...b.outputs].map((o, index) => ({ ...o, index })),
    reads: uniq([...a.reads, ...b.reads], (r) => `${tk(r.column)}.${r.column.column}:${r.place}`),
    wholeRows: uniq([...a.wholeRows, ...b.wholeRows], tk),
    write: worst(writes), ...(writes.length > 1 ? { writes } : {}),
    ddlTargets: [...a.ddlTargets, ...b.ddlTargets],
    dynamic: uniq([...a.dynamic, ...b.dynamic], (d) => `${d.kind}:${d.name ?? ''}`),
    hints: [...a.hints, ...b.hints],
    unresolved: a.unresolved ?? b.unresolved,
    sessionChange: a.sessionChange ?? b.sessionChange,
    ...(a.settings || b.settings ? { settings: [...a.settings ?? [], ...b.settings ?? []] } : {}),
  };
}

function ddlTarget(n: QName, ctx: AnalyzeContext, session: Session): TableId {
  if (ctx.dialect === 'mysql') {
    const db = n.database ?? n.schema ?? session.database ?? '';
    const t = ctx.catalog.lookup(db, db, n.name);
    return { database: db, schema: db, table: t?.name ?? n.name };
  }
  const t = n.schema === undefined ? ctx.catalog.lookup(session.database, undefined, n.name, session.searchPath) : ctx.catalog.lookup(session.database, n.schema, n.name);
  if (t) return { database: t.database, schema: t.schema, table: t.name };
  const database = n.database ?? session.database ?? ctx.catalog.tables().find((x) => x.schema !== 'pg_catalog')?.database ?? '';
  return { database, schema: n.schema ?? session.searchPath.find((s) => s !== '"$user"' && s !== '$user') ?? 'public', table: n.name };
}

// ---------------------------------------------------------------- cache

const catalogIds = new WeakMap<Catalog, number>();
let nextCatalogId = 1;

function catalogId(c: Catalog): number {
  let id = catalogIds.get(c);
  if (id === undefined) catalogIds.set(c, id = nextCatalogId++);
  return id;
}

const cache = new LRUCache<string, StatementFacts[]>({
  max: 20_000,
  // Bound memory by text size too: a few huge statements must not pin the heap.
  maxSize: 64 * 1024 * 1024,
  sizeCalculation: (v, k) => k.length * 2 + v.length * 512,
});

interface ContextKey {
  readonly database: string | undefined;
  readonly catalog: Catalog;
  readonly version: number;
  readonly key: string;
}

/**
 * Database, search path and catalog snapshot as part of a cache key. A
 * session hands the same search-path array with every statement, so the
 * text is built once per session and snapshot, not per statement.
 */
const contextKeys = new WeakMap<readonly string[], ContextKey>();

function contextKey(ctx: AnalyzeContext): string {
  let k = contextKeys.get(ctx.searchPath);
  if (!k || k.database !== ctx.database || k.catalog !== ctx.catalog || k.version !== ctx.catalog.version) {
    k = {
      database: ctx.database, catalog: ctx.catalog, version: ctx.catalog.version,
      key: `${ctx.database ?? '\u0001'}\u0000${ctx.searchPath.join('\u0001')}\u0000${catalogId(ctx.catalog)}:${ctx.catalog.version}`,
    };
    contextKeys.set(ctx.searchPath, k);
  }
  return k.key;
}

function exactKey(sql: string, ctx: AnalyzeContext): string {
  return `${ctx.dialect}\u0000${contextKey(ctx)}\u0000${sql}`;
}

/** Statement kinds whose facts carry literal values (PREPARE text, setting values): never shared by digest. */
const LITERAL_DEPENDENT = new Set(['prepare', 'execute', 'set', 'load_data', 'copy']);

/**
 * Facts holding a literal's value whatever the statement's kind: a SELECT of
 * set_config('name', 'value', …) is a SET, and `set_config('app.x', 'y')`
 * must not lend its decision to `set_config('standard_conforming_strings', 'off')`.
 */
function carriesLiterals(f: StatementFacts): boolean {
  return f.settings !== undefined || f.sessionChange !== undefined;
}

/**
 * `analyze` behind an LRU cache. The key holds the dialect, database, search
 * path, catalog identity and version, and the exact text, so two different
 * statements or contexts never share an entry. Besides, statements that
 * differ only in literal values share one analysis through their digest
 * (MySQL: lexer.ts; PostgreSQL: pg-digest.ts), in the same context only; the
 * copy gets its own text and `shapeOf` leads back to the original. Callers
 * must treat the returned facts as immutable.
 */
export function analyzeCached(sql: string, ctx: AnalyzeContext): StatementFacts[] {
  if (ctx.dialect === 'postgres') return analyzePgCached(sql, ctx);
  const key = exactKey(sql, ctx);
  const hit = cache.get(key);
  if (hit) return hit;
  // MySQL parsing is slow: statements that differ only in literals share one
  // analysis through their digests. Analysis never depends on literal values
  // (a constant predicate counts as always true whatever it is), and the
  // statements whose facts do carry literals are excluded.
  const stmts = splitMysql(sql);
  const shareable = stmts.length > 0 && stmts.every((s) => !s.error && !s.alternative);
  const dkey = shareable ? `mysql-digest\u0000${contextKey(ctx)}\u0000${stmts.map((s) => s.digest).join('\u0000;')}` : undefined;
  const shared = dkey ? cache.get(dkey) : undefined;
  if (shared && shared.length === stmts.length) {
    const facts = shared.map((f, i) => {
      const copy = { ...f, text: stmts[i].text };
      sharesShape(copy, f);
      return copy;
    });
    // Not stored under the exact text (as for PostgreSQL): with fresh literals
    // every time that only churned the cache and promoted garbage.
    return facts;
  }
  const facts = analyzeWith(sql, ctx, stmts);
  cache.set(key, facts);
  if (dkey && facts.length === stmts.length && facts.every((f) => !LITERAL_DEPENDENT.has(f.kind) && !carriesLiterals(f) && f.dynamic.every((d) => d.kind !== 'prepare-from-text' && d.kind !== 'execute-dynamic'))) cache.set(dkey, facts);
  return facts;
}

/**
 * Statement kinds PostgreSQL shares by digest: plain data statements, whose
 * facts never carry a literal value (EXPLAIN options, DO and function bodies,
 * SET values, COPY file names, PREPAREd statements are left out).
 */
const PG_SHAREABLE = new Set(['select', 'insert', 'update', 'delete', 'merge']);

/**
 * PostgreSQL parsing (libpg-query) costs about a millisecond under load:
 * single statements that differ only in literals share one analysis through
 * the digest lexer (`pg-digest.ts`), keyed like the MySQL ones. Shared facts
 * get the new statement's text; the fingerprint (libpg-query's, which
 * ignores constants) stays the shape's.
 */
function analyzePgCached(sql: string, ctx: AnalyzeContext): StatementFacts[] {
  // The digest first: a statement the lexer reads is found by its shape, and
  // an application's statements mostly differ from the cached one in
  // literals only; the exact text's (long) key is built only when it is not.
  const d = pgReady() ? pgDigest(sql) : undefined;
  const dkey = d ? `postgres-digest\u0000${contextKey(ctx)}\u0000${d.digest}` : undefined;
  const shared = dkey ? cache.get(dkey) : undefined;
  if (d && shared && shared.length === 1) {
    if (shared[0].text === d.text) return shared;
    // Not stored under the exact text: fresh literals every time would only churn the cache.
    const copy = { ...shared[0], text: d.text };
    sharesShape(copy, shared[0]);
    return [copy];
  }
  const key = exactKey(sql, ctx);
  const hit = cache.get(key);
  if (hit) return hit;
  const facts = analyzeWith(sql, ctx, undefined, d);
  cache.set(key, facts);
  if (dkey && d && facts.length === 1 && facts[0].text === d.text && PG_SHAREABLE.has(facts[0].kind) && !carriesLiterals(facts[0])
    && facts[0].dynamic.every((x) => x.kind !== 'prepare-from-text' && x.kind !== 'execute-dynamic' && x.kind !== 'do-block')) {
    cache.set(dkey, facts);
  }
  return facts;
}

/** For tests and benchmarks. */
export function clearAnalysisCache(): void {
  cache.clear();
}
