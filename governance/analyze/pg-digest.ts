/**
 * The PostgreSQL digest lexer: a small scanner that follows the server's own
 * lexical rules (src/backend/parser/scan.l, PostgreSQL 15, with
 * standard_conforming_strings on — the engine refuses turning it off) just
 * far enough to replace literal values with placeholders. Two texts share a
 * digest only when they tokenise the same apart from literal values, so they
 * parse to the same tree apart from constants; analysis never depends on a
 * constant's value (DESIGN.md), except ORDER BY / GROUP BY / DISTINCT ON
 * positions, which stay in the digest as written.
 *
 * Anything the scanner is not sure of (unterminated quotes or comments,
 * UESCAPE, adjacent strings that the server may glue together, numbers with
 * trailing junk, a lone `$`, multi-statement messages, characters the server
 * would reject) yields no digest: the caller then keys on the exact text.
 * Reference: https://www.postgresql.org/docs/15/sql-syntax-lexical.html
 */

/** A single PostgreSQL statement's literal-free shape, and its text as the parser would cut it. */
export interface PgDigest {
  readonly digest: string;
  /** The statement text (trailing `;` removed, trimmed), as `pgParse` reports it. */
  readonly text: string;
}

const enum C {
  TAB = 9, LF = 10, VT = 11, FF = 12, CR = 13, SPACE = 32, BANG = 33, DQUOTE = 34, HASH = 35, DOLLAR = 36,
  PERCENT = 37, AMP = 38, QUOTE = 39, LPAREN = 40, RPAREN = 41, STAR = 42, PLUS = 43, COMMA = 44, MINUS = 45,
  DOT = 46, SLASH = 47, D0 = 48, D9 = 57, COLON = 58, SEMI = 59, LT = 60, EQ = 61, GT = 62, QUESTION = 63, AT = 64,
  A = 65, Z = 90, LBRACKET = 91, BACKSLASH = 92, RBRACKET = 93, CARET = 94, UNDERSCORE = 95, BACKTICK = 96,
  a = 97, z = 122, PIPE = 124, TILDE = 126,
}

function isDigit(c: number): boolean { return c >= C.D0 && c <= C.D9; }
function isIdentStart(c: number): boolean { return (c >= C.a && c <= C.z) || (c >= C.A && c <= C.Z) || c === C.UNDERSCORE || c >= 0x80; }
function isIdentCont(c: number): boolean { return isIdentStart(c) || isDigit(c) || c === C.DOLLAR; }
function isOpChar(c: number): boolean {
  switch (c) {
    case C.TILDE: case C.BANG: case C.AT: case C.HASH: case C.CARET: case C.AMP: case C.PIPE: case C.BACKTICK: case C.QUESTION:
    case C.PLUS: case C.MINUS: case C.STAR: case C.SLASH: case C.PERCENT: case C.LT: case C.GT: case C.EQ:
      return true;
    default: return false;
  }
}
/** PostgreSQL 15 whitespace; \v is not (it is an error there). */
function isSpace(c: number): boolean { return c === C.SPACE || c === C.TAB || c === C.LF || c === C.CR || c === C.FF; }

/**
 * Words that end an ORDER BY / GROUP BY list at its own depth. None can occur
 * inside a list item outside parentheses (unlike FROM in IS DISTINCT FROM):
 * anything else keeps integers as written, which is only ever stricter.
 */
const CLAUSE_END = new Set(['limit', 'offset', 'fetch', 'having', 'window', 'union', 'intersect', 'except', 'for', 'returning']);

/** Index after the closing quote of a '…' string ('' doubles a quote; backslashes count only in E strings), or -1. */
function skipString(sql: string, i: number, backslash: boolean): number {
  const n = sql.length;
  let j = i + 1;
  while (j < n) {
    const c = sql.charCodeAt(j);
    if (c === C.BACKSLASH && backslash) { j += 2; continue; }
    if (c === C.QUOTE) {
      if (sql.charCodeAt(j + 1) === C.QUOTE) { j += 2; continue; }
      return j + 1;
    }
    j++;
  }
  return -1;
}

