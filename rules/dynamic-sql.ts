/**
 * dynamic-sql: text the analysis cannot see before it runs (PREPARE FROM a
 * variable, DO blocks, dynamic EXECUTE), procedures and functions the policy
 * does not list, and server-side file I/O. Each could carry any statement
 * past the other rules, so they are refused unless the policy allows them.
 */
import type { DynamicFacts } from '../governance/facts.js';
import type { Principal } from './principal.js';
import { result, type RuleInput, type RuleResult } from './rule.js';

export const id = 'dynamic-sql';

/**
 * PostgreSQL catalog functions that client tools call (psql's \\d, JDBC and
 * ODBC metadata) and that read only the catalog, never table data. The
 * analysis does not trust them (they are not pure); the policy may.
 */
const METADATA_FUNCTIONS = new Set([
  'pg_table_is_visible', 'pg_type_is_visible', 'pg_function_is_visible', 'pg_collation_is_visible', 'pg_conversion_is_visible',
  'pg_opclass_is_visible', 'pg_operator_is_visible', 'pg_opfamily_is_visible', 'pg_statistics_obj_is_visible',
  'pg_ts_config_is_visible', 'pg_ts_dict_is_visible', 'pg_ts_parser_is_visible', 'pg_ts_template_is_visible',
  'format_type', 'pg_get_userbyid', 'obj_description', 'col_description', 'shobj_description', 'pg_get_expr',
  'pg_get_indexdef', 'pg_get_constraintdef', 'pg_get_triggerdef', 'pg_get_viewdef', 'pg_get_ruledef', 'pg_get_partkeydef',
  'pg_get_function_arguments', 'pg_get_function_result', 'pg_get_function_identity_arguments', 'pg_get_serial_sequence',
  'pg_get_statisticsobjdef_columns', 'pg_encoding_to_char', 'pg_char_to_encoding', 'pg_relation_is_publishable',
  'pg_total_relation_size', 'pg_relation_size', 'pg_table_size', 'pg_indexes_size', 'pg_size_pretty', 'pg_tablespace_location',
  'has_table_privilege', 'has_schema_privilege', 'has_database_privilege', 'has_column_privilege', 'has_function_privilege',
  'has_sequence_privilege', 'has_any_column_privilege', 'pg_has_role', 'pg_is_in_recovery', 'pg_postmaster_start_time',
  'pg_get_keywords', 'array_to_string', 'current_setting', 'pg_get_function_sqlbody',
  // What the information_schema views call (PostgreSQL 15), so ORMs and tools can read them.
  'pg_is_other_temp_schema', 'pg_my_temp_schema', 'pg_relation_is_updatable', 'pg_column_is_updatable', 'nameconcatoid',
  'acldefault', 'aclexplode', 'getdatabaseencoding', 'pg_get_function_arg_default', 'pg_options_to_table',
  'has_foreign_data_wrapper_privilege', 'has_server_privilege', 'has_type_privilege',
  // pg_settings (JDBC's foreign-key metadata reads max_index_keys there; psql's \dconfig): the same
  // values SHOW ALL and current_setting() give, as the service account sees them.
  'pg_show_all_settings',
]);

/**
 * The counters behind pg_stat_all_tables, pg_statio_all_tables, the index,
 * sequence, function and database statistics views (PostgreSQL 15): scans,
 * tuples, blocks, vacuum and analyze times. Counts, never values or other
 * sessions' statements (pg_stat_get_activity and the backend functions are
 * not here). Sequelize's describeTable and admin tools read these views.
 */
