/**
 * judge(sql, session) → Judgement for one client message: analyse every
 * statement, decide each, and deny the whole message if any statement is
 * denied, so a multi-statement string whose second statement is bad runs
 * nothing. A USE or SET search_path inside the message changes how the
 * statements after it resolve, as it will on the server: the analysis
 * carries the change along, and when it also means another catalog (another
 * PostgreSQL database's), the rest of the message is analysed again on it.
 */
import type { Judgement, SessionContext } from '../decision.js';
import type { Dialect, StatementFacts, TableId } from '../facts.js';
import type { Policy } from '../../rules/policy-schema.js';
import { SqlgateError } from '../errors.js';
import { decide, type EngineDecision } from './decide.js';
import { shapeOf } from '../analyze/shape.js';

/** The catalog surface the engine needs (row estimates and column lists). */
export interface EngineCatalog {
  readonly version: number;
  lookup(database: string | undefined, schema: string | undefined, name: string, searchPath?: readonly string[]): { readonly rows: number; readonly oid?: number; readonly columns: readonly { readonly name: string; readonly ordinal: number }[] } | undefined;
}

export interface AnalyzeContext<C> {
  readonly dialect: Dialect;
  readonly catalog: C;
  readonly database: string | undefined;
  readonly searchPath: readonly string[];
}

/** `governance/analyze` as the engine sees it. */
export type Analyzer<C> = (sql: string, ctx: AnalyzeContext<C>) => StatementFacts[];

export interface JudgeOptions<C extends EngineCatalog> {
  readonly policy: Policy;
  readonly analyze: Analyzer<C>;
  /** The catalog for a database of the session's instance. */
  readonly catalogFor: (database: string | undefined) => C | Promise<C>;
  /** Affected-row estimate for change-approval; default: the target table's row estimate. */
  readonly estimate?: (facts: StatementFacts, catalog: C) => number | undefined | Promise<number | undefined>;
  /** The change was approved (ticket execution): change-approval passes. */
  readonly approved?: boolean;
}

export interface EngineJudgement extends Judgement {
  readonly statements: readonly EngineDecision[];
}

function unparsed(dialect: Dialect, sql: string, message: string): StatementFacts {
  return {
    dialect, kind: 'other', verb: 'unparsed', text: sql, fingerprint: '', tablesRead: [], outputs: [], reads: [], wholeRows: [],
    write: undefined, ddlTargets: [], dynamic: [], hints: [], sessionChange: undefined,
    unresolved: { code: 'UNPARSED_STATEMENT', message },
  };
}

function safeAnalyze<C>(analyze: Analyzer<C>, sql: string, ctx: AnalyzeContext<C>): StatementFacts[] {
  try {
    const out = analyze(sql, ctx);
    return out.length > 0 ? out : [];
  } catch (err) {
    // An analysis crash is a statement we did not understand: fail closed.
    const msg = err instanceof SqlgateError ? err.message : `analysis failed: ${(err as Error).message}`;
    return [unparsed(ctx.dialect, sql, msg)];
  }
}

/** Upper bound of rows a write touches: the target's row estimate (inserts from VALUES: 1). */
export function catalogEstimate(facts: StatementFacts, catalog: EngineCatalog): number | undefined {
  const w = facts.write;
  if (!w) return undefined;
  const isInsert = w.kind === 'insert' || w.kind === 'replace' || w.kind === 'upsert';
  if (isInsert && facts.tablesRead.length === 0) return 1;
  if (isInsert) return undefined;
  const t = catalog.lookup(w.target.database, w.target.schema, w.target.table);
  return t && t.rows > 0 ? t.rows : undefined;
}

/**
 * Decisions of cached facts, per policy object, user, instance, catalog
 * snapshot, estimate and approval: everything a decision depends on. The
 * facts object is the analysis cache's entry, so an entry dies with it.
 * Decisions handed out are shared: treat them as immutable.
 */
const decisionCache = new WeakMap<StatementFacts, Map<string, EngineDecision>>();
const ids = new WeakMap<object, number>();
let nextId = 1;

