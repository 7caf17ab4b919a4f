/**
 * The MySQL/MariaDB digest lexer. It reads text the way the server's lexer
 * does (quotes, backticks, `--`/`#`/block comments, executable comments) to:
 *  - split a multi-statement message at top-level `;`;
 *  - expand executable comments (`/*! … *\/`, `/*!NNNNN … *\/`, `/*M! … *\/`)
 *    into ordinary text, since the server runs them (node-sql-parser would
 *    silently drop them);
 *  - extract `/*+ sqlgate:… *\/` hints;
 *  - make a digest: literals become `?` and repeated VALUES tuples collapse,
 *    so equal statement shapes share a fingerprint.
 *
 * Executable comments the server may or may not run (a version above every
 * server we know runs it, or MariaDB-only `/*M!`) are "ambiguous": the
 * statement is produced both with and without them, and analysis takes the
 * union of both readings.
 * Reference: https://dev.mysql.com/doc/refman/8.0/en/comments.html,
 * https://mariadb.com/kb/en/comment-syntax/
 */
import type { Hint } from '../facts.js';
import { parseHint } from './hints.js';

export type TokenKind = 'word' | 'quoted-ident' | 'string' | 'number' | 'variable' | 'param' | 'punct' | 'semicolon';

export interface Token {
  readonly kind: TokenKind;
  /** Source text of the token (for strings and quoted identifiers, with their quotes). */
  readonly text: string;
  /** Offset in the original message. */
  readonly start: number;
  /** Whitespace or a comment preceded it (the parser text keeps a space there). */
  readonly spaced: boolean;
}

/** One statement of a MySQL message. */
export interface MysqlStatement {
  /** The statement as sent (from the original message). */
  readonly text: string;
  /** Tokens with executable comments expanded (the server's reading). */
  readonly tokens: readonly Token[];
  /** Text for the parser: expanded, comments removed. */
  readonly parseText: string;
  /** Literal-free shape. */
  readonly digest: string;
  readonly hints: readonly Hint[];
  /** The same statement with ambiguous executable comments left out, when it had any. */
  readonly alternative?: { readonly tokens: readonly Token[]; readonly parseText: string };
  /** Set when the text cannot be read safely (unterminated quote or comment, nested comment in an executable one...). */
  readonly error?: string;
}

/** Versions every supported server is at least: such executable comments always run. */
const CERTAIN_MYSQL_VERSION = 50700;

interface LexResult {
  readonly tokens: Token[];
  readonly hints: { readonly at: number; readonly hint: Hint }[];
  readonly ambiguous: boolean;
  readonly error?: string;
}

function isWordChar(c: string): boolean {
  return /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
}

/**
 * Tokenises a whole message. `ambiguousMode` says what to do with executable
 * comments whose execution depends on the server version.
 */
