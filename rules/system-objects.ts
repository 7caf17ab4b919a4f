/**
 * System catalogs clients and drivers read on their own (psql's \d, JDBC
 * metadata, `information_schema`) are readable without a grant, so that
 * ordinary tools work through sqlgate. Relations that hold secrets or other
 * sessions' data (password hashes, statistics with sample values, other
 * users' query texts, large objects) are not: they need an explicit grant.
 */
import type { ColumnId, Dialect, TableId } from '../governance/facts.js';

const PG_DENIED = new Set([
  'pg_authid', 'pg_shadow', 'pg_user_mapping', 'pg_user_mappings', 'pg_statistic', 'pg_statistic_ext_data',
  'pg_stats', 'pg_stats_ext', 'pg_stats_ext_exprs', 'pg_largeobject', 'pg_stat_activity', 'pg_stat_statements',
  'pg_hba_file_rules', 'pg_file_settings', 'pg_ident_file_mappings', 'pg_subscription', 'pg_replication_slots',
  'pg_stat_replication', 'pg_prepared_xacts',
]);

/**
 * information_schema tables that show other sessions' statements or data:
 * through sqlgate every user shares the service account's sessions.
 * PROCESSLIST and INNODB_TRX hold statement texts, INNODB_LOCKS the key
 * values of locked rows.
 */
const MYSQL_DENIED = new Set(['PROCESSLIST', 'INNODB_TRX', 'INNODB_LOCKS']);

/**
 * True when a system catalog relation (or, given a ColumnId, one column of
 * it) is readable by anyone. pg_authid is denied as a table, but its columns
 * other than the password hash are what PostgreSQL's own pg_roles view shows
 * every user; psql's \d and \du read them through that view.
 */
export function freelyReadable(dialect: Dialect, t: TableId | ColumnId): boolean {
  const schema = t.schema.toLowerCase();
  if (dialect === 'mysql') return schema === 'information_schema' && !MYSQL_DENIED.has(t.table.toUpperCase());
  if (schema === 'information_schema') return true;
  if (schema !== 'pg_catalog') return false;
  const table = t.table.toLowerCase();
  if (!PG_DENIED.has(table)) return true;
  return table === 'pg_authid' && 'column' in t && t.column.toLowerCase() !== 'rolpassword';
}

/** May a statement name this table at all: freely readable, or with freely readable columns (pg_authid). */
export function visibleSystemTable(dialect: Dialect, t: TableId): boolean {
  return freelyReadable(dialect, t) || (dialect === 'postgres' && t.schema.toLowerCase() === 'pg_catalog' && t.table.toLowerCase() === 'pg_authid');
}

/**
 * MySQL SHOW statements that reveal other sessions' statements or data:
 * every user of sqlgate shares the service account, so SHOW PROCESSLIST
 * lists them all, SHOW ENGINE INNODB STATUS quotes recent statements, the
 * binary and relay logs hold every change, SHOW EXPLAIN / ANALYZE FOR a
 * thread shows its query. They need what reading PROCESSLIST needs: a
 * select grant on information_schema.PROCESSLIST.
 */
export const MYSQL_SESSION_SHOWS: ReadonlySet<string> = new Set(['show_processlist', 'show_engine', 'show_binlog', 'show_relaylog', 'show_explain', 'show_analyze']);

/**
 * MySQL SHOW statements that print database accounts' password hashes
 * (MariaDB's SHOW GRANTS ends its USAGE line with IDENTIFIED BY PASSWORD
 * '*…'; SHOW CREATE USER likewise), the service account's included: an
 * offline-cracked hash is a way around sqlgate. They need what reading the
 * accounts table needs: a select grant on mysql.user.
 */
export const MYSQL_ACCOUNT_SHOWS: ReadonlySet<string> = new Set(['show_grants', 'show_create_user']);

export const MYSQL_USER_TABLE: TableId = { database: 'mysql', schema: 'mysql', table: 'user' };

export const MYSQL_PROCESSLIST: TableId = { database: 'information_schema', schema: 'information_schema', table: 'PROCESSLIST' };
