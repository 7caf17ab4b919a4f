/**
 * untracked-setting (DESIGN.md decision 11): session settings that would make
 * the server read text differently from the analysis, or run statements as
 * someone else, are refused. The analysis reads MySQL with the default
 * quoting and escaping rules and PostgreSQL with standard-conforming strings;
 * ANSI_QUOTES turns "phone" from a string into a column, NO_BACKSLASH_ESCAPES
 * and standard_conforming_strings=off move string ends, and multibyte client
 * character sets whose second byte can be a backslash (GBK, Big5, SJIS...)
 * let a quote escape its escaping. SET ROLE / SESSION AUTHORIZATION change
 * the upstream identity (and `$user` in the search path).
 */
import { result, type RuleInput, type RuleResult } from './rule.js';

export const id = 'untracked-setting';

/** Client character sets where a multibyte character may end in 0x5C (backslash). */
const UNSAFE_CHARSETS = new Set(['gbk', 'big5', 'sjis', 'cp932', 'gb18030', 'uhc', 'johab', 'shift_jis', 'big5hkscs', 'sjis_2004', 'shift_jis_2004', 'cp950', 'cp936']);

const CHARSET_SETTINGS = new Set(['names', 'charset', 'character set', 'character_set_client', 'character_set_connection', 'client_encoding']);

function normalise(name: string): string {
  return name.toLowerCase().replace(/^@@/, '').replace(/^(session|global|local|persist|persist_only)\./, '').trim();
}

function refusal(name: string, value: string | undefined): string | undefined {
  const v = (value ?? '').toLowerCase().replace(/^['"]|['"]$/g, '').trim();
  switch (name) {
    case 'role':
    case 'session_authorization':
      return `SET ${name.toUpperCase()} would run statements as another database identity`;
    case 'sql_mode':
      if (/^@|\(/.test(v)) return 'sql_mode set from an expression cannot be tracked';
      if (/\b(ansi_quotes|ansi|no_backslash_escapes)\b/.test(v)) return `sql_mode '${value}' changes how quotes and backslashes are read; it is not supported`;
      return undefined;
    case 'standard_conforming_strings':
      return v === 'on' || v === 'true' || v === '1' ? undefined : 'standard_conforming_strings must stay on';
    case 'session_replication_role':
      return 'session_replication_role would switch off triggers and constraints';
    default:
      if (CHARSET_SETTINGS.has(name)) {
        const cs = v.split(/\s+/)[0].replace(/^['"]|['"]$/g, '');
        if (UNSAFE_CHARSETS.has(cs)) return `client character set ${cs} can hide a quote inside a multibyte character; use utf8mb4 / UTF8`;
      }
      return undefined;
  }
}

export function check({ facts }: Pick<RuleInput, 'facts'>): RuleResult {
  const r = result();
  const c = facts.sessionChange;
  if (!c || c.kind !== 'setting') return r;
  const name = normalise(c.name);
  const why = refusal(name, c.value);
  if (why) {
    r.refusals.push({ rule: id, code: 'UNTRACKED_SETTING', text: why });
    r.outcomes.push({ rule: id, outcome: 'deny', detail: why });
  } else {
    r.outcomes.push({ rule: id, outcome: 'allow', detail: `setting ${name} does not change how sqlgate reads statements` });
  }
  return r;
}