function lex(sql: string, ambiguousMode: 'expand' | 'strip'): LexResult {
  const tokens: Token[] = [];
  const hints: { at: number; hint: Hint }[] = [];
  let ambiguous = false;
  let i = 0;
  let spaced = false;
  /** Inside an executable comment: `*\/` closes it. */
  let inExec = false;
  const n = sql.length;
  const push = (kind: TokenKind, start: number, end: number) => {
    tokens.push({ kind, text: sql.slice(start, end), start, spaced });
    spaced = false;
  };
  while (i < n) {
    const c = sql[i];
    const c2 = sql[i + 1];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') { i++; spaced = true; continue; }
    if (inExec && c === '*' && c2 === '/') { i += 2; inExec = false; spaced = true; continue; }
    if (c === '#' || (c === '-' && c2 === '-' && (i + 2 >= n || /[\s\x00-\x1f]/.test(sql[i + 2])))) {
      if (inExec) return { tokens, hints, ambiguous, error: 'line comment inside an executable comment' };
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
      spaced = true;
      continue;
    }
    if (c === '/' && c2 === '*') {
      if (inExec) return { tokens, hints, ambiguous, error: 'comment inside an executable comment' };
      const end = sql.indexOf('*/', i + 2);
      if (end < 0) return { tokens, hints, ambiguous, error: 'unterminated comment' };
      const body = sql.slice(i, end + 2);
      const exec = /^\/\*(M?)!(\d{5,6})?/.exec(body);
      if (exec) {
        const mariadbOnly = exec[1] === 'M';
        const version = exec[2] ? Number(exec[2]) : undefined;
        // Certain: no version, or one every server we front is past. MariaDB-only
        // comments are ignored by MySQL, so their execution depends on the server.
        const certain = !mariadbOnly && (version === undefined || version <= CERTAIN_MYSQL_VERSION);
        if (!certain) ambiguous = true;
        if (certain || ambiguousMode === 'expand') {
          i += exec[0].length;
          inExec = true;
          spaced = true;
          continue;
        }
        i = end + 2;
        spaced = true;
        continue;
      }
      for (const hint of parseHint(body)) hints.push({ at: i, hint });
      i = end + 2;
      spaced = true;
      continue;
    }
    const start = i;
    if (c === "'" || c === '"') {
      i = skipQuoted(sql, i, c, true);
      if (i < 0) return { tokens, hints, ambiguous, error: 'unterminated string' };
      push('string', start, i);
      continue;
    }
    if (c === '`') {
      i = skipQuoted(sql, i, '`', false);
      if (i < 0) return { tokens, hints, ambiguous, error: 'unterminated quoted identifier' };
      push('quoted-ident', start, i);
      continue;
    }
    if (c === '@') {
      i++;
      if (sql[i] === '@') i++;
      if (sql[i] === "'" || sql[i] === '"' || sql[i] === '`') {
        i = skipQuoted(sql, i, sql[i], sql[i] !== '`');
        if (i < 0) return { tokens, hints, ambiguous, error: 'unterminated variable name' };
      } else {
        while (i < n && (isWordChar(sql[i]) || sql[i] === '.')) i++;
      }
      push('variable', start, i);
      continue;
    }
    if (c === '?') { i++; push('param', start, i); continue; }
    if (c === ';') { i++; push('semicolon', start, i); continue; }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(c2 ?? '') && !prevIsWord(tokens, spaced))) {
      const m = /^(0x[0-9a-fA-F]+|0b[01]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+\.)/.exec(sql.slice(i, i + 200));
      const len = m ? m[0].length : 1;
      // MySQL allows identifiers that start with digits (1abc): a word char right after means identifier.
      if (m && !isWordChar(sql[i + len] ?? ' ')) { i += len; push('number', start, i); continue; }
      while (i < n && isWordChar(sql[i])) i++;
      push('word', start, i);
      continue;
    }
    if (isWordChar(c)) {
      while (i < n && isWordChar(sql[i])) i++;
      const word = sql.slice(start, i);
      // X'..', B'..', N'..', _charset'..' are literals.
      if (sql[i] === "'" && /^([xXbBnN]|_[A-Za-z0-9]+)$/.test(word)) {
        i = skipQuoted(sql, i, "'", word[0] !== 'x' && word[0] !== 'X' && word[0] !== 'b' && word[0] !== 'B');
        if (i < 0) return { tokens, hints, ambiguous, error: 'unterminated string' };
        push('string', start, i);
        continue;
      }
      push('word', start, i);
      continue;
    }
    // Multi-character operators kept together so the digest reads naturally.
    const op = /^(<=>|<<|>>|<=|>=|<>|!=|:=|&&|\|\||->>|->)/.exec(sql.slice(i, i + 3));
    i += op ? op[0].length : 1;
    push('punct', start, i);
  }
  if (inExec) return { tokens, hints, ambiguous, error: 'unterminated executable comment' };
  return { tokens, hints, ambiguous };
}

function prevIsWord(tokens: readonly Token[], spaced: boolean): boolean {
  const p = tokens[tokens.length - 1];
  return !spaced && p !== undefined && (p.kind === 'word' || p.kind === 'quoted-ident');
}

/** Returns the index after the closing quote, or -1. */
/**
 * The digest's class of a number literal. The parser does not take every
 * form everywhere (ESCAPE 0x1F parses, ESCAPE 1.5e3 does not), so forms it
 * may treat differently never share an analysis: integers, decimals,
 * exponents, hex and bit literals each keep their own class.
 */
