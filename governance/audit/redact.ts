/**
 * Scrubs secrets from SQL text (and from messages that echo it) before
 * anything is written to the audit log or a log file.
 *
 * Lexing SQL exactly needs the dialect and the session's quoting modes, and a
 * redactor that guesses wrong leaks. So this one errs the other way:
 *  - string literals are found under both MySQL rules (backslash escapes,
 *    "double-quoted strings", # comments, executable comments read as code)
 *    and PostgreSQL rules (standard strings, E'' escapes, $tag$ bodies,
 *    nested comments), and a character inside a literal under EITHER reading
 *    counts as literal;
 *  - if the statement mentions anything secret-bearing anywhere (PASSWORD,
 *    IDENTIFIED, AES_ENCRYPT, pgp_sym_encrypt, dblink, USER MAPPING, …),
 *    every literal and every bare number in it is replaced by `***`;
 *  - passwords in connection strings (`scheme://user:pw@`, `password=pw`)
 *    are scrubbed wherever they appear.
 * Over-redaction of an innocent statement that merely names a password
 * column is the accepted price.
 */

/** Redacted text, and the literal contents removed (to scrub echoes of them elsewhere). */
export interface Redaction {
  readonly text: string;
  readonly secrets: readonly string[];
  /** True when the statement was treated as secret-bearing. */
  readonly sensitive: boolean;
}

const MASK = '***';

// Substrings, not words: over-matching (a column named `tokens`) only costs
// redaction of an innocent statement, and a plain alternation stays fast on
// the hot path. Every key KV_PW scrubs is covered here too.
export const SENSITIVE = /passw(?:or)?d|pwd|identified|secret|crypt|encode|decode|pgp_|hmac|dblink|user\s+mapping|(?:create|alter)\s+server|_key|api-?key|credential|token/i;

type Span = [start: number, end: number];

/** Interiors of string literals under MySQL's lexical rules. */
function mysqlLiterals(s: string): Span[] {
  const out: Span[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === "'" || c === '"') {
      const start = i + 1;
      i++;
      while (i < s.length) {
        if (s[i] === '\\') { i += 2; continue; }
        if (s[i] === c) {
          if (s[i + 1] === c) { i += 2; continue; }
          break;
        }
        i++;
      }
      out.push([start, Math.min(i, s.length)]);
      i++;
    } else if (c === '`') {
      const end = s.indexOf('`', i + 1);
      i = end < 0 ? s.length : end + 1;
    } else if (c === '#' || (c === '-' && s[i + 1] === '-' && /\s/.test(s[i + 2] ?? ' '))) {
      const nl = s.indexOf('\n', i);
      i = nl < 0 ? s.length : nl + 1;
    } else if (c === '/' && s[i + 1] === '*') {
      // Executable comments (/*! … */, /*M! … */) and optimizer hints run as code: read inside them.
      if (s[i + 2] === '!' || s[i + 2] === '+' || (s[i + 2] === 'M' && s[i + 3] === '!')) { i += 3; continue; }
      const end = s.indexOf('*/', i + 2);
      i = end < 0 ? s.length : end + 2;
    } else {
      i++;
    }
  }
  return out;
}

/** Interiors of string literals under PostgreSQL's lexical rules. */
function pgLiterals(s: string): Span[] {
  const out: Span[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === "'") {
      const escapes = i > 0 && /[eE]/.test(s[i - 1]) && !/[\w$]/.test(s[i - 2] ?? ' ');
      const start = i + 1;
      i++;
      while (i < s.length) {
        if (escapes && s[i] === '\\') { i += 2; continue; }
        if (s[i] === "'") {
          if (s[i + 1] === "'") { i += 2; continue; }
          break;
        }
        i++;
      }
      out.push([start, Math.min(i, s.length)]);
      i++;
    } else if (c === '"') {
      const end = s.indexOf('"', i + 1);
      i = end < 0 ? s.length : end + 1;
    } else if (c === '$' && !/[\w$]/.test(s[i - 1] ?? ' ')) {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(s.slice(i));
      if (!m) { i++; continue; }
      const tag = m[0];
      const end = s.indexOf(tag, i + tag.length);
      out.push([i + tag.length, end < 0 ? s.length : end]);
      i = end < 0 ? s.length : end + tag.length;
    } else if (c === '-' && s[i + 1] === '-') {
      const nl = s.indexOf('\n', i);
      i = nl < 0 ? s.length : nl + 1;
    } else if (c === '/' && s[i + 1] === '*') {
      let depth = 1;
      i += 2;
      while (i < s.length && depth > 0) {
        if (s[i] === '/' && s[i + 1] === '*') { depth++; i += 2; }
        else if (s[i] === '*' && s[i + 1] === '/') { depth--; i += 2; }
        else i++;
      }
    } else {
      i++;
    }
  }
  return out;
}

const URL_PW = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@'"]*:)([^\s@'"]+)@/gi;
const KV_PW = /\b(password|passwd|pwd|sslpassword|secret|token|api[_-]?key)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s;,'"()&]+)/gi;

/** Scrubs passwords out of connection strings and key=value option lists. */
export function scrubConnectionStrings(text: string): string {
  return text.replace(URL_PW, `$1${MASK}@`).replace(KV_PW, `$1$2${MASK}`);
}

/** The values scrubConnectionStrings would remove, quotes stripped. */
function connectionSecrets(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(URL_PW)) out.push(m[2]);
  for (const m of text.matchAll(KV_PW)) out.push(m[3].replace(/^['"]|['"]$/g, ''));
  return out;
}

/**
 * Redacts SQL text for the audit log. See the module comment for the
 * strategy; `secrets` holds what was removed so callers can scrub echoes
 * of it (error messages quoting the statement). `force` treats the text as
 * secret-bearing whatever it mentions.
 */
export function redactSql(sql: string, opts: { force?: boolean } = {}): Redaction {
  if (!opts.force && !SENSITIVE.test(sql)) {
    if (!sql.includes('://')) return { text: sql, secrets: [], sensitive: false };
    return { text: scrubConnectionStrings(sql), secrets: connectionSecrets(sql), sensitive: false };
  }
  const connSecrets = connectionSecrets(sql);
  const marked = new Uint8Array(sql.length);
  for (const [a, b] of [...mysqlLiterals(sql), ...pgLiterals(sql)]) marked.fill(1, a, b);
  // Bare numbers and hex/bit literals outside quotes can carry keys too (PASSWORD(0x7077)).
  for (const m of sql.matchAll(/(?<![\w$.])(?:0x[0-9a-f]+|0b[01]+|\d+(?:\.\d*)?(?:e[+-]?\d+)?)(?![\w$])/gi)) {
    marked.fill(1, m.index, m.index + m[0].length);
  }
  let text = '';
  const secrets: string[] = [...connSecrets];
  let i = 0;
  while (i < sql.length) {
    if (!marked[i]) { text += sql[i++]; continue; }
    let j = i;
    while (j < sql.length && marked[j]) j++;
    secrets.push(sql.slice(i, j));
    text += MASK;
    i = j;
  }
  return { text: scrubConnectionStrings(text), secrets, sensitive: true };
}

/**
 * Scrubs a message that may echo a statement: known secrets (at least 3
 * characters) go, then the message is redacted like SQL — forcibly (every
 * quoted part and number) when the statement was secret-bearing, since
 * servers echo fragments of it ("near '…' at line 1").
 */
export function scrubSecrets(text: string, secrets: readonly string[], sensitive = false): string {
  let out = text;
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (s.length >= 3) out = out.split(s).join(MASK);
  }
  return redactSql(out, { force: sensitive }).text;
}
