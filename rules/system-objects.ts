/**
 * System catalogs clients and drivers read on their own (psql's \d, JDBC
 * metadata, `information_schema`) are readable without a grant, so that
 * ordinary tools work through sqlgate. Relations that hold secrets or other
 * sessions' data (password hashes, statistics with sample values, other
 * users' query texts, large objects) are not: they need an explicit grant.
 */
import type { Dialect, TableId } from '../governance/facts.js';

const PG_DENIED = new Set([
  'pg_authid', 'pg_shadow', 'pg_user_mapping', 'pg_user_mappings', 'pg_statistic', 'pg_statistic_ext_data',
  'pg_stats', 'pg_stats_ext', 'pg_stats_ext_exprs', 'pg_largeobject', 'pg_stat_activity', 'pg_stat_statements',
  'pg_hba_file_rules', 'pg_file_settings', 'pg_ident_file_mappings', 'pg_subscription', 'pg_replication_slots',
  'pg_stat_replication', 'pg_prepared_xacts',
]);

/** True when a table is a system catalog relation anyone may read. */
export function freelyReadable(dialect: Dialect, t: TableId): boolean {
  const schema = t.schema.toLowerCase();
  if (dialect === 'mysql') return schema === 'information_schema';
  if (schema === 'information_schema') return true;
  if (schema === 'pg_catalog') return !PG_DENIED.has(t.table.toLowerCase());
  return false;
}
