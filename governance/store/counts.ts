import { SqlgateError } from '../errors.js';

/** Stands for "no limit" in SQL: far below BIGINT's maximum, above any real quota. */
export const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/** Counts must be whole and non-negative: a negative "reservation" or release would mint quota. */
export function wholeCount(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new SqlgateError('INTERNAL', `sqlgate: ${what} must be a whole number >= 0, got ${n}`);
  return n;
}

/** A limit as the SQL wants it: NO_LIMIT for none, else a whole number >= 0. */
export function limitOrNone(limit: number | undefined): number {
  return limit === undefined ? NO_LIMIT : wholeCount(limit, 'limit');
}