const STAT_COUNTERS = new Set([
  'analyze_count', 'autoanalyze_count', 'autovacuum_count', 'blocks_fetched', 'blocks_hit', 'db_active_time', 'db_blk_read_time',
  'db_blk_write_time', 'db_blocks_fetched', 'db_blocks_hit', 'db_checksum_failures', 'db_checksum_last_failure',
  'db_conflict_all', 'db_conflict_bufferpin', 'db_conflict_lock', 'db_conflict_snapshot', 'db_conflict_startup_deadlock',
  'db_conflict_tablespace', 'db_deadlocks', 'db_idle_in_transaction_time', 'db_numbackends', 'db_session_time', 'db_sessions',
  'db_sessions_abandoned', 'db_sessions_fatal', 'db_sessions_killed', 'db_stat_reset_time', 'db_temp_bytes', 'db_temp_files',
  'db_tuples_deleted', 'db_tuples_fetched', 'db_tuples_inserted', 'db_tuples_returned', 'db_tuples_updated', 'db_xact_commit',
  'db_xact_rollback', 'dead_tuples', 'function_calls', 'function_self_time', 'function_total_time', 'ins_since_vacuum',
  'last_analyze_time', 'last_autoanalyze_time', 'last_autovacuum_time', 'last_vacuum_time', 'live_tuples', 'mod_since_analyze',
  'numscans', 'tuples_deleted', 'tuples_fetched', 'tuples_hot_updated', 'tuples_inserted', 'tuples_returned', 'tuples_updated',
  'vacuum_count', 'xact_function_calls', 'xact_function_self_time', 'xact_function_total_time', 'xact_numscans',
  'xact_tuples_deleted', 'xact_tuples_fetched', 'xact_tuples_hot_updated', 'xact_tuples_inserted', 'xact_tuples_returned',
  'xact_tuples_updated',
].map((n) => `pg_stat_get_${n}`));

function isMetadataFunction(name: string | undefined): boolean {
  if (!name) return false;
  const n = name.toLowerCase();
  // information_schema's own helpers (_pg_char_max_length, _pg_truetypid, _pg_expandarray, …): type
  // arithmetic over catalog rows, created with the server's information_schema.
  if (n.startsWith('information_schema._pg_')) return true;
  const bare = n.startsWith('pg_catalog.') ? n.slice('pg_catalog.'.length) : n;
  return METADATA_FUNCTIONS.has(bare) || STAT_COUNTERS.has(bare);
}

const FILE_IO = new Set(['load-data', 'copy-from-file', 'copy-to-file', 'copy-program', 'into-outfile', 'file-function']);

function globMatch(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 'i');
  return re.test(value);
}

/** A procedure pattern `db.proc` matches `db.proc`; `proc` matches it in any database. */
export function procedureAllowed(principal: Principal, name: string | undefined): boolean {
  if (!name) return false;
  const bare = name.includes('.') ? name.slice(name.lastIndexOf('.') + 1) : name;
  return principal.procedures.some((p) => (p.includes('.') ? globMatch(p, name) : globMatch(p, bare)));
}

function verdict(d: DynamicFacts, principal: Principal): string | undefined {
  switch (d.kind) {
    case 'prepare-from-text':
    case 'set-variable-from-query':
      return undefined; // the text / query is analysed as well
    case 'prepare-from-variable':
      return 'PREPARE from a variable hides the statement from analysis';
    case 'execute-dynamic':
      return 'EXECUTE of dynamic text hides the statement from analysis';
    case 'do-block':
      return 'DO blocks run code sqlgate cannot analyse';
    case 'call':
      return procedureAllowed(principal, d.name) ? undefined : `procedure ${d.name ?? '(unknown)'} is not in your roles' procedures`;
    case 'untrusted-function':
      return principal.dialect === 'postgres' && isMetadataFunction(d.name) || procedureAllowed(principal, d.name)
        ? undefined : `function ${d.name ?? '(unknown)'} is not known to be safe`;
    default:
      if (FILE_IO.has(d.kind)) return principal.fileIo ? undefined : `server file access (${d.kind}${d.name ? ' ' + d.name : ''}) is not allowed for your roles`;
      return `${d.kind} is not understood`;
  }
}

export function check({ facts, principal }: RuleInput): RuleResult {
  const r = result();
  for (const d of facts.dynamic) {
    const why = verdict(d, principal);
    if (why) {
      r.refusals.push({ rule: id, code: 'DYNAMIC_SQL_DENIED', text: why });
      r.outcomes.push({ rule: id, outcome: 'deny', detail: `${d.kind}${d.name ? ' ' + d.name : ''}: ${why}` });
    } else {
      r.outcomes.push({ rule: id, outcome: 'allow', detail: `${d.kind}${d.name ? ' ' + d.name : ''} allowed` });
    }
  }
  if (facts.dynamic.length === 0) r.outcomes.push({ rule: id, outcome: 'allow', detail: 'no dynamic SQL' });
  return r;
}
