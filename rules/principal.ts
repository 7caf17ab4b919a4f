/**
 * What the rules may ask about the user running a statement. The engine
 * (`governance/engine/index.ts`) compiles it from the policy once per policy
 * version, user and instance; rules stay pure functions of facts + principal.
 */
import type { Dialect, ColumnId, TableId } from '../governance/facts.js';
import type { Instance, Limits, Mask, Privilege, StatementKind, User } from './policy-schema.js';

export interface Principal {
  readonly user: string;
  readonly definition: User;
  readonly instanceName: string;
  readonly instance: Instance;
  readonly dialect: Dialect;
  /** Role names that exist in the policy, in the user's order. */
  readonly roles: readonly string[];
  /** Statement kinds any of the user's roles may run. */
  readonly kinds: ReadonlySet<StatementKind>;
  /** Procedure patterns (`db.proc`, `proc`, `*`) the user may CALL. */
  readonly procedures: readonly string[];
  readonly fileIo: boolean;
  /** Rule ids the user may skip with a hint. */
  readonly maySkip: ReadonlySet<string>;
  /** Some grant gives ddl on every table of some database (CREATE DATABASE/SCHEMA, CREATE FUNCTION...). */
  readonly ddlAnywhere: boolean;
  /**
   * May read every column of every table on the instance in full: a select
   * grant on everything, no masking rule that applies, and (with label
   * security) a clearance no label exceeds. Creating code that runs with the
   * service account (functions, triggers, events) needs it: such code is not
   * judged when it runs.
   */
  readonly readsEverything: boolean;
  /** Effective limits: DEFAULT_LIMITS < policy < instance < user. */
  readonly limits: Required<Limits>;
  /** Privileges ('all' expanded) the user holds on one column. */
  privileges(column: ColumnId): ReadonlySet<Privilege>;
  /** Privileges held on any part of a table (a table grant or any column grant). */
  tablePrivileges(table: TableId): ReadonlySet<Privilege>;
  /** Privileges held on the whole table (grants without a column list): they cover every column. */
  wholeTablePrivileges(table: TableId): ReadonlySet<Privilege>;
  /** True when a grant names this column explicitly (not by table grant or wildcard) with that privilege. */
  explicitColumnGrant(column: ColumnId, privilege: Privilege): boolean;
  /** True when a grant names this table explicitly (not '*') with that privilege. */
  explicitTableGrant(table: TableId, privilege: Privilege): boolean;
  /** Sensitivity level of a column (0 when unlabelled). */
  columnLabel(column: ColumnId): number;
  /** Level of a table or view labelled as a whole (0 when unlabelled). */
  tableLabel(table: TableId): number;
  /** Column labels that may apply to some column of this table: for whole-row reads. */
  columnLabelsOf(table: TableId): readonly { readonly column: string; readonly level: number }[];
  /** A role names this table in `unqualified_dml_tables`. */
  unqualifiedDmlAllowed(table: TableId): boolean;
  /** The masking rule that applies to this user for a column, if any. */
  mask(column: ColumnId): Mask | undefined;
  /** True when some masking rule for this user may cover a column of this table. */
  masksTable(table: TableId): boolean;
}

/** How objects are shown in messages: MySQL has no schema level. */
export function showTable(dialect: Dialect, t: TableId): string {
  return dialect === 'mysql' ? `${t.database}.${t.table}` : `${t.schema}.${t.table}`;
}

export function showColumn(dialect: Dialect, c: ColumnId): string {
  return `${showTable(dialect, c)}.${c.column}`;
}
