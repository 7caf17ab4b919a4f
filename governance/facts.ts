/**
 * What the analysis knows about one statement: the contract between
 * `governance/analyze/` (which produces it, for either dialect) and the rules
 * in `rules/` (which judge it). Rules never look at SQL text or ASTs.
 *
 * Names here are as the catalog spells them (already case-folded/resolved),
 * so a rule compares them with `===` after `objectKey` normalisation.
 */
import type { StatementKind } from '../rules/policy-schema.js';

export type Dialect = 'mysql' | 'postgres';

/** A base table or view, fully qualified. MySQL: schema === database. */
export interface TableId {
  readonly database: string;
  readonly schema: string;
  readonly table: string;
}

/** A base column. */
export interface ColumnId extends TableId {
  readonly column: string;
}

/** Where a column is read, other than as a bare output. */
export type ReadPlace =
  | 'output-expression' // inside an expression that forms an output column
  | 'where' | 'join' | 'group-by' | 'having' | 'order-by' | 'window'
  | 'function-arg' | 'aggregate' | 'subquery' | 'whole-row'
  | 'set' // right-hand side of UPDATE SET / INSERT source
  | 'returning' | 'other'
  | 'ddl'; // a table a DDL statement can move or expose, a column a foreign key checks

/** One output column of a result and where its value comes from. */
export interface OutputColumn {
  /** Position in the result, 0-based. */
  readonly index: number;
  /** The name the client will see. */
  readonly name: string;
  /**
   * Base columns this output derives from. `bare` is true when the value is a
   * base column passed through unchanged (possibly via aliases, derived
   * tables, CTEs or views); only a bare output may be masked.
   */
  readonly sources: readonly { readonly column: ColumnId; readonly bare: boolean }[];
}

/** A column read somewhere other than a bare output. */
export interface ColumnRead {
  readonly column: ColumnId;
  readonly place: ReadPlace;
}

/** Facts about a write (INSERT/UPDATE/DELETE/REPLACE/MERGE/TRUNCATE). */
/**
 * What a write does to its target. `upsert`: INSERT … ON CONFLICT DO UPDATE /
 * ON DUPLICATE KEY UPDATE (inserts, and updates the SET columns); `replace`:
 * MySQL REPLACE (deletes, then inserts).
 */
export type WriteKind = 'insert' | 'replace' | 'upsert' | 'update' | 'delete' | 'merge' | 'truncate';

export interface WriteFacts {
  readonly kind: WriteKind;
  readonly target: TableId;
  /** Columns written; empty for DELETE/TRUNCATE. */
  readonly columns: readonly ColumnId[];
  readonly truncate: boolean;
  readonly hasWhere: boolean;
  readonly hasLimit: boolean;
  /** The WHERE is always true (1=1, TRUE, 'a'='a', x OR 1=1, id = id...). */
  readonly alwaysTrue: boolean;
  /** The WHERE references at least one column of the target table. */
  readonly whereTouchesTarget: boolean;
}

/** Dynamic or out-of-band execution the rules must see. */
export type DynamicKind =
  | 'prepare-from-variable' // PREPARE s FROM @v
  | 'prepare-from-text'     // PREPARE s FROM 'literal' (the literal is analysed too)
  | 'execute-dynamic'       // EXECUTE of dynamic text (plpgsql EXECUTE, EXECUTE IMMEDIATE)
  | 'do-block'              // DO $$ ... $$
  | 'call'                  // CALL proc
  | 'load-data' | 'copy-from-file' | 'copy-to-file' | 'copy-program'
  | 'into-outfile' | 'file-function' // LOAD_FILE, pg_read_file, lo_import...
  | 'set-variable-from-query' // SET @x := (SELECT ...)
  | 'untrusted-function';     // a function not known to be safe

export interface DynamicFacts {
  readonly kind: DynamicKind;
  /** Procedure/function/statement name where relevant. */
  readonly name?: string;
}

/** A `/*+ sqlgate:... *\/` hint addressed to sqlgate. */
export interface Hint {
  readonly name: string; // e.g. 'skip'
  readonly args: readonly string[]; // e.g. ['no-unqualified-dml']
}