function numberClass(text: string): string {
  if (/^[0-9]+$/.test(text)) return '?';
  if (/^0x/i.test(text) || /^x'/i.test(text)) return '?x';
  if (/^0b/i.test(text) || /^b'/i.test(text)) return '?b';
  if (/e/i.test(text)) return '?e';
  return '?.';
}

function skipQuoted(sql: string, i: number, q: string, backslash: boolean): number {
  let j = i + 1;
  while (j < sql.length) {
    const c = sql[j];
    if (backslash && c === '\\') { j += 2; continue; }
    if (c === q) {
      if (sql[j + 1] === q) { j += 2; continue; }
      return j + 1;
    }
    j++;
  }
  return -1;
}

/** Splits token lists at top-level `;`, keeping compound bodies (BEGIN … END) of CREATE PROCEDURE/FUNCTION/TRIGGER/EVENT whole. */
function splitTokens(tokens: readonly Token[], cuts: number[] = []): Token[][] {
  const out: Token[][] = [];
  let cur: Token[] = [];
  let depth = 0;
  let routine = false;
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    if (t.kind === 'semicolon' && depth === 0) {
      if (cur.length) { out.push(cur); cuts.push(t.start + 1); }
      cur = [];
      routine = false;
      continue;
    }
    if (t.kind === 'word') {
      const w = t.text.toUpperCase();
      if (cur.length === 0) routine = false;
      if (!routine && cur.length > 0 && cur[0].kind === 'word' && cur[0].text.toUpperCase() === 'CREATE' && /^(PROCEDURE|FUNCTION|TRIGGER|EVENT)$/.test(w)) routine = true;
      if (routine) {
        if (w === 'BEGIN' || w === 'CASE') depth++;
        else if (w === 'END') {
          const next = tokens[k + 1]?.kind === 'word' ? tokens[k + 1].text.toUpperCase() : '';
          if (!/^(IF|LOOP|WHILE|REPEAT)$/.test(next) && depth > 0) depth--;
        }
      }
    }
    cur.push(t);
  }
  if (cur.length) out.push(cur);
  return out;
}

/** Text for the parser: tokens with single spaces where the source had space or comments. */
export function joinTokens(tokens: readonly Token[]): string {
  let s = '';
  for (const t of tokens) {
    if (s && t.spaced) s += ' ';
    s += t.text;
  }
  return s;
}

/** Words after which a string is a value, not an alias. */
const EXPRESSION_WORDS = new Set(('like rlike regexp in is and or not xor between then else when case separator interval values value set by limit offset '
  + 'escape div mod from where having select on using return into outfile dumpfile collate binary sounds against mode charset names password '
  + 'identified comment default exists any some all distinct if elseif do call execute prepare immediate kill use show member of').split(' '));

/** Words that end an ORDER BY / GROUP BY list at its own depth (none can occur inside an item outside parentheses). */
const POSITIONS_END = new Set(['limit', 'having', 'window', 'union', 'except', 'intersect', 'for', 'lock', 'into']);

/**
 * The literal-free shape of a statement. Only reserved words (which cannot
 * be unquoted identifiers) are upper-cased, so two statements share a digest
 * only when they differ in literals, spacing, comments or keyword case.
 */
/** Keywords a digest spells in capitals, so that `select` and `SELECT` share one. */
const UPPERCASED = new Set(['select', 'from', 'where', 'and', 'or', 'not', 'insert', 'into', 'values', 'update', 'set', 'delete', 'replace',
  'join', 'on', 'as', 'in', 'is', 'null', 'limit', 'order', 'group', 'by', 'having', 'union', 'all', 'distinct', 'like', 'between', 'case',
  'when', 'then', 'else', 'left', 'right', 'inner', 'outer', 'cross', 'using', 'with', 'desc', 'asc', 'true', 'false', 'exists']);

export function digestTokens(tokens: readonly Token[], hints: readonly Hint[]): string {
  const parts: string[] = [];
  // Numbers in ORDER BY / GROUP BY lists are output positions, not values.
  // The list runs until its parenthesis closes or a clause that cannot occur
  // inside an item starts: an item such as `a IS NULL` is followed by more
  // positions (`ORDER BY a IS NULL, 2`). Numbers kept longer only ever
  // share less.
  let positional = -1;
  let depth = 0;
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    const prev = tokens[k - 1];
    if (t.kind === 'word') {
      const w = t.text.toLowerCase();
      if (w === 'by' && prev?.kind === 'word' && /^(order|group|partition)$/i.test(prev.text)) positional = depth;
      else if (positional === depth && POSITIONS_END.has(w)) positional = -1;
    } else if (t.text === '(') depth++;
    else if (t.text === ')') { depth--; if (positional > depth) positional = -1; }
    else if (t.kind === 'semicolon') { positional = -1; depth = 0; }
    if (positional >= 0 && t.kind === 'number') { parts.push(t.text); continue; }
    // A string right after an expression (`phone 'x'`, `AS 'x'`) is a column
    // alias: it names an output, so it stays in the shape.
    const aliasPosition = t.kind === 'string' && prev !== undefined
      && (prev.kind === 'quoted-ident' || prev.text === ')' || (prev.kind === 'word' && !EXPRESSION_WORDS.has(prev.text.toLowerCase())));
    if (aliasPosition) parts.push(t.text);
    // Literal classes stay apart (LIMIT 1 parses, LIMIT 1.5 and LIMIT '1' do not).
    else if (t.kind === 'string') parts.push(/^[a-z_]/i.test(t.text) ? `${t.text.slice(0, t.text.indexOf("'")).toLowerCase()}'?'` : "'?'");
    else if (t.kind === 'number') parts.push(numberClass(t.text));
    else if (t.kind === 'word') parts.push(UPPERCASED.has(t.text.toLowerCase()) ? t.text.toUpperCase() : t.text);
    else parts.push(t.text);
  }
  let d = '';
  for (let k = 0; k < parts.length; k++) {
    const p = parts[k];
    const prev = parts[k - 1];
    const tight = k === 0 || p === ',' || p === ')' || p === '.' || prev === '(' || prev === '.' || (p === '(' && tokens[k - 1]?.kind === 'word' && !tokens[k].spaced);
    d += tight ? p : ` ${p}`;
  }
  d = d.replace(/,(?! )/g, ', ');
  // Collapse repeated VALUES tuples of placeholders: (?,?),(?,?)… → (?,?),...
  d = d.replace(/(VALUES?\s*)(\((?:'\?'|\?\.?|,|\s|NULL|DEFAULT|-)*\))(?:\s*,\s*\((?:'\?'|\?\.?|,|\s|NULL|DEFAULT|-)*\))+/gi, '$1$2,...');
  // IN lists of placeholders collapse too.
  d = d.replace(/IN\s*\((?:'\?'|\?\.?)(?:\s*,\s*(?:'\?'|\?\.?))+\)/g, 'IN (?,...)');
  const h = hints.map((x) => `/*+ sqlgate:${x.name}(${x.args.join(',')}) */`).join(' ');
  return h ? `${h} ${d}` : d;
}