function idOf(o: object): number {
  let id = ids.get(o);
  if (id === undefined) ids.set(o, (id = nextId++));
  return id;
}

function catalogHelpers(catalog: EngineCatalog) {
  return {
    tableRows: (t: TableId) => catalog.lookup(t.database, t.schema, t.table)?.rows,
    tableColumns: (t: TableId) => catalog.lookup(t.database, t.schema, t.table)?.columns.map((c) => c.name),
  };
}

/** Mask directives carry the catalog identity of their column, for the wire's provenance check. */
function withOrigins(d: EngineDecision, catalog: EngineCatalog): EngineDecision {
  if (d.directives.masks.length === 0) return d;
  const masks = d.directives.masks.map((m) => {
    const t = catalog.lookup(m.column.database, m.column.schema, m.column.table);
    const col = t?.columns.find((c) => c.name === m.column.column);
    return t?.oid !== undefined && col ? { ...m, origin: { tableOid: t.oid, attnum: col.ordinal } } : m;
  });
  return { ...d, directives: { ...d.directives, masks } };
}

interface KeyPrefix {
  readonly policy: Policy;
  readonly catalog: EngineCatalog;
  readonly version: number;
  readonly prefix: string;
}

/**
 * The decision key's part that stays the same for a session's statements
 * (policy, user, instance, catalog snapshot), built once per session and
 * snapshot: the same string object every time, so maps find its hash ready
 * instead of building and hashing a new key per statement.
 */
const prefixes = new WeakMap<SessionContext, KeyPrefix>();

function decisionKey(session: SessionContext, policy: Policy, catalog: EngineCatalog, est: number | undefined, approved: boolean): string {
  let p = prefixes.get(session);
  if (!p || p.policy !== policy || p.catalog !== catalog || p.version !== catalog.version) {
    p = { policy, catalog, version: catalog.version, prefix: `${idOf(policy)}\u0000${session.user}\u0000${session.instance}\u0000${idOf(catalog)}:${catalog.version}` };
    prefixes.set(session, p);
  }
  return est === undefined && !approved ? p.prefix : `${p.prefix}\u0000${est}\u0000${approved}`;
}

/** The decision of one statement's facts, from the cache when the same shape was decided in the same context. */
function decideFacts<C extends EngineCatalog>(session: SessionContext, f: StatementFacts, catalog: C, est: number | undefined, opts: JudgeOptions<C> | JudgeNowOptions<C>): EngineDecision {
  const key = decisionKey(session, opts.policy, catalog, est, opts.approved === true);
  // A statement sharing another's analysis (other literals) shares its
  // decision too: the rules never read the text; only `facts` is its own.
  const shape = shapeOf(f);
  let byKey = decisionCache.get(shape);
  let d = byKey?.get(key);
  if (!d) {
    d = withOrigins(decide(shape, {
      policy: opts.policy, user: session.user, instance: session.instance,
      estimatedRows: est, approved: opts.approved, ...catalogHelpers(catalog),
    }), catalog);
    if (!byKey) decisionCache.set(shape, (byKey = new Map()));
    else if (byKey.size >= 64) byKey.clear();
    byKey.set(key, d);
  }
  return shape === f ? d : { ...d, facts: f };
}

/** Where a statement's session change (USE, SET search_path) leaves the statements after it; undefined: no change. */
function afterChange(session: SessionContext, f: StatementFacts, database: string | undefined, searchPath: readonly string[]): { database: string | undefined; searchPath: readonly string[] } | undefined {
  const change = f.sessionChange;
  if (!change) return undefined;
  if (change.kind === 'use' && change.database !== database) return { database: change.database, searchPath };
  if (change.kind === 'search-path') return { database, searchPath: change.schemas };
  if (change.kind === 'reset-search-path') return { database, searchPath: session.searchPath };
  return undefined;
}

function conclude(decisions: EngineDecision[]): EngineJudgement {
  const deny = decisions.find((d) => d.verdict === 'deny');
  const approval = decisions.find((d) => d.verdict === 'needs-approval');
  return {
    verdict: deny ? 'deny' : approval ? 'needs-approval' : 'allow',
    statements: decisions,
    refusal: deny ?? approval,
    raw: decisions.some((d) => d.raw),
  };
}

