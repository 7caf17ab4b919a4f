/**
 * Functions sqlgate trusts to be pure computations over their arguments
 * (DESIGN.md decision 11). Anything else — user-defined functions, functions
 * that read files, run dynamic SQL (`query_to_xml`), change settings
 * (`set_config`) or reach other servers — is reported as dynamic
 * ('untrusted-function' or 'file-function') so the rules can refuse it.
 * Names are compared lower-case, unqualified or `pg_catalog.`-qualified.
 */
const COMMON = `
abs acos asin atan atan2 ceil ceiling cos cot degrees exp floor ln log log10 log2 mod pi power pow radians round sign sin sqrt tan trunc truncate div greatest least
coalesce nullif ifnull if isnull nvl
concat concat_ws length char_length character_length octet_length bit_length lower upper lcase ucase left right lpad rpad ltrim rtrim trim substring substr replace reverse repeat position locate instr strpos ascii chr char initcap format md5 sha1 sha2 sha224 sha256 sha384 sha512 to_hex hex unhex split_part translate regexp_replace regexp_substr regexp_like regexp_instr regexp_matches regexp_match regexp_split_to_array regexp_split_to_table starts_with quote_ident quote_literal quote_nullable space field find_in_set elt insert lower upper soundex encode decode base64 to_base64 from_base64 crc32 overlay btrim
count sum avg min max stddev stddev_pop stddev_samp variance var_pop var_samp bit_and bit_or bit_xor bool_and bool_or every group_concat string_agg array_agg json_agg jsonb_agg json_object_agg jsonb_object_agg json_arrayagg json_objectagg percentile_cont percentile_disc mode corr covar_pop covar_samp regr_slope regr_intercept
row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value
now current_date current_time current_timestamp localtime localtimestamp curdate curtime sysdate utc_date utc_time utc_timestamp date time year month day dayofmonth dayofweek dayofyear hour minute second week weekday weekofyear quarter monthname dayname extract date_part date_trunc date_add date_sub adddate subdate datediff timediff timestampdiff timestampadd date_format time_format str_to_date to_char to_date to_timestamp to_number make_date make_time make_timestamp make_interval age justify_days justify_hours justify_interval last_day from_unixtime unix_timestamp makedate maketime period_add period_diff sec_to_time time_to_sec to_days from_days convert_tz clock_timestamp statement_timestamp transaction_timestamp timeofday isfinite
cast convert coalesce
json_build_object jsonb_build_object json_build_array jsonb_build_array json_extract json_unquote json_object json_array json_contains json_length json_keys json_value json_query json_valid json_type json_set json_insert json_remove json_replace json_merge_patch json_merge_preserve json_search json_contains_path json_depth json_pretty jsonb_set jsonb_insert jsonb_pretty jsonb_typeof json_typeof jsonb_strip_nulls json_strip_nulls jsonb_array_length json_array_length jsonb_extract_path jsonb_extract_path_text json_extract_path json_extract_path_text jsonb_path_query jsonb_path_exists jsonb_path_match jsonb_path_query_array jsonb_path_query_first to_json to_jsonb row_to_json array_to_json jsonb_each jsonb_each_text json_each json_each_text jsonb_array_elements jsonb_array_elements_text json_array_elements json_array_elements_text jsonb_object_keys json_object_keys json_populate_record jsonb_populate_record json_to_record jsonb_to_record json_to_recordset jsonb_to_recordset jsonb_populate_recordset json_populate_recordset
array_length array_lower array_upper array_dims array_ndims array_position array_positions array_remove array_replace array_append array_prepend array_cat array_to_string string_to_array unnest generate_series generate_subscripts cardinality array_fill
uuid gen_random_uuid uuid_short random rand
bin oct conv inet_aton inet_ntoa inet6_aton inet6_ntoa is_ipv4 is_ipv6 host netmask network family masklen broadcast abbrev
version database schema current_user session_user user system_user current_role current_schema current_schemas current_database current_catalog connection_id found_rows row_count last_insert_id pg_backend_pid inet_client_addr inet_client_port inet_server_addr inet_server_port
char_length bit_count collation charset coercibility weight_string
num_nonnulls num_nulls width_bucket scale factorial gcd lcm
to_tsvector to_tsquery plainto_tsquery phraseto_tsquery websearch_to_tsquery ts_rank ts_rank_cd ts_headline setweight
nextval currval lastval
values excluded
format_type pg_get_userbyid pg_table_is_visible pg_type_is_visible pg_function_is_visible pg_collation_is_visible pg_opclass_is_visible pg_conversion_is_visible pg_ts_config_is_visible
obj_description col_description shobj_description pg_get_expr pg_get_indexdef pg_get_constraintdef pg_get_viewdef pg_get_triggerdef pg_get_ruledef pg_get_functiondef
pg_get_function_arguments pg_get_function_result pg_get_function_identity_arguments pg_get_serial_sequence pg_get_partkeydef pg_get_statisticsobjdef pg_get_keywords
has_table_privilege has_schema_privilege has_database_privilege has_column_privilege has_function_privilege has_sequence_privilege has_any_column_privilege
pg_encoding_to_char pg_char_to_encoding pg_relation_size pg_total_relation_size pg_size_pretty pg_table_size pg_indexes_size pg_database_size
current_setting pg_postmaster_start_time pg_is_in_recovery txid_current pg_current_wal_lsn pg_typeof pg_column_size array_in
timezone overlaps normalize is_normalized like_escape similar_to_escape any_value date_diff json_agg_strict jsonb_agg_strict
`;

const FILE_FUNCTIONS = new Set([
  'load_file', 'pg_read_file', 'pg_read_binary_file', 'pg_ls_dir', 'pg_stat_file', 'lo_import', 'lo_export',
  'pg_ls_logdir', 'pg_ls_waldir', 'pg_ls_tmpdir', 'pg_ls_archive_statusdir', 'pg_file_write', 'pg_file_rename', 'pg_file_unlink',
  'lo_from_bytea', 'lo_get', 'lo_put', 'lo_open', 'loread', 'lowrite',
]);

const SAFE = new Set(COMMON.split(/\s+/).filter(Boolean));

export type FunctionTrust = 'safe' | 'file' | 'untrusted';

/** How far a function may be trusted; `name` may be schema-qualified. */
export function functionTrust(name: string): FunctionTrust {
  let n = name.toLowerCase();
  if (n.startsWith('pg_catalog.')) n = n.slice('pg_catalog.'.length);
  if (FILE_FUNCTIONS.has(n)) return 'file';
  if (n.includes('.')) return 'untrusted';
  return SAFE.has(n) ? 'safe' : 'untrusted';
}
