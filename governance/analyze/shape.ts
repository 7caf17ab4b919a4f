/**
 * Facts shared by digest (same statement shape, other literals) are copies of
 * one analysis with their own text. Everything a decision depends on is the
 * same in the copy and in the original, so the engine may key its decision
 * cache on the original: `shapeOf` finds it.
 */
import type { StatementFacts } from '../facts.js';

const shapes = new WeakMap<StatementFacts, StatementFacts>();

/** Records that `copy` differs from `shape` in its text alone. */
export function sharesShape(copy: StatementFacts, shape: StatementFacts): void {
  shapes.set(copy, shape);
}

/** The facts a copy was made from, or the facts themselves. */
export function shapeOf(f: StatementFacts): StatementFacts {
  return shapes.get(f) ?? f;
}
