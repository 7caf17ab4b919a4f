/**
 * Versioned schema migrations of the control-plane store. Each runs once, in
 * order, at open, inside one transaction together with the bookkeeping row
 * that records it; the store implementations make that safe when several
 * nodes open the same store at once (PostgreSQL advisory lock, SQLite
 * `BEGIN IMMEDIATE`).
 *
 * Append only: never edit a migration that has shipped; add the next version.
 * The SQL of each migration must run on both SQLite and PostgreSQL, or give
 * both texts.
 */

/** One schema step. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  /** Statements run in order; identical on both backends unless `postgres` is given. */
  readonly sqlite: readonly string[];
  readonly postgres: readonly string[];
}

const both = (version: number, name: string, statements: readonly string[]): Migration =>
  ({ version, name, sqlite: statements, postgres: statements });

/** The bookkeeping table; created before any migration runs. */
export const MIGRATIONS_TABLE = 'sqlgate_migrations';

export const CREATE_MIGRATIONS_TABLE =
  `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
     version INTEGER PRIMARY KEY,
     name TEXT NOT NULL,
     applied_at TEXT NOT NULL
   )`;

export const MIGRATIONS: readonly Migration[] = [
  both(1, 'quota-usage', [
    // last_grant records what the latest reservation granted, so that one
    // UPDATE ... RETURNING can report it (PostgreSQL 15 has no OLD in RETURNING).
    `CREATE TABLE sqlgate_quota_usage (
       principal TEXT NOT NULL,
       day TEXT NOT NULL,
       rows_used BIGINT NOT NULL DEFAULT 0,
       queries_used BIGINT NOT NULL DEFAULT 0,
       last_grant BIGINT NOT NULL DEFAULT 0,
       PRIMARY KEY (principal, day)
     )`,
    'CREATE INDEX sqlgate_quota_usage_day ON sqlgate_quota_usage (day)',
  ]),
];

/** The version this build of sqlgate migrates to. */
export const LATEST_VERSION = MIGRATIONS.reduce((v, m) => Math.max(v, m.version), 0);
