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
  /** Tokens with executable comments expanded (the server's reading), long literal lists cut to one element (collapseLiteralLists). */
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
export const CERTAIN_MYSQL_VERSION = 50700;
/**
 * Versions no server has (99.0.0 and up): such executable comments never
 * run. mariadb-dump starts every file with `/*M!999999\- enable the sandbox
 * mode *\/`, a command to its own client that servers must skip.
 */
const NEVER_VERSION = 990000;

interface LexResult {
  readonly tokens: Token[];
  readonly hints: { readonly at: number; readonly hint: Hint }[];
  readonly ambiguous: boolean;
  readonly error?: string;
}

/** A word character: ASCII letters, digits, `_`, `$`, and any code unit from U+0080 (as the server takes UTF-8 bytes). */
function isWordCode(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 36 || c >= 0x80;
}

function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
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
  // Character codes, not one-character strings and regular expressions: this
  // runs on every MySQL statement that is not an exact cache hit.
  while (i < n) {
    const c = sql.charCodeAt(i);
    const c2 = i + 1 < n ? sql.charCodeAt(i + 1) : -1;
    // space, \t, \n, \v, \f, \r
    if (c === 32 || (c >= 9 && c <= 13)) { i++; spaced = true; continue; }
    if (inExec && c === 42 /* * */ && c2 === 47 /* / */) { i += 2; inExec = false; spaced = true; continue; }
    if (c === 35 /* # */ || (c === 45 /* - */ && c2 === 45 && (i + 2 >= n || /[\s\x00-\x1f]/.test(sql[i + 2])))) {
      if (inExec) return { tokens, hints, ambiguous, error: 'line comment inside an executable comment' };
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
      spaced = true;
      continue;
    }
    if (c === 47 /* / */ && c2 === 42 /* * */) {
      if (inExec) return { tokens, hints, ambiguous, error: 'comment inside an executable comment' };
      const end = sql.indexOf('*/', i + 2);
      if (end < 0) return { tokens, hints, ambiguous, error: 'unterminated comment' };
      const body = sql.slice(i, end + 2);
      const exec = /^\/\*(M?)!(\d{5,6})?/.exec(body);
      if (exec) {
        const mariadbOnly = exec[1] === 'M';
        const version = exec[2] ? Number(exec[2]) : undefined;
        if (version !== undefined && version >= NEVER_VERSION) {
          i = end + 2;
          spaced = true;
          continue;
        }
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
    if (c === 39 /* ' */ || c === 34 /* " */) {
      i = skipQuoted(sql, i, c, true);
      if (i < 0) return { tokens, hints, ambiguous, error: 'unterminated string' };
      push('string', start, i);
      continue;
    }
    if (c === 96 /* ` */) {
      i = skipQuoted(sql, i, 96, false);
      if (i < 0) return { tokens, hints, ambiguous, error: 'unterminated quoted identifier' };
      push('quoted-ident', start, i);
      continue;
    }
    if (c === 64 /* @ */) {
      i++;
      if (sql.charCodeAt(i) === 64) i++;
      const q = sql.charCodeAt(i);
      if (q === 39 || q === 34 || q === 96) {
        i = skipQuoted(sql, i, q, q !== 96);
        if (i < 0) return { tokens, hints, ambiguous, error: 'unterminated variable name' };
      } else {
        while (i < n && (isWordCode(sql.charCodeAt(i)) || sql.charCodeAt(i) === 46 /* . */)) i++;
      }
      push('variable', start, i);
      continue;
    }
    if (c === 63 /* ? */) { i++; push('param', start, i); continue; }
    if (c === 59 /* ; */) { i++; push('semicolon', start, i); continue; }
    if (isDigitCode(c) || (c === 46 /* . */ && isDigitCode(c2) && !prevIsWord(tokens, spaced))) {
      const len = numberLength(sql, i);
      // MySQL allows identifiers that start with digits (1abc): a word char right after means identifier.
      if (len > 0 && !(i + len < n && isWordCode(sql.charCodeAt(i + len)))) { i += len; push('number', start, i); continue; }
      // (After `.5x` this pushes an empty word and reads the `.` as punctuation next: the old reading, kept.)
      while (i < n && isWordCode(sql.charCodeAt(i))) i++;
      push('word', start, i);
      continue;
    }
    if (isWordCode(c)) {
      while (i < n && isWordCode(sql.charCodeAt(i))) i++;
      // X'..', B'..', N'..', _charset'..' are literals.
      if (sql.charCodeAt(i) === 39 && /^([xXbBnN]|_[A-Za-z0-9]+)$/.test(sql.slice(start, i))) {
        const f = c | 0x20;
        i = skipQuoted(sql, i, 39, f !== 120 /* x */ && f !== 98 /* b */);
        if (i < 0) return { tokens, hints, ambiguous, error: 'unterminated string' };
        push('string', start, i);
        continue;
      }
      push('word', start, i);
      continue;
    }
    // Multi-character operators kept together so the digest reads naturally.
    i += operatorLength(sql, i, c, c2);
    push('punct', start, i);
  }
  if (inExec) return { tokens, hints, ambiguous, error: 'unterminated executable comment' };
  return { tokens, hints, ambiguous };
}

/**
 * Length of the number literal at `i` (0x…, 0b…, digits with an optional
 * fraction and exponent, or `N.`), 0 when none: the regular expression
 * /^(0x[0-9a-fA-F]+|0b[01]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+\.)/
 * spelled out, alternatives tried in the same order.
 */
function numberLength(sql: string, i: number): number {
  // The expression was matched against the next 200 characters only; a longer number reads as a word.
  const n = Math.min(sql.length, i + 200);
  const at = (k: number) => (k < n ? sql.charCodeAt(k) : -1);
  if (at(i) === 48 && at(i + 1) === 120 /* x */) {
    let k = i + 2;
    while (isHexCode(at(k))) k++;
    if (k > i + 2) return k - i;
  }
  if (at(i) === 48 && at(i + 1) === 98 /* b */) {
    let k = i + 2;
    while (at(k) === 48 || at(k) === 49) k++;
    if (k > i + 2) return k - i;
  }
  // [0-9]*\.?[0-9]+ with backtracking: the longest digits[.digits] form that ends in a digit.
  let k = i;
  while (isDigitCode(at(k))) k++;
  let end = -1;
  if (at(k) === 46 && isDigitCode(at(k + 1))) {
    k++;
    while (isDigitCode(at(k))) k++;
    end = k;
  } else if (k > i) {
    end = k;
  }
  if (end > 0) {
    const e = at(end);
    if (e === 101 || e === 69) {
      let x = end + 1;
      const sign = at(x);
      if (sign === 43 || sign === 45) x++;
      if (isDigitCode(at(x))) {
        while (isDigitCode(at(x))) x++;
        end = x;
      }
    }
    return end - i;
  }
  return 0;
}

function isHexCode(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/** <=> << >> <= >= <> != := && || ->> -> as one token; anything else is one character. */
function operatorLength(sql: string, i: number, c: number, c2: number): number {
  switch (c) {
    case 60: // <
      if (c2 === 61) return sql.charCodeAt(i + 2) === 62 ? 3 : 2; // <=> or <=
      return c2 === 60 || c2 === 62 ? 2 : 1; // << <>
    case 62: return c2 === 62 || c2 === 61 ? 2 : 1; // >> >=
    case 33: return c2 === 61 ? 2 : 1; // !=
    case 58: return c2 === 61 ? 2 : 1; // :=
    case 38: return c2 === 38 ? 2 : 1; // &&
    case 124: return c2 === 124 ? 2 : 1; // ||
    case 45: // -
      if (c2 === 62) return sql.charCodeAt(i + 2) === 62 ? 3 : 2; // ->> or ->
      return 1;
    default: return 1;
  }
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

function skipQuoted(sql: string, i: number, q: number, backslash: boolean): number {
  let j = i + 1;
  const n = sql.length;
  while (j < n) {
    const c = sql.charCodeAt(j);
    if (backslash && c === 92 /* \\ */) { j += 2; continue; }
    if (c === q) {
      if (sql.charCodeAt(j + 1) === q) { j += 2; continue; }
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
  /** The statement so far starts with CREATE (only then can it be a routine whose body holds `;`). */
  let create = false;
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    if (t.kind === 'semicolon' && depth === 0) {
      if (cur.length) { out.push(cur); cuts.push(t.start + 1); }
      cur = [];
      routine = false;
      continue;
    }
    if (cur.length === 0) create = t.kind === 'word' && t.text.toUpperCase() === 'CREATE';
    if (t.kind === 'word') {
      if (cur.length === 0) routine = false;
      else if (!routine && create && /^(PROCEDURE|FUNCTION|TRIGGER|EVENT)$/.test(t.text.toUpperCase())) routine = true;
      if (routine) {
        const w = t.text.toUpperCase();
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

/**
 * Text for the parser: tokens with single spaces where the source had space
 * or comments, and three spellings node-sql-parser misreads given as what
 * the server reads: numbers (parserNumber); the DEFAULT value of INSERT,
 * REPLACE and UPDATE, which it takes for a column named DEFAULT (as a value,
 * after `(`, `,` or `=`, not the DEFAULT(col) function, it is written NULL:
 * also a value, reading no column, and the analysis only ever uses which
 * columns a statement reads and writes, never the values); and the type of
 * `CONVERT(x, UNSIGNED INTEGER)` (MariaDB Connector/J's column metadata),
 * which it reads only without the INTEGER / INT the server ignores.
 */
export function joinTokens(tokens: readonly Token[]): string {
  let s = '';
  const dml = tokens[0]?.kind === 'word' && /^(INSERT|REPLACE|UPDATE)$/i.test(tokens[0].text);
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    if (s && t.spaced) s += ' ';
    if (t.kind === 'number') s += parserNumber(t.text);
    else if (dml && t.kind === 'word' && /^default$/i.test(t.text) && VALUE_BEFORE.has(tokens[k - 1]?.text ?? '') && tokens[k + 1]?.text !== '(') s += 'NULL';
    else if (convertIntWord(tokens, k)) s = s.trimEnd();
    else s += t.text;
  }
  return s;
}

/** `INTEGER` / `INT` in `, [UN]SIGNED INTEGER)`: the type argument of CONVERT. */
function convertIntWord(tokens: readonly Token[], k: number): boolean {
  const t = tokens[k];
  return t.kind === 'word' && /^(integer|int)$/i.test(t.text) && tokens[k + 1]?.text === ')'
    && tokens[k - 1]?.kind === 'word' && /^(signed|unsigned)$/i.test(tokens[k - 1].text) && tokens[k - 2]?.text === ',';
}

/** Tokens after which DEFAULT is a value. */
const VALUE_BEFORE = new Set(['(', ',', '=']);

/**
 * The same number in a spelling node-sql-parser reads: it takes `1e3` for a
 * column name and cannot parse `.5` in some places, where the server reads
 * both as numbers. Left as they were, such statements were refused when
 * analysed on their own but allowed when their digest twin (`1.5e3`, `0.5`)
 * had been analysed first: the answer depended on what came before.
 */
function parserNumber(text: string): string {
  const n = text.charCodeAt(0) === 46 /* . */ ? `0${text}` : text;
  const m = /^(\d+)([eE][+-]?\d+)$/.exec(n);
  return m ? `${m[1]}.0${m[2]}` : n;
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
  // Numbers in ORDER BY / GROUP BY lists are output positions, not values.
  // The list runs until its parenthesis closes or a clause that cannot occur
  // inside an item starts: an item such as `a IS NULL` is followed by more
  // positions (`ORDER BY a IS NULL, 2`). Numbers kept longer only ever
  // share less.
  let positional = -1;
  let depth = 0;
  let d = '';
  let last = '';
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    const prev = tokens[k - 1];
    const lower = t.kind === 'word' ? t.text.toLowerCase() : '';
    if (t.kind === 'word') {
      if (lower === 'by' && prev?.kind === 'word' && /^(order|group|partition)$/i.test(prev.text)) positional = depth;
      else if (positional === depth && POSITIONS_END.has(lower)) positional = -1;
    } else if (t.text === '(') depth++;
    else if (t.text === ')') { depth--; if (positional > depth) positional = -1; }
    else if (t.kind === 'semicolon') { positional = -1; depth = 0; }
    let p: string;
    if (positional >= 0 && t.kind === 'number') p = t.text;
    // A string right after an expression (`phone 'x'`, `AS 'x'`) is a column
    // alias: it names an output, so it stays in the shape.
    else if (t.kind === 'string' && prev !== undefined
      && (prev.kind === 'quoted-ident' || prev.text === ')' || (prev.kind === 'word' && !EXPRESSION_WORDS.has(prev.text.toLowerCase())))) p = t.text;
    // Literal classes stay apart (LIMIT 1 parses, LIMIT 1.5 and LIMIT '1' do not).
    else if (t.kind === 'string') p = /^[a-z_]/i.test(t.text) ? `${t.text.slice(0, t.text.indexOf("'")).toLowerCase()}'?'` : "'?'";
    else if (t.kind === 'number') p = numberClass(t.text);
    else if (t.kind === 'word') p = UPPERCASED.has(lower) ? t.text.toUpperCase() : t.text;
    else p = t.text;
    const tight = k === 0 || p === ',' || p === ')' || p === '.' || last === '(' || last === '.' || (p === '(' && prev?.kind === 'word' && !t.spaced);
    d += tight ? p : ` ${p}`;
    last = p;
  }
  // (Each rewrite is tried only when the text has what it needs to match: most statements have no list.)
  if (d.includes(',')) {
    d = d.replace(/,(?! )/g, ', ');
    // Collapse repeated VALUES tuples of placeholders: (?,?),(?,?)… → (?,?),...
    if (/value/i.test(d)) d = d.replace(/(VALUES?\s*)(\((?:'\?'|\?\.?|,|\s|NULL|DEFAULT|-)*\))(?:\s*,\s*\((?:'\?'|\?\.?|,|\s|NULL|DEFAULT|-)*\))+/gi, '$1$2,...');
    // IN lists of placeholders collapse too.
    if (d.includes('IN')) d = d.replace(/IN\s*\((?:'\?'|\?\.?)(?:\s*,\s*(?:'\?'|\?\.?))+\)/g, 'IN (?,...)');
  }
  const h = hints.map((x) => `/*+ sqlgate:${x.name}(${x.args.join(',')}) */`).join(' ');
  return h ? `${h} ${d}` : d;
}

const NO_HINTS: readonly Hint[] = Object.freeze([]);

/** Literal lists at least this long are shortened for the parser (collapseLiteralLists). */
const LONG_LIST = 16;

/** How many tokens the literal element at `at` takes (`1`, `-2.5`, `'x'`, `?`, NULL, DEFAULT...); 0 when it is not one. */
function literalLength(tokens: readonly Token[], at: number): number {
  let k = at;
  if (tokens[k]?.kind === 'punct' && (tokens[k].text === '-' || tokens[k].text === '+') && tokens[k + 1]?.kind === 'number') k++;
  const t = tokens[k];
  if (!t) return 0;
  if (t.kind === 'number' || t.kind === 'string' || t.kind === 'param') return k + 1 - at;
  if (t.kind === 'word' && /^(NULL|DEFAULT|TRUE|FALSE)$/i.test(t.text)) return k + 1 - at;
  return 0;
}

/** End (the index after `)`) of a parenthesised list of literals starting at `open`, and its element count; undefined otherwise. */
function literalTuple(tokens: readonly Token[], open: number): { end: number; count: number } | undefined {
  if (tokens[open]?.text !== '(' || tokens[open].kind !== 'punct') return undefined;
  let k = open + 1;
  let count = 0;
  if (tokens[k]?.text === ')') return { end: k + 1, count };
  for (;;) {
    const n = literalLength(tokens, k);
    if (n === 0) return undefined;
    k += n;
    count++;
    const t = tokens[k];
    if (t?.kind === 'punct' && t.text === ',') { k++; continue; }
    if (t?.kind === 'punct' && t.text === ')') return { end: k + 1, count };
    return undefined;
  }
}

/**
 * The tokens the parser reads, with long lists of literals cut to their
 * first element: `IN (1, 2, … 100000)` → `IN (1)`, and `VALUES (…), (…), …`
 * of literal tuples → `VALUES (…)`. The analysis never depends on literal
 * values (statements that differ only in them already share one analysis
 * through the digest), so the facts are the same; but node-sql-parser takes about a second per megabyte of list, time
 * in which the proxy serves nobody else. Short lists are left as they are.
 */
export function collapseLiteralLists(tokens: readonly Token[]): readonly Token[] {
  // A long list takes at least LONG_LIST elements and the commas between them.
  if (tokens.length < 2 * LONG_LIST - 1) return tokens;
  let out: Token[] | undefined;
  let copied = 0;
  const cut = (from: number, to: number): void => {
    out ??= [];
    for (let k = copied; k < from; k++) out.push(tokens[k]);
    copied = to;
  };
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    if (t.kind !== 'word' || (t.text.length !== 2 && t.text.length !== 5 && t.text.length !== 6)) continue;
    const w = t.text.toUpperCase();
    if (w === 'IN') {
      const list = literalTuple(tokens, k + 1);
      if (!list || list.count < LONG_LIST) continue;
      // Keep `IN (` and the first element, then `)`.
      const first = k + 2 + literalLength(tokens, k + 2);
      cut(first, list.end - 1);
      k = list.end - 1;
    } else if (w === 'VALUES' || w === 'VALUE') {
      const firstTuple = literalTuple(tokens, k + 1);
      if (!firstTuple) continue;
      let end = firstTuple.end;
      let count = 1;
      for (;;) {
        if (tokens[end]?.kind !== 'punct' || tokens[end].text !== ',') break;
        const next = literalTuple(tokens, end + 1);
        if (!next) { count = 0; break; }
        end = next.end;
        count++;
      }
      // Every tuple must be literal: `VALUES (1), (NOW())` is left whole.
      if (count < LONG_LIST) continue;
      cut(firstTuple.end, end);
      k = end - 1;
    }
  }
  if (!out) return tokens;
  for (let k = copied; k < tokens.length; k++) out.push(tokens[k]);
  return out;
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
    let text = sql.slice(from, ends[k]).trim();
    if (text.endsWith(';')) text = text.slice(0, -1).trim();
    const own = main.hints.length === 0 ? NO_HINTS : main.hints.filter((h) => h.at >= from && h.at < ends[k]).map((h) => h.hint);
    const altTokens = alt?.[k];
    const parsed = collapseLiteralLists(tokens);
    const st: MysqlStatement = { text, tokens: parsed, parseText: joinTokens(parsed), digest: digestTokens(tokens, own), hints: own };
    if (!altTokens) return st;
    const altParsed = collapseLiteralLists(altTokens);
    return { ...st, alternative: { tokens: altParsed, parseText: joinTokens(altParsed) } };
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
