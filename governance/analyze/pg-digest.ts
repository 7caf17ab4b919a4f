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

// Character codes are written as numbers (with the character in a comment),
// as in lexer.ts: the TypeScript compiler we use keeps `const enum` members
// as property loads, which cost a tenth of this scanner's time.

/** Character classes of ASCII codes, one table load per test. */
const SPACE = 1;
const DIGIT = 2;
const IDENT_START = 4;
const IDENT_CONT = 8;
const OP = 16;
const CLASS = new Uint8Array(128);
// PostgreSQL 15 whitespace; \v is not (it is an error there).
for (const c of ' \t\n\r\f') CLASS[c.charCodeAt(0)] |= SPACE;
for (let c = 48; c <= 57; c++) CLASS[c] |= DIGIT | IDENT_CONT;
for (let c = 65; c <= 90; c++) CLASS[c] |= IDENT_START | IDENT_CONT;
for (let c = 97; c <= 122; c++) CLASS[c] |= IDENT_START | IDENT_CONT;
CLASS[95 /* _ */] |= IDENT_START | IDENT_CONT;
CLASS[36 /* $ */] |= IDENT_CONT;
for (const c of '~!@#^&|`?+-*/%<>=') CLASS[c.charCodeAt(0)] |= OP;

/** The class bits of a code unit; names may hold any non-ASCII character; past the end (NaN) has none. */
function classOf(c: number): number {
  return c < 128 ? CLASS[c] : c >= 128 ? IDENT_START | IDENT_CONT : 0;
}
function isDigit(c: number): boolean { return c >= 48 && c <= 57; }
function isIdentStart(c: number): boolean { return (classOf(c) & IDENT_START) !== 0; }
function isIdentCont(c: number): boolean { return (classOf(c) & IDENT_CONT) !== 0; }

/**
 * Words that end an ORDER BY / GROUP BY list at its own depth. None can occur
 * inside a list item outside parentheses (unlike FROM in IS DISTINCT FROM):
 * anything else keeps integers as written, which is only ever stricter.
 */
const CLAUSE_END = ['limit', 'offset', 'fetch', 'having', 'window', 'union', 'intersect', 'except', 'for', 'returning'];

/** Index after the closing quote of a '…' string ('' doubles a quote; backslashes count only in E strings), or -1. */
function skipString(sql: string, i: number, backslash: boolean): number {
  const n = sql.length;
  let j = i + 1;
  while (j < n) {
    const c = sql.charCodeAt(j);
    if (c === 92 /* \ */ && backslash) { j += 2; continue; }
    if (c === 39 /* ' */) {
      if (sql.charCodeAt(j + 1) === 39) { j += 2; continue; }
      return j + 1;
    }
    j++;
  }
  return -1;
}

function skipQuotedIdent(sql: string, i: number): number {
  const n = sql.length;
  let j = i + 1;
  while (j < n) {
    if (sql.charCodeAt(j) === 34 /* " */) {
      if (sql.charCodeAt(j + 1) === 34) { j += 2; continue; }
      return j + 1;
    }
    j++;
  }
  return -1;
}

/**
 * The digest is written as UTF-16 code units into one reused buffer and
 * turned into a string once: a string per token and a join cost about half
 * of a cached decision, mostly in allocation. Each token is preceded by a
 * newline, except the first.
 */
let out: Uint16Array = new Uint16Array(4096);
let outBytes: Buffer = Buffer.from(out.buffer);
let len = 0;

/** Typed arrays use the platform's byte order; Buffer's utf16le decoding wants little-endian. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The digest as a string, code unit for code unit (lone surrogates included). */
function decode(): string {
  if (LITTLE_ENDIAN) return outBytes.toString('utf16le', 0, 2 * len);
  let s = '';
  for (let k = 0; k < len; k += 4096) s += String.fromCharCode(...out.subarray(k, Math.min(len, k + 4096)));
  return s;
}

function sep(): void {
  if (len > 0) out[len++] = 10 /* \n */;
}

function copy(sql: string, from: number, to: number): void {
  for (let k = from; k < to; k++) out[len++] = sql.charCodeAt(k);
}

/** Unquoted names fold ASCII letters only (as the server does for UTF-8). */
function copyFolded(sql: string, from: number, to: number): void {
  for (let k = from; k < to; k++) {
    const c = sql.charCodeAt(k);
    out[len++] = c >= 65 && c <= 90 ? c + 32 : c;
  }
}

/** A placeholder: `'?'` after an optional prefix of up to two code units. */
function placeholder(p1: number, p2: number): void {
  if (p1) out[len++] = p1;
  if (p2) out[len++] = p2;
  out[len++] = 39; out[len++] = 63; out[len++] = 39; // '?'
}

/** The word sql[from, to) equals `lower` (ASCII lower case) once folded. */
function wordIs(sql: string, from: number, to: number, lower: string): boolean {
  if (to - from !== lower.length) return false;
  for (let k = 0; k < lower.length; k++) {
    const c = sql.charCodeAt(from + k);
    if ((c >= 65 && c <= 90 ? c + 32 : c) !== lower.charCodeAt(k)) return false;
  }
  return true;
}