/** Why analysis could not finish; the engine refuses (fail closed). */
export interface Unresolved {
  readonly code: 'UNPARSED_STATEMENT' | 'UNRESOLVED_COLUMN' | 'UNRESOLVED_TABLE' | 'UNTRACKED_SETTING';
  readonly message: string;
}

/** Everything the rules need about one statement. */
export interface StatementFacts {
  readonly dialect: Dialect;
  readonly kind: StatementKind;
  /** For kind 'ddl' etc.: the more exact verb (create_table, alter_table, truncate, drop...). */
  readonly verb: string;
  /** The statement's own text (one statement of a multi-statement string). */
  readonly text: string;
  /** Normalised shape: literals replaced, so equal shapes share it. */
  readonly fingerprint: string;
  /** Every base table or view read, in any clause. */
  readonly tablesRead: readonly TableId[];
  /** Result columns, for statements that return rows (SELECT, RETURNING, SHOW...). */
  readonly outputs: readonly OutputColumn[];
  /** Columns read anywhere other than a bare output (predicates are oracles). */
  readonly reads: readonly ColumnRead[];
  /** Whole-row references (PostgreSQL `t`, `to_jsonb(t)`, `(t).*`): every column of the table is read. */
  readonly wholeRows: readonly TableId[];
  readonly write: WriteFacts | undefined;
  /**
   * Every write when there is more than one (multi-table UPDATE/DELETE,
   * data-modifying CTEs, PREPARE text): `write` is then the one most in need
   * of a check (TRUNCATE, no WHERE, always-true, WHERE not on the target).
   */
  readonly writes?: readonly WriteFacts[];
  /** Tables a DDL statement creates, alters or drops. */
  readonly ddlTargets: readonly TableId[];
  readonly dynamic: readonly DynamicFacts[];
  readonly hints: readonly Hint[];
  /** Session changes the endpoint must track (USE db, SET search_path...). */
  readonly sessionChange: SessionChange | undefined;
  /** Every server setting a SET statement assigns, in order (user variables are not settings). */
  readonly settings?: readonly SettingChange[];
  /** Set when analysis could not finish: the engine refuses. */
  readonly unresolved: Unresolved | undefined;
  /**
   * PostgreSQL DECLARE, FETCH, MOVE, CLOSE: the cursor named ('' for CLOSE
   * ALL). A cursor's rows reach the client by FETCH, masked as its DECLARE
   * was judged.
   */
  readonly cursor?: { readonly name: string; readonly hold: boolean };
}

/**
 * One assignment of a server setting. `scope` global: MySQL SET GLOBAL /
 * PERSIST / @@global.x, which outlive the session and reach every other one.
 */
export interface SettingChange {
  /** Lower case, without `@@` and scope. */
  readonly name: string;
  readonly scope: 'session' | 'global';
  readonly value: SettingValue;
}

/**
 * What a setting is set to, as far as the text tells without running it:
 * - constant: string literals (adjacent ones joined), a number or a bare word;
 * - default: DEFAULT / RESET, the server's default, which sqlgate does not know;
 * - extends-current: built only from the setting's own current value and
 *   string literals by CONCAT / CONCAT_WS / REPLACE, as ORMs add a mode
 *   (`CONCAT(@@sql_mode, ',STRICT_TRANS_TABLES')`); `literals` are those strings;
 * - expression: anything else (variables, arithmetic, hex, subqueries...).
 */
export type SettingValue =
  | { readonly kind: 'constant'; readonly text: string; readonly quoted: boolean }
  | { readonly kind: 'default' }
  | { readonly kind: 'extends-current'; readonly literals: readonly string[] }
  | { readonly kind: 'expression'; readonly text: string };

export type SessionChange =
  | { readonly kind: 'use'; readonly database: string }
  | { readonly kind: 'search-path'; readonly schemas: readonly string[]; readonly local: boolean }
  | { readonly kind: 'reset-search-path' }
  | { readonly kind: 'setting'; readonly name: string; readonly value: string | undefined };

/** Canonical key for maps: instance-independent `db.schema.table[.column]`. */
export function objectKey(id: TableId | ColumnId): string {
  const base = `${id.database}.${id.schema}.${id.table}`;
  return 'column' in id ? `${base}.${id.column}` : base;
}
