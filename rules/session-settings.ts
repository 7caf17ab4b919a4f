/**
 * untracked-setting (DESIGN.md decision 11): settings that would make the
 * server read text differently from the analysis, run statements as someone
 * else, or reach beyond the user's own session, are refused.
 *
 * - The analysis reads MySQL with the default quoting and escaping rules and
 *   PostgreSQL with standard-conforming strings. ANSI_QUOTES turns "phone"
 *   from a string into a column, NO_BACKSLASH_ESCAPES and
 *   standard_conforming_strings=off move string ends, PIPES_AS_CONCAT and
 *   HIGH_NOT_PRECEDENCE regroup predicates, IGNORE_SPACE renames functions,
 *   and multibyte client character sets whose second byte can be a
 *   backslash (GBK, Big5, SJIS...) let a quote escape its escaping. So
 *   sql_mode takes only modes known to leave reading alone, and a value
 *   sqlgate cannot evaluate (a number is a bit mask, 0x… a string, @x
 *   anything) is refused.
 * - SET ROLE / SESSION AUTHORIZATION / DEFAULT ROLE change the upstream
 *   identity (and `$user` in the search path); SET PASSWORD without FOR
 *   changes the service account's password, locking every user out.
 * - SET GLOBAL / PERSIST change the server for every session, and settings
 *   of what the server logs or replicates (sql_log_bin, log_statement,
 *   pgaudit.log...) hide the user's statements from the database's own
 *   records: both need a user who could read everything anyway
 *   (`readsEverything`), as ALTER SYSTEM does.
 */
import type { Dialect, SettingChange, StatementFacts } from '../governance/facts.js';
import type { Principal } from './principal.js';
import { result, type RuleInput, type RuleResult } from './rule.js';

export const id = 'untracked-setting';

/** Client character sets where a multibyte character may end in 0x5C (backslash). */
const UNSAFE_CHARSETS = new Set(['gbk', 'big5', 'sjis', 'cp932', 'gb18030', 'uhc', 'johab', 'shift_jis', 'big5hkscs', 'sjis_2004', 'shift_jis_2004', 'cp950', 'cp936']);

const CHARSET_SETTINGS = new Set(['names', 'charset', 'character set', 'character_set_client', 'character_set_connection', 'client_encoding']);

/** sql_mode flags that leave quoting, escaping, operators and names as the analysis reads them. */
const SAFE_SQL_MODES = new Set([
  'ALLOW_INVALID_DATES', 'EMPTY_STRING_IS_NULL', 'ERROR_FOR_DIVISION_BY_ZERO', 'IGNORE_BAD_TABLE_OPTIONS',
  'NO_AUTO_CREATE_USER', 'NO_AUTO_VALUE_ON_ZERO', 'NO_DIR_IN_CREATE', 'NO_ENGINE_SUBSTITUTION', 'NO_FIELD_OPTIONS',
  'NO_KEY_OPTIONS', 'NO_TABLE_OPTIONS', 'NO_UNSIGNED_SUBTRACTION', 'NO_ZERO_DATE', 'NO_ZERO_IN_DATE',
  'ONLY_FULL_GROUP_BY', 'PAD_CHAR_TO_FULL_LENGTH', 'REAL_AS_FLOAT', 'SIMULTANEOUS_ASSIGNMENT', 'STRICT_ALL_TABLES',
  'STRICT_TRANS_TABLES', 'TIME_ROUND_FRACTIONAL', 'TIME_TRUNCATE_FRACTIONAL', 'TRADITIONAL', 'MYSQL323', 'MYSQL40',
]);

/** Settings of what the server logs, audits or replicates, by dialect. */
const RECORD_SETTINGS: Record<Dialect, RegExp> = {
  mysql: /^(sql_log_bin|sql_log_off|log_.*|general_log.*|slow_query_log.*|binlog_.*|skip_replication|gtid_.*|pseudo_.*|wsrep_.*|server_audit_.*|server_id|init_connect|debug.*)$/,
  postgres: /^(log_.*|debug_.*|trace_.*|pgaudit\..*|zero_damaged_pages|ignore_system_indexes|ignore_checksum_failure|ignore_invalid_pages|allow_system_table_mods|session_preload_libraries|local_preload_libraries|dynamic_library_path)$/,
};

const NEEDS_ALL = 'it needs select on everything, unmasked and within your clearance';

function sqlModeRefusal(s: SettingChange): string | undefined {
  const v = s.value;
  let text: string;
  if (v.kind === 'constant') text = v.text;
  else if (v.kind === 'extends-current') text = v.literals.join(',');
  else if (v.kind === 'default') return 'sql_mode DEFAULT takes the server\'s global mode, which sqlgate does not check; name the modes';
  else return `sql_mode set from an expression (${v.text}) cannot be tracked; name the modes in a string`;
  for (const raw of text.split(',')) {
    const mode = raw.trim().toUpperCase();
    if (mode === '' || SAFE_SQL_MODES.has(mode)) continue;
    if (/^(ANSI_QUOTES|ANSI|NO_BACKSLASH_ESCAPES|DB2|MAXDB|MSSQL|ORACLE|POSTGRESQL)$/.test(mode)) {
      return `sql_mode '${raw.trim()}' changes how quotes and backslashes are read; it is not supported`;
    }
    if (/^(PIPES_AS_CONCAT|HIGH_NOT_PRECEDENCE|IGNORE_SPACE)$/.test(mode)) {
      return `sql_mode '${raw.trim()}' changes how operators and function names are read; it is not supported`;
    }
    return `sql_mode '${raw.trim()}' is not a mode sqlgate knows to leave statements readable; name the modes (e.g. 'STRICT_TRANS_TABLES')`;
  }
  return undefined;
}