/** Splits, expands and digests a MySQL message. */
export function splitMysql(sql: string): MysqlStatement[] {
  const main = lex(sql, 'expand');
  if (main.error) {
    return [{ text: sql.trim(), tokens: main.tokens, parseText: '', digest: '', hints: main.hints.map((h) => h.hint), error: main.error }];
  }
  const cuts: number[] = [];
  const stmts = splitTokens(main.tokens, cuts);
  let alt: Token[][] | undefined;
  if (main.ambiguous) {
    const stripped = lex(sql, 'strip');
    alt = stripped.error ? undefined : splitTokens(stripped.tokens);
    if (!alt || alt.length !== stmts.length) {
      return [{ text: sql.trim(), tokens: main.tokens, parseText: '', digest: '', hints: main.hints.map((h) => h.hint),
        error: 'an executable comment the server may or may not run changes how the message splits into statements' }];
    }
  }
  const ends = stmts.map((_, k) => (k + 1 < stmts.length ? cuts[k] : sql.length));
  return stmts.map((tokens, k) => {
    const from = k === 0 ? 0 : ends[k - 1];
    const text = sql.slice(from, ends[k]).trim().replace(/;\s*$/, '').trim();
    const own = main.hints.filter((h) => h.at >= from && h.at < ends[k]).map((h) => h.hint);
    const altTokens = alt?.[k];
    return {
      text, tokens, parseText: joinTokens(tokens), digest: digestTokens(tokens, own),
      hints: own,
      ...(altTokens ? { alternative: { tokens: altTokens, parseText: joinTokens(altTokens) } } : {}),
    };
  });
}

/** Unquotes a string literal token ('…' or "…", with backslash escapes as the server reads them). */
export function unquoteString(text: string): string {
  const m = /^(?:[nN]|_[A-Za-z0-9]+)?(['"])([\s\S]*)\1$/.exec(text);
  if (!m) return text;
  const q = m[1];
  return m[2].replace(new RegExp(`\\\\(.)|${q}${q}`, 'gs'), (all, ch: string | undefined) => {
    if (ch === undefined) return q;
    switch (ch) {
      case 'n': return '\n';
      case 't': return '\t';
      case 'r': return '\r';
      case '0': return '\0';
      case 'Z': return '\x1a';
      case 'b': return '\b';
      default: return ch;
    }
  });
}

/** Unquotes a backtick identifier. */
export function unquoteIdent(text: string): string {
  return text.startsWith('`') ? text.slice(1, -1).replace(/``/g, '`') : text;
}