function analyzeAll<C>(session: SessionContext, sql: string, analyze: Analyzer<C>, catalog: C, database: string | undefined, searchPath: readonly string[]): StatementFacts[] {
  const facts = safeAnalyze(analyze, sql, { dialect: session.dialect, catalog, database, searchPath });
  return facts.length === 0 ? [unparsed(session.dialect, sql, 'no statement found')] : facts;
}

/** The statements after `i`, analysed again on another catalog. */
function reanalyzeRest<C>(session: SessionContext, facts: StatementFacts[], i: number, analyze: Analyzer<C>, catalog: C, database: string | undefined, searchPath: readonly string[]): StatementFacts[] {
  const rest: StatementFacts[] = [];
  for (const g of facts.slice(i + 1)) rest.push(...safeAnalyze(analyze, g.text, { dialect: session.dialect, catalog, database, searchPath }));
  return [...facts.slice(0, i + 1), ...rest];
}

export async function judge<C extends EngineCatalog>(session: SessionContext, sql: string, opts: JudgeOptions<C>): Promise<EngineJudgement> {
  let database = session.database;
  let searchPath = session.searchPath;
  let catalog = await opts.catalogFor(database);
  let facts = analyzeAll(session, sql, opts.analyze, catalog, database, searchPath);
  const decisions: EngineDecision[] = [];
  for (let i = 0; i < facts.length; i++) {
    const f = facts[i];
    const est = opts.estimate ? await opts.estimate(f, catalog) : catalogEstimate(f, catalog);
    decisions.push(decideFacts(session, f, catalog, est, opts));
    const next = i < facts.length - 1 ? afterChange(session, f, database, searchPath) : undefined;
    if (!next) continue;
    ({ database, searchPath } = next);
    // The analysis applies USE / search_path to the statements after it on its
    // own; only a change of catalog (another database's) needs a re-read.
    const nextCatalog = await opts.catalogFor(database);
    if (nextCatalog === catalog) continue;
    catalog = nextCatalog;
    facts = reanalyzeRest(session, facts, i, opts.analyze, catalog, database, searchPath);
  }
  return conclude(decisions);
}

/** What `judgeNow` needs: the catalogs already at hand, and no asynchronous estimate. */
export interface JudgeNowOptions<C extends EngineCatalog> {
  readonly policy: Policy;
  readonly analyze: Analyzer<C>;
  /** The catalog for a database when it is loaded and fresh; undefined sends the caller to `judge`. */
  readonly catalogNow: (database: string | undefined) => C | undefined;
  readonly approved?: boolean;
}

/**
 * `judge` without a turn of the event loop, for the doors' hot path: the
 * same analysis, decisions and caches, when every catalog the message needs
 * is loaded. Returns undefined where `judge` would have to wait (a catalog
 * not loaded yet or expired); the caller then calls `judge`.
 */
export function judgeNow<C extends EngineCatalog>(session: SessionContext, sql: string, opts: JudgeNowOptions<C>): EngineJudgement | undefined {
  let database = session.database;
  let searchPath = session.searchPath;
  let catalog = opts.catalogNow(database);
  if (!catalog) return undefined;
  let facts = analyzeAll(session, sql, opts.analyze, catalog, database, searchPath);
  const decisions: EngineDecision[] = [];
  for (let i = 0; i < facts.length; i++) {
    const f = facts[i];
    decisions.push(decideFacts(session, f, catalog, catalogEstimate(f, catalog), opts));
    const next = i < facts.length - 1 ? afterChange(session, f, database, searchPath) : undefined;
    if (!next) continue;
    ({ database, searchPath } = next);
    const nextCatalog = opts.catalogNow(database);
    if (!nextCatalog) return undefined;
    if (nextCatalog === catalog) continue;
    catalog = nextCatalog;
    facts = reanalyzeRest(session, facts, i, opts.analyze, catalog, database, searchPath);
  }
  return conclude(decisions);
}