function clauseEnd(sql: string, from: number, to: number): boolean {
  for (const w of CLAUSE_END) if (wordIs(sql, from, to, w)) return true;
  return false;
}

const enum Prev { NONE, ORDER, GROUP, PARTITION, DISTINCT }

/** What a word means for ORDER BY / GROUP BY / PARTITION BY / DISTINCT ON positions. */
function prevOf(sql: string, from: number, to: number): Prev {
  switch (to - from) {
    case 5: return wordIs(sql, from, to, 'order') ? Prev.ORDER : wordIs(sql, from, to, 'group') ? Prev.GROUP : Prev.NONE;
    case 8: return wordIs(sql, from, to, 'distinct') ? Prev.DISTINCT : Prev.NONE;
    case 9: return wordIs(sql, from, to, 'partition') ? Prev.PARTITION : Prev.NONE;
    default: return Prev.NONE;
  }
}

/**
 * The digest of a single-statement message, or undefined when the text is
 * not one statement or anything in it is uncertain.
 */
export function pgDigest(sql: string): PgDigest | undefined {
  // No token grows by more than five code units and a separator.
  const need = 6 * sql.length + 8;
  if (need > out.length) {
    // Huge statements get a buffer of their own, not kept afterwards.
    if (need > 1 << 16) return digestWith(new Uint16Array(need), sql);
    out = new Uint16Array(need);
    outBytes = Buffer.from(out.buffer);
  }
  return digestWith(out, sql);
}

function digestWith(buffer: Uint16Array, sql: string): PgDigest | undefined {
  const keep = out;
  const keepBytes = outBytes;
  if (buffer !== out) { out = buffer; outBytes = Buffer.from(buffer.buffer); }
  len = 0;
  try {
    const semicolon = scan(sql);
    if (semicolon === -2 || len === 0) return undefined;
    const text = (semicolon >= 0 ? sql.slice(0, semicolon) : sql).trim();
    return { digest: decode(), text };
  } finally {
    out = keep;
    outBytes = keepBytes;
  }
}

