/**
 * The small relational form both dialects are lowered into. Scope
 * resolution, `*` expansion and lineage (`resolve.ts`) are written once, on
 * this form. Names are as the server will compare them: the PostgreSQL
 * parser has already folded unquoted identifiers; MySQL names are kept as
 * written and compared with the dialect's rules by the resolver.
 */
import type { DynamicFacts, SessionChange, SettingChange, Unresolved } from '../facts.js';
import type { StatementKind } from '../../rules/policy-schema.js';

/** A possibly qualified relation name: [database,] [schema,] name. */
export interface QName {
  readonly database?: string;
  readonly schema?: string;
  readonly name: string;
}

/** Scalar expressions. Unknown constructs become `other` over their children (conservative). */
export type Expr =
  /** `a`, `t.a`, `s.t.a`: the last part is the column (or, in PostgreSQL, possibly a whole-row table reference). */
  | { readonly kind: 'column'; readonly path: readonly string[] }
  /** `*` or `t.*` (outputs, count(*) excluded). */
  | { readonly kind: 'star'; readonly path: readonly string[] }
  /** A constant; `value` only for the booleans/NULL the always-true test looks at. */
  | { readonly kind: 'literal'; readonly value?: boolean | null; readonly ordinal?: number }
  /** `$1`, `?`, `@var`, `@@sys`. */
  | { readonly kind: 'param' }
  | { readonly kind: 'func'; readonly name: string; readonly args: readonly Expr[]; readonly aggregate: boolean; readonly window?: readonly Expr[]; readonly star?: boolean }
  /** Operators, CASE, casts, IN lists...: `op` is upper-case (`=`, `AND`, `OR`, `NOT`, `CASE`, `CAST`...). */
  | { readonly kind: 'op'; readonly op: string; readonly args: readonly Expr[] }
  | { readonly kind: 'subquery'; readonly mode: 'scalar' | 'exists' | 'in' | 'array'; readonly query: Query; readonly lhs?: Expr }
  /** Field of a composite: `(t).col`, `(t).*`. */
  | { readonly kind: 'field'; readonly base: Expr; readonly field: string | '*' }
  /** A MySQL/PG construct that is safe to ignore for lineage (DEFAULT, intervals' units...). */
  | { readonly kind: 'other'; readonly args: readonly Expr[] };

export interface Target {
  readonly expr: Expr;
  /** Explicit alias. */
  readonly alias?: string;
}

export interface OrderItem {
  readonly expr: Expr;
}

export interface With {
  readonly recursive: boolean;
  readonly ctes: readonly Cte[];
}

export interface Cte {
  readonly name: string;
  readonly columns?: readonly string[];
  /** A query, or a data-modifying statement (PostgreSQL `WITH d AS (DELETE ... RETURNING ...)`). */
  readonly body: Query | WriteStmt;
}

export type Query = SelectQuery | SetOpQuery | ValuesQuery;

export interface SelectQuery {
  readonly kind: 'select';
  readonly with?: With;
  /** SELECT DISTINCT: the outputs are grouped on, which is an equality oracle. */
  readonly distinct?: boolean;
  readonly distinctOn?: readonly Expr[];
  readonly targets: readonly Target[];
  readonly from: readonly FromItem[];
  readonly where?: Expr;
  readonly groupBy: readonly Expr[];
  readonly having?: Expr;
  readonly windows: readonly Expr[];
  readonly orderBy: readonly OrderItem[];
  readonly limit: boolean;
  /** LIMIT/OFFSET expressions when they are more than constants (PostgreSQL allows subqueries). */
  readonly limitExprs?: readonly Expr[];
  /** `SELECT ... INTO @x` / `INTO OUTFILE`: outputs do not reach the client. */
  readonly into?: 'variable' | 'outfile' | 'table';
}

export interface SetOpQuery {
  readonly kind: 'setop';
  readonly op: string;
  readonly with?: With;
  readonly left: Query;
  readonly right: Query;
  readonly orderBy: readonly OrderItem[];
  readonly limit: boolean;
  readonly limitExprs?: readonly Expr[];
}

export interface ValuesQuery {
  readonly kind: 'values';
  readonly rows: readonly (readonly Expr[])[];
}

export type FromItem =
  | { readonly kind: 'table'; readonly name: QName; readonly alias?: string; readonly columnAliases?: readonly string[] }
  | { readonly kind: 'derived'; readonly query: Query; readonly alias?: string; readonly columnAliases?: readonly string[]; readonly lateral: boolean }
  /** Set-returning function in FROM (generate_series, unnest, json_to_recordset, JSON_TABLE...). */
  | { readonly kind: 'function'; readonly func: Expr; readonly alias?: string; readonly columnAliases?: readonly string[] }
  | { readonly kind: 'join'; readonly left: FromItem; readonly right: FromItem; readonly on?: Expr; readonly using?: readonly string[]; readonly natural: boolean };

export interface Assignment {
  /** Target column (qualifier allowed in MySQL multi-table UPDATE). */
  readonly column: string;
  readonly qualifier?: string;
  readonly value: Expr;
}

export interface InsertStmt {
  readonly kind: 'insert';
  readonly with?: With;
  readonly target: QName;
  readonly alias?: string;
  /** Explicit column list; undefined means all columns in order. */
  readonly columns?: readonly string[];
  readonly source?: Query;
  /** ON CONFLICT DO UPDATE / ON DUPLICATE KEY UPDATE. */
  readonly upsert?: { readonly sets: readonly Assignment[]; readonly where?: Expr };
  readonly returning: readonly Target[];
  readonly replace: boolean;
}