/**
 * The digest of a single-statement message, or undefined when the text is
 * not one statement or anything in it is uncertain.
 */
export function pgDigest(sql: string): PgDigest | undefined {
  const n = sql.length;
  const parts: string[] = [];
  let i = 0;
  let depth = 0;
  /** Depth at which an ORDER BY / GROUP BY / DISTINCT ON list started, or -1. */
  let positional = -1;
  let prevWord = '';
  let prevLiteral = false;
  let semicolon = -1;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) { i++; continue; }
    if (semicolon >= 0) return undefined; // anything after the `;`: not a single statement
    const c2 = sql.charCodeAt(i + 1);
    if (c === C.MINUS && c2 === C.MINUS) {
      // Line comments carry no hints (only /*+ … */ ones do): they are spacing.
      while (i < n && sql.charCodeAt(i) !== C.LF && sql.charCodeAt(i) !== C.CR) i++;
      continue;
    }
    if (c === C.SLASH && c2 === C.STAR) {
      const start = i;
      let level = 1;
      i += 2;
      while (i < n && level > 0) {
        const x = sql.charCodeAt(i);
        const y = sql.charCodeAt(i + 1);
        if (x === C.SLASH && y === C.STAR) { level++; i += 2; }
        else if (x === C.STAR && y === C.SLASH) { level--; i += 2; }
        else i++;
      }
      if (level > 0) return undefined;
      // Hint comments change the facts: they stay, verbatim.
      if (sql.charCodeAt(start + 2) === C.PLUS) parts.push(sql.slice(start, i));
      continue;
    }
    const start = i;
    let literal = false;
    if (c === C.QUOTE) {
      i = skipString(sql, i, false);
      if (i < 0) return undefined;
      parts.push("'?'");
      literal = true;
    } else if (c === C.DQUOTE) {
      i = skipQuotedIdent(sql, i);
      if (i < 0) return undefined;
      parts.push(sql.slice(start, i));
    } else if (c === C.DOLLAR) {
      if (isDigit(c2)) {
        i++;
        while (i < n && isDigit(sql.charCodeAt(i))) i++;
        if (i < n && (isIdentCont(sql.charCodeAt(i)))) return undefined;
        parts.push(sql.slice(start, i));
      } else {
        // $tag$ … $tag$ (tag may be empty).
        let j = i + 1;
        if (j < n && isIdentStart(sql.charCodeAt(j))) {
          j++;
          while (j < n && (isIdentStart(sql.charCodeAt(j)) || isDigit(sql.charCodeAt(j)))) j++;
        }
        if (sql.charCodeAt(j) !== C.DOLLAR) return undefined;
        const tag = sql.slice(i, j + 1);
        const end = sql.indexOf(tag, j + 1);
        if (end < 0) return undefined;
        i = end + tag.length;
        parts.push("$'?'");
        literal = true;
      }
    } else if (isDigit(c) || (c === C.DOT && isDigit(c2))) {
      let integer = true;
      while (i < n && isDigit(sql.charCodeAt(i))) i++;
      if (sql.charCodeAt(i) === C.DOT) {
        // `1..` is 1 followed by `..` for the server: not worth following.
        if (sql.charCodeAt(i + 1) === C.DOT) return undefined;
        integer = false;
        i++;
        while (i < n && isDigit(sql.charCodeAt(i))) i++;
      }
      const e = sql.charCodeAt(i);
      if (e === 69 || e === 101) {
        let j = i + 1;
        const s = sql.charCodeAt(j);
        if (s === C.PLUS || s === C.MINUS) j++;
        if (!isDigit(sql.charCodeAt(j))) return undefined;
        while (j < n && isDigit(sql.charCodeAt(j))) j++;
        i = j;
        integer = false;
      }
      // Trailing junk (1abc, 0x1F, 1_000, 1.2.3, 1$): the server's reading differs between versions.
      if (i < n) {
        const t = sql.charCodeAt(i);
        if (isIdentCont(t) || t === C.DOT) return undefined;
      }
      parts.push(positional >= 0 && depth >= positional ? sql.slice(start, i) : integer ? '?int' : '?num');
    } else if (isIdentStart(c)) {
      while (i < n && isIdentCont(sql.charCodeAt(i))) i++;
      const raw = sql.slice(start, i);
      const next = sql.charCodeAt(i);
      if (next === C.QUOTE && raw.length === 1) {
        const p = raw.toUpperCase();
        if (p === 'E' || p === 'B' || p === 'X' || p === 'N') {
          i = p === 'E' ? skipString(sql, i, true) : p === 'N' ? skipString(sql, i, false) : sql.indexOf("'", i + 1) + 1;
          if (i <= 0) return undefined;
          parts.push(`${p}'?'`);
          literal = true;
        }
      } else if (next === C.AMP && raw.length === 1 && (raw === 'u' || raw === 'U')) {
        const q = sql.charCodeAt(i + 1);
        if (q === C.QUOTE) {
          i = skipString(sql, i + 1, false);
          if (i < 0) return undefined;
          parts.push("U&'?'");
          literal = true;
        } else if (q === C.DQUOTE) {
          i = skipQuotedIdent(sql, i + 1);
          if (i < 0) return undefined;
          parts.push(sql.slice(start, i));
        }
      }
      if (i === start + raw.length) {
        // Unquoted names fold ASCII letters only (as the server does for UTF-8).
        const w = asciiLower(raw);
        if (w === 'uescape') return undefined;
        if (w === 'by' && (prevWord === 'order' || prevWord === 'group' || prevWord === 'partition')) positional = depth;
        // DISTINCT ON (…): positions inside the parentheses only.
        else if (w === 'on' && prevWord === 'distinct') positional = depth + 1;
        else if (positional >= 0 && depth === positional && CLAUSE_END.has(w)) positional = -1;
        parts.push(w);
        prevWord = w;
        prevLiteral = false;
        continue;
      }
    } else if (c === C.SEMI) {
      semicolon = i;
      i++;
      continue;
    } else if (isOpChar(c)) {
      // An operator runs until a comment starts (as the server cuts it).
      i++;
      while (i < n) {
        const x = sql.charCodeAt(i);
        if (!isOpChar(x)) break;
        const y = sql.charCodeAt(i + 1);
        if ((x === C.MINUS && y === C.MINUS) || (x === C.SLASH && y === C.STAR)) break;
        i++;
      }
      parts.push(sql.slice(start, i));
    } else if (c === C.COLON) {
      i += c2 === C.COLON || c2 === C.EQ ? 2 : 1;
      parts.push(sql.slice(start, i));
    } else if (c === C.DOT) {
      i += c2 === C.DOT ? 2 : 1;
      parts.push(sql.slice(start, i));
    } else if (c === C.LPAREN || c === C.LBRACKET) {
      depth++;
      i++;
      parts.push(sql[start]);
    } else if (c === C.RPAREN || c === C.RBRACKET) {
      depth--;
      if (positional > depth) positional = -1;
      i++;
      parts.push(sql[start]);
    } else if (c === C.COMMA) {
      i++;
      parts.push(',');
    } else {
      return undefined;
    }
    // Strings separated only by spacing may be one continued literal.
    if (literal && prevLiteral) return undefined;
    prevLiteral = literal;
    prevWord = '';
  }
  if (parts.length === 0) return undefined;
  const text = (semicolon >= 0 ? sql.slice(0, semicolon) : sql).trim();
  // Tokens never hold a newline outside self-delimiting quoted names and
  // comments, so joining on one keeps the digest unambiguous.
  return { digest: parts.join('\n'), text };
}

function skipQuotedIdent(sql: string, i: number): number {
  const n = sql.length;
  let j = i + 1;
  while (j < n) {
    if (sql.charCodeAt(j) === C.DQUOTE) {
      if (sql.charCodeAt(j + 1) === C.DQUOTE) { j += 2; continue; }
      return j + 1;
    }
    j++;
  }
  return -1;
}

function asciiLower(s: string): string {
  let upper = false;
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c >= 0x80) return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
    if (c >= C.A && c <= C.Z) upper = true;
  }
  // Plain ASCII: the built-in folds exactly the ASCII letters.
  return upper ? s.toLowerCase() : s;
}