/**
 * Why the server's own sql_mode (as `@@SESSION.sql_mode` reads it, after a
 * login or a reset: the server's global mode, which no statement through
 * sqlgate set) would make it read statements differently from the analysis;
 * undefined when it leaves them readable.
 */
export function unreadableSqlMode(modes: string): string | undefined {
  return sqlModeRefusal({ name: 'sql_mode', scope: 'session', value: { kind: 'constant', text: modes, quoted: true } });
}

/**
 * Why a client character set the server imposes (its own default, with the
 * login's request ignored) would let a quote hide inside a multibyte
 * character; undefined when it would not.
 */
export function unreadableClientCharset(charset: string): string | undefined {
  const cs = charset.toLowerCase().trim();
  return UNSAFE_CHARSETS.has(cs) ? `client character set ${cs} can hide a quote inside a multibyte character` : undefined;
}

function charsetRefusal(dialect: Dialect, s: SettingChange): string | undefined {
  // PostgreSQL's default is the login's client_encoding (checked at login) or
  // the database's, and no server encoding is one of the unsafe client ones.
  if (dialect === 'postgres' && s.value.kind === 'default') return undefined;
  if (s.value.kind !== 'constant') return `client character set must be named (${s.name} ${s.value.kind === 'default' ? 'DEFAULT' : 'from an expression'} cannot be tracked)`;
  const why = unreadableClientCharset(s.value.text.trim().split(/\s+/)[0] ?? '');
  return why && `${why}; use utf8mb4 / UTF8`;
}

function refusal(dialect: Dialect, s: SettingChange, principal: Principal): string | undefined {
  switch (s.name) {
    case 'role':
    case 'session_authorization':
    case 'default role':
      return `SET ${s.name.toUpperCase()} would run statements as another database identity`;
    case 'password':
      return 'SET PASSWORD would change the password of sqlgate\'s own database account; sqlgate users\' passwords are set in its policy';
    case 'sql_mode': {
      const why = sqlModeRefusal(s);
      if (why) return why;
      break;
    }
    case 'standard_conforming_strings': {
      const v = s.value.kind === 'constant' ? s.value.text.toLowerCase().trim() : '';
      if (v !== 'on' && v !== 'true' && v !== '1') return 'standard_conforming_strings must stay on';
      break;
    }
    case 'session_replication_role':
      return 'session_replication_role would switch off triggers and constraints';
    default:
      if (CHARSET_SETTINGS.has(s.name)) {
        const why = charsetRefusal(dialect, s);
        if (why) return why;
      }
  }
  if (principal.readsEverything) return undefined;
  if (s.scope === 'global') return `SET GLOBAL ${s.name} changes the server for every session: ${NEEDS_ALL}`;
  if (s.name === 'password for') return `SET PASSWORD FOR changes a database account: ${NEEDS_ALL}`;
  if (RECORD_SETTINGS[dialect].test(s.name)) return `${s.name} changes what the database logs or replicates of this session: ${NEEDS_ALL}`;
  return undefined;
}

/** The settings a statement assigns; facts from before `settings` existed carry one in `sessionChange`. */
function settingsOf(facts: StatementFacts): readonly SettingChange[] {
  if (facts.settings) return facts.settings;
  const c = facts.sessionChange;
  if (!c || c.kind !== 'setting') return [];
  const m = /^@@(global|persist|persist_only|session|local)\./i.exec(c.name);
  return [{
    name: c.name.toLowerCase().replace(/^@@/, '').replace(/^(global|persist|persist_only|session|local)\./, ''),
    scope: m && !/^(session|local)$/i.test(m[1]) ? 'global' : 'session',
    value: c.value === undefined ? { kind: 'default' } : { kind: 'constant', text: c.value, quoted: true },
  }];
}

export function check({ facts, principal }: Pick<RuleInput, 'facts' | 'principal'>): RuleResult {
  const r = result();
  for (const s of settingsOf(facts)) {
    const why = refusal(facts.dialect, s, principal);
    if (why) {
      r.refusals.push({ rule: id, code: 'UNTRACKED_SETTING', text: why });
      r.outcomes.push({ rule: id, outcome: 'deny', detail: why });
      return r;
    }
  }
  const names = settingsOf(facts).map((s) => s.name);
  if (names.length > 0) r.outcomes.push({ rule: id, outcome: 'allow', detail: `setting ${names.join(', ')} does not change how sqlgate reads statements` });
  return r;
}
