/**
 * The server settings a MySQL SET statement assigns, each with its scope and
 * what its value is as far as the text tells (DESIGN.md decision 11). The
 * rules judge every assignment: `SET autocommit = 1, sql_mode = 4` hides
 * ANSI_QUOTES (bit 4) behind a number and behind a harmless first setting.
 */
import type { SettingChange, SettingValue } from '../facts.js';
import type { Token } from './lexer.js';
import { unquoteIdent, unquoteString } from './lexer.js';

const GLOBAL_WORDS = new Set(['GLOBAL', 'PERSIST', 'PERSIST_ONLY']);
const SESSION_WORDS = new Set(['SESSION', 'LOCAL']);
/** Functions ORMs wrap the current value in to add or remove a mode. */
const EXTENDING_FUNCTIONS = new Set(['CONCAT', 'CONCAT_WS', 'REPLACE']);

const upper = (t: Token | undefined): string => (t && t.kind === 'word' ? t.text.toUpperCase() : '');

/** Splits `tokens` at commas outside parentheses. */
function topLevelParts(tokens: readonly Token[]): Token[][] {
  const parts: Token[][] = [[]];
  let depth = 0;
  for (const t of tokens) {
    if (t.text === '(') depth++;
    else if (t.text === ')') depth--;
    if (depth === 0 && t.kind === 'punct' && t.text === ',') parts.push([]);
    else parts[parts.length - 1].push(t);
  }
  return parts.filter((p) => p.length > 0);
}

/** A plain string literal: quoted, or with N / _charset before it; not X'..' or B'..'. */
function plainString(t: Token): boolean {
  return t.kind === 'string' && /^(?:[nN]|_[A-Za-z0-9]+)?['"]/.test(t.text);
}

/** `@@x`, `@@session.x`, `@@local.x` naming setting `name`. */
function currentValueOf(t: Token, next: Token | undefined, after: Token | undefined, name: string): number {
  if (t.kind !== 'variable' || !t.text.startsWith('@@')) return 0;
  const own = t.text.slice(2).toLowerCase();
  if (own === name || own === `session.${name}` || own === `local.${name}`) return 1;
  if ((own === 'session' || own === 'local') && next?.text === '.' && after && unquoteIdent(after.text).toLowerCase() === name) return 3;
  return 0;
}

/**
 * Whether `tokens[i..]` starts an expression made only of the setting's
 * current value, plain strings and the extending functions; returns the
 * index after it, or -1.
 */
function extending(tokens: readonly Token[], i: number, name: string, literals: string[], uses: { current: number }): number {
  const t = tokens[i];
  if (!t) return -1;
  if (plainString(t)) {
    literals.push(unquoteString(t.text));
    return i + 1;
  }
  const cur = currentValueOf(t, tokens[i + 1], tokens[i + 2], name);
  if (cur > 0) {
    uses.current++;
    return i + cur;
  }
  if (EXTENDING_FUNCTIONS.has(upper(t)) && tokens[i + 1]?.text === '(') {
    let j = i + 2;
    for (;;) {
      j = extending(tokens, j, name, literals, uses);
      if (j < 0) return -1;
      if (tokens[j]?.text === ',') { j++; continue; }
      return tokens[j]?.text === ')' ? j + 1 : -1;
    }
  }
  return -1;
}

/** What the value tokens of an assignment to `name` say about the value. */
export function settingValue(tokens: readonly Token[], name: string): SettingValue {
  const text = tokens.map((t) => t.text).join(' ');
  if (tokens.length === 1 && upper(tokens[0]) === 'DEFAULT') return { kind: 'default' };
  if (tokens.length > 0 && tokens.every(plainString)) {
    return { kind: 'constant', text: tokens.map((t) => unquoteString(t.text)).join(''), quoted: true };
  }
  if (tokens.length === 1) {
    const t = tokens[0];
    // Decimal numbers only: 0x41 and 0b01 are strings in disguise.
    if (t.kind === 'number' && /^[0-9.]+(e[+-]?[0-9]+)?$/i.test(t.text)) return { kind: 'constant', text: t.text, quoted: false };
    if (t.kind === 'word' || t.kind === 'quoted-ident') return { kind: 'constant', text: unquoteIdent(t.text), quoted: false };
  }
  if (tokens.length === 2 && tokens[0].text === '-' && tokens[1].kind === 'number' && /^[0-9.]+$/.test(tokens[1].text)) {
    return { kind: 'constant', text: `-${tokens[1].text}`, quoted: false };
  }
  const literals: string[] = [];
  const uses = { current: 0 };
  if (extending(tokens, 0, name, literals, uses) === tokens.length && uses.current > 0) return { kind: 'extends-current', literals };
  return { kind: 'expression', text };
}

/**
 * Every setting assignment of `SET …` (tokens from SET on). A scope word
 * holds for the assignments after it until another one, as in the server.
 * User variables (`@x = …`) are not settings and are left out.
 */
export function mysqlSettings(tokens: readonly Token[]): SettingChange[] {
  const out: SettingChange[] = [];
  let scope: SettingChange['scope'] = 'session';
  for (const part of topLevelParts(tokens.slice(1))) {
    let k = 0;
    while (k < part.length && (GLOBAL_WORDS.has(upper(part[k])) || SESSION_WORDS.has(upper(part[k])))) {
      scope = GLOBAL_WORDS.has(upper(part[k])) ? 'global' : 'session';
      k++;
    }
    const eq = part.findIndex((t, j) => j > k && (t.text === '=' || t.text === ':='));
    if (eq < 0) continue;
    let raw = part.slice(k, eq).map((t) => (t.kind === 'variable' ? t.text : unquoteIdent(t.text))).join('');
    if (raw.startsWith('@') && !raw.startsWith('@@')) continue;
    let own = scope;
    // MySQL 8 also writes @@persist.x and @@persist_only.x.
    const m = /^@@(global|session|local|persist|persist_only)\./i.exec(raw);
    if (m) own = /^(session|local)$/i.test(m[1]) ? 'session' : 'global';
    raw = raw.replace(/^@@((global|session|local|persist|persist_only)\.)?/i, '').toLowerCase();
    out.push({ name: raw, scope: own, value: settingValue(part.slice(eq + 1), raw) });
  }
  return out;
}
