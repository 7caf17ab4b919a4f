/**
 * Hint comments addressed to sqlgate: `/*+ sqlgate:skip(no-unqualified-dml) *\/`.
 * Several hints may share one comment; anything not prefixed `sqlgate:` is
 * left for the database.
 */
import type { Hint } from '../facts.js';

const HINT = /sqlgate:([a-z][a-z0-9_-]*)\s*(?:\(([^)]*)\))?/gi;

/** Hints in one comment's text (with or without its delimiters). */
export function parseHint(comment: string): Hint[] {
  if (!comment.startsWith('/*+')) return [];
  const out: Hint[] = [];
  for (const m of comment.matchAll(HINT)) {
    out.push({ name: m[1].toLowerCase(), args: (m[2] ?? '').split(',').map((s) => s.trim()).filter(Boolean) });
  }
  return out;
}
