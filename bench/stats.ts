/**
 * Small statistics for noisy machines: medians of per-round ratios rather
 * than ratios of means, because one slow round (another process compiling)
 * must not decide the figure.
 */

/** Median of the finite values; NaN when there are none. */
export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/**
 * Percentile by the nearest-rank method (p in 0..100) of the finite values;
 * NaN when there are none. `sorted` skips the sort when the caller has done it.
 */
export function percentile(values: readonly number[], p: number, sorted = false): number {
  const v = sorted ? values : values.filter((x) => Number.isFinite(x)).slice().sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const rank = Math.ceil((Math.min(100, Math.max(0, p)) / 100) * v.length);
  return v[Math.max(0, rank - 1)];
}

/** a / b, NaN when either is missing or b is zero. */
export function ratio(a: number | undefined, b: number | undefined): number {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return NaN;
  return a / b;
}

/**
 * Median of the per-round ratios num[i] / den[i]; rounds where either side
 * failed are left out. `count` says how many rounds contributed.
 */
export function medianRatio(num: readonly (number | undefined)[], den: readonly (number | undefined)[]): { ratio: number; min: number; max: number; count: number } {
  const rs: number[] = [];
  for (let i = 0; i < Math.min(num.length, den.length); i++) {
    const r = ratio(num[i], den[i]);
    if (Number.isFinite(r)) rs.push(r);
  }
  return {
    ratio: median(rs),
    min: rs.length ? Math.min(...rs) : NaN,
    max: rs.length ? Math.max(...rs) : NaN,
    count: rs.length,
  };
}

/**
 * The order in which targets run in a round: rotated by the round number so
 * that no target always runs first (warm caches) or last (tired machine).
 */
export function rotate<T>(items: readonly T[], round: number): T[] {
  if (items.length === 0) return [];
  const k = ((round % items.length) + items.length) % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}