/** Writes the digest into `out`; returns the index of the `;` (-1: none), or -2 when there is no digest. */
function scan(sql: string): number {
  const n = sql.length;
  let i = 0;
  let depth = 0;
  /** Depth at which an ORDER BY / GROUP BY / DISTINCT ON list started, or -1. */
  let positional = -1;
  let prev = Prev.NONE;
  let prevLiteral = false;
  let semicolon = -1;
  while (i < n) {
    const c = sql.charCodeAt(i);
    const k = classOf(c);
    if (k & SPACE) { i++; continue; }
    if (semicolon >= 0) return -2; // anything after the `;`: not a single statement
    const c2 = sql.charCodeAt(i + 1);
    const start = i;
    let literal = false;
    if (k & IDENT_START) {
      i++;
      while (i < n) {
        const x = sql.charCodeAt(i);
        if (x < 128 && (CLASS[x] & IDENT_CONT) === 0) break;
        i++;
      }
      const end = i;
      const next = sql.charCodeAt(i);
      if (next === 39 /* ' */ && end - start === 1) {
        const p = c >= 97 && c <= 122 ? c - 32 : c;
        if (p === 69 /* E */ || p === 66 /* B */ || p === 88 /* X */ || p === 78 /* N */) {
          i = p === 69 ? skipString(sql, i, true) : p === 78 ? skipString(sql, i, false) : sql.indexOf("'", i + 1) + 1;
          if (i <= 0) return -2;
          sep(); placeholder(p, 0);
          literal = true;
        }
      } else if (next === 38 /* & */ && end - start === 1 && (c === 117 /* u */ || c === 85 /* U */)) {
        const q = sql.charCodeAt(i + 1);
        if (q === 39 /* ' */) {
          i = skipString(sql, i + 1, false);
          if (i < 0) return -2;
          sep(); placeholder(85 /* U */, 38 /* & */);
          literal = true;
        } else if (q === 34 /* " */) {
          i = skipQuotedIdent(sql, i + 1);
          if (i < 0) return -2;
          sep(); copy(sql, start, i);
        }
      }
      if (i === end) {
        const w = end - start;
        if (w === 7 && wordIs(sql, start, end, 'uescape')) return -2;
        if (prev !== Prev.NONE && prev !== Prev.DISTINCT && w === 2 && wordIs(sql, start, end, 'by')) positional = depth;
        // DISTINCT ON (…): positions inside the parentheses only.
        else if (prev === Prev.DISTINCT && w === 2 && wordIs(sql, start, end, 'on')) positional = depth + 1;
        else if (positional >= 0 && depth === positional && clauseEnd(sql, start, end)) positional = -1;
        sep(); copyFolded(sql, start, end);
        prev = prevOf(sql, start, end);
        prevLiteral = false;
        continue;
      }
    } else if (c === 45 /* - */ && c2 === 45) {
      // Line comments carry no hints (only /*+ … */ ones do): they are spacing.
      while (i < n && sql.charCodeAt(i) !== 10 && sql.charCodeAt(i) !== 13) i++;
      continue;
    } else if (c === 47 /* / */ && c2 === 42 /* * */) {
      let level = 1;
      i += 2;
      while (i < n && level > 0) {
        const x = sql.charCodeAt(i);
        const y = sql.charCodeAt(i + 1);
        if (x === 47 && y === 42) { level++; i += 2; }
        else if (x === 42 && y === 47) { level--; i += 2; }
        else i++;
      }
      if (level > 0) return -2;
      // Hint comments change the facts: they stay, verbatim.
      if (sql.charCodeAt(start + 2) === 43 /* + */) { sep(); copy(sql, start, i); }
      continue;
    } else if (c === 39 /* ' */) {
      i = skipString(sql, i, false);
      if (i < 0) return -2;
      sep(); placeholder(0, 0);
      literal = true;
    } else if (c === 34 /* " */) {
      i = skipQuotedIdent(sql, i);
      if (i < 0) return -2;
      sep(); copy(sql, start, i);
    } else if (c === 36 /* $ */) {
      if (isDigit(c2)) {
        i++;
        while (i < n && isDigit(sql.charCodeAt(i))) i++;
        if (i < n && isIdentCont(sql.charCodeAt(i))) return -2;
        sep(); copy(sql, start, i);
      } else {
        // $tag$ … $tag$ (tag may be empty).
        let j = i + 1;
        if (j < n && isIdentStart(sql.charCodeAt(j))) {
          j++;
          while (j < n && (isIdentStart(sql.charCodeAt(j)) || isDigit(sql.charCodeAt(j)))) j++;
        }
        if (sql.charCodeAt(j) !== 36) return -2;
        const tag = sql.slice(i, j + 1);
        const end = sql.indexOf(tag, j + 1);
        if (end < 0) return -2;
        i = end + tag.length;
        sep(); placeholder(36 /* $ */, 0);
        literal = true;
      }
    } else if ((k & DIGIT) || (c === 46 /* . */ && isDigit(c2))) {
      let integer = true;
      while (i < n && isDigit(sql.charCodeAt(i))) i++;
      if (sql.charCodeAt(i) === 46 /* . */) {
        // `1..` is 1 followed by `..` for the server: not worth following.
        if (sql.charCodeAt(i + 1) === 46) return -2;
        integer = false;
        i++;
        while (i < n && isDigit(sql.charCodeAt(i))) i++;
      }
      const e = sql.charCodeAt(i);
      if (e === 69 /* E */ || e === 101 /* e */) {
        let j = i + 1;
        const s = sql.charCodeAt(j);
        if (s === 43 /* + */ || s === 45 /* - */) j++;
        if (!isDigit(sql.charCodeAt(j))) return -2;
        while (j < n && isDigit(sql.charCodeAt(j))) j++;
        i = j;
        integer = false;
      }
      // Trailing junk (1abc, 0x1F, 1_000, 1.2.3, 1$): the server's reading differs between versions.
      if (i < n) {
        const t = sql.charCodeAt(i);
        if (isIdentCont(t) || t === 46) return -2;
      }
      sep();
      if (positional >= 0 && depth >= positional) copy(sql, start, i);
      else if (integer) { out[len++] = 63; out[len++] = 105; out[len++] = 110; out[len++] = 116; } // ?int
      else { out[len++] = 63; out[len++] = 110; out[len++] = 117; out[len++] = 109; } // ?num
    } else if (c === 59 /* ; */) {
      semicolon = i;
      i++;
      continue;
    } else if (k & OP) {
      // An operator runs until a comment starts (as the server cuts it).
      i++;
      while (i < n) {
        const x = sql.charCodeAt(i);
        if (x >= 128 || (CLASS[x] & OP) === 0) break;
        const y = sql.charCodeAt(i + 1);
        if ((x === 45 && y === 45) || (x === 47 && y === 42)) break;
        i++;
      }
      sep(); copy(sql, start, i);
    } else if (c === 58 /* : */) {
      i += c2 === 58 || c2 === 61 /* = */ ? 2 : 1;
      sep(); copy(sql, start, i);
    } else if (c === 46 /* . */) {
      i += c2 === 46 ? 2 : 1;
      sep(); copy(sql, start, i);
    } else if (c === 40 /* ( */ || c === 91 /* [ */) {
      depth++;
      i++;
      sep(); out[len++] = c;
    } else if (c === 41 /* ) */ || c === 93 /* ] */) {
      depth--;
      if (positional > depth) positional = -1;
      i++;
      sep(); out[len++] = c;
    } else if (c === 44 /* , */) {
      i++;
      sep(); out[len++] = c;
    } else {
      return -2;
    }
    // Strings separated only by spacing may be one continued literal.
    if (literal && prevLiteral) return -2;
    prevLiteral = literal;
    prev = Prev.NONE;
  }
  return semicolon;
}