export interface UpdateStmt {
  readonly kind: 'update';
  readonly with?: With;
  /** The table(s) named after UPDATE; MySQL may join several. */
  readonly tables: readonly FromItem[];
  /** PostgreSQL UPDATE ... FROM. */
  readonly from: readonly FromItem[];
  readonly sets: readonly Assignment[];
  readonly where?: Expr;
  readonly orderBy: readonly OrderItem[];
  readonly limit: boolean;
  readonly returning: readonly Target[];
}

export interface DeleteStmt {
  readonly kind: 'delete';
  readonly with?: With;
  /** Tables rows are deleted from (names or aliases appearing in `from`). */
  readonly targets: readonly QName[];
  /** FROM list (MySQL multi-table) or the target plus PostgreSQL USING. */
  readonly from: readonly FromItem[];
  readonly where?: Expr;
  readonly orderBy: readonly OrderItem[];
  readonly limit: boolean;
  readonly returning: readonly Target[];
}

export interface MergeStmt {
  readonly kind: 'merge';
  readonly with?: With;
  readonly target: FromItem & { readonly kind: 'table' };
  readonly source: FromItem;
  readonly on: Expr;
  readonly sets: readonly Assignment[];
  readonly insertColumns: readonly string[];
  readonly insertValues: readonly Expr[];
  readonly conditions: readonly Expr[];
  readonly deletes: boolean;
}

export interface TruncateStmt {
  readonly kind: 'truncate';
  readonly targets: readonly QName[];
}

export type WriteStmt = InsertStmt | UpdateStmt | DeleteStmt | MergeStmt | TruncateStmt;

export interface QueryStmt {
  readonly kind: 'query';
  readonly query: Query;
}

/** The relational part of a statement, when it has one. */
export type RelStmt = QueryStmt | WriteStmt;

/** What a dialect front end hands the resolver for one statement. */
export interface Lowered {
  readonly kind: StatementKind;
  readonly verb: string;
  readonly rel?: RelStmt;
  /** Queries read by the statement but not returned (CREATE VIEW/TABLE AS, SET @x := (...), COPY (q) TO file). */
  readonly sideQueries: readonly Query[];
  /** Whether `rel`'s outputs reach the client. */
  readonly returnsRows: boolean;
  readonly ddlTargets: readonly QName[];
  /**
   * What a DDL statement can move or expose, as queries read at place 'ddl':
   * the whole of a table it alters, renames, indexes or hangs a trigger or
   * policy on, or joins to another by inheritance or partitioning (a rename
   * or `ALTER ... USING` moves values between names, and name-based grants,
   * labels and masks would follow the names, not the values), and the
   * columns a foreign key checks (an existence oracle).
   */
  readonly ddlReads?: readonly Query[];
  /**
   * CREATE TABLE without IF NOT EXISTS: if it runs, the table is new, so a
   * later statement of the same message reaches nothing in it that existed
   * before (its `ddlReads` of the table are not needed).
   */
  readonly creates?: QName;
  /** The columns `creates` defines, when its definition names them all (no LIKE, INHERITS, AS SELECT...). */
  readonly createsColumns?: readonly string[];
  readonly dynamic: readonly DynamicFacts[];
  readonly sessionChange?: SessionChange;
  readonly settings?: readonly SettingChange[];
  readonly unresolved?: Unresolved;
  /** Statement texts to analyse as well (PREPARE s FROM 'text'). */
  readonly nested: readonly string[];
  /** Expressions evaluated outside any table scope (SET x = f(...), CALL args, DO). */
  readonly exprs: readonly Expr[];
  /** EXPLAIN without ANALYZE: the statement is planned, not run, so its writes do not happen. */
  readonly explainOnly?: boolean;
  /** PostgreSQL DECLARE, FETCH, MOVE, CLOSE: the cursor named ('' for CLOSE ALL). */
  readonly cursor?: { readonly name: string; readonly hold: boolean };
  /** MySQL: the reading without executable comments the server may skip; both are judged. */
  readonly alternative?: Lowered;
}

/** `SELECT *` (or the given columns) from one table: how `ddlReads` names what DDL reaches. */
export function readOf(name: QName, columns?: readonly string[]): Query {
  return {
    kind: 'select',
    targets: columns && columns.length > 0 ? columns.map((c) => ({ expr: { kind: 'column', path: [c] } })) : [{ expr: { kind: 'star', path: [] } }],
    from: [{ kind: 'table', name }], groupBy: [], windows: [], orderBy: [], limit: false,
  };
}

export function lowered(kind: StatementKind, verb: string, more: Partial<Lowered> = {}): Lowered {
  return { kind, verb, sideQueries: [], returnsRows: false, ddlTargets: [], dynamic: [], nested: [], exprs: [], ...more };
}

/** Every column name referenced anywhere in a lowered statement (last path part). */
export function irColumnNames(x: unknown, out: Set<string> = new Set(), depth = 0): Set<string> {
  if (!x || typeof x !== 'object' || depth > 400) return out;
  if (Array.isArray(x)) {
    for (const y of x) irColumnNames(y, out, depth + 1);
    return out;
  }
  const o = x as { kind?: unknown; path?: unknown };
  if (o.kind === 'column' && Array.isArray(o.path) && o.path.length > 0) out.add(String(o.path[o.path.length - 1]));
  // for…in, not Object.values: this walk runs on every new statement, and the array per node was its cost.
  const rec = x as Record<string, unknown>;
  for (const k in rec) {
    const v = rec[k];
    if (v && typeof v === 'object') irColumnNames(v, out, depth + 1);
  }
  return out;
}
