/**
 * The targets of issue 7. They are printed beside the figures (met / missed)
 * and never asserted: the machine is shared, a bench that fails on noise
 * would only teach people to ignore it.
 */

/** One target: a figure compared against a bound. */
export interface Target {
  readonly id: string;
  readonly text: string;
  /** 'min': the figure must be at least `bound`; 'max': at most. */
  readonly kind: 'min' | 'max';
  readonly bound: number;
}

export const TARGETS = {
  pgbenchSvsPgbouncer: { id: 'pgbench-S-8-vs-pgbouncer', text: 'pgbench -S, 8 clients: ≥ 1.0× PgBouncer tps', kind: 'min', bound: 1.0 },
  sysbenchPointSelect: { id: 'sysbench-point-select-8', text: 'sysbench oltp_point_select, 8 threads: ≥ 0.5× direct', kind: 'min', bound: 0.5 },
  streamUnmasked: { id: 'stream-unmasked', text: '1M-row stream: ≥ 0.8× direct unmasked', kind: 'min', bound: 0.8 },
  streamMasked: { id: 'stream-masked', text: '1M-row stream: ≥ 0.6× direct masked', kind: 'min', bound: 0.6 },
  addedLatencyP50: { id: 'added-latency-p50', text: 'added p50 latency of a point SELECT ≤ 100 µs', kind: 'max', bound: 100 },
  decisionCached: { id: 'decision-cached', text: 'cached decision ≤ 5 µs', kind: 'max', bound: 5 },
  decisionUncachedPg: { id: 'decision-uncached-pg', text: 'uncached decision ≤ 100 µs (PostgreSQL)', kind: 'max', bound: 100 },
  decisionUncachedMysql: { id: 'decision-uncached-mysql', text: 'uncached decision ≤ 1 ms (MySQL)', kind: 'max', bound: 1000 },
  idleRss: { id: 'idle-rss', text: '≤ 64 KB RSS per idle client connection', kind: 'max', bound: 64 },
} as const satisfies Record<string, Target>;

/** 'met', 'missed', or 'n/a' when there is no figure. */
export function verdict(target: Target, value: number | undefined): 'met' | 'missed' | 'n/a' {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  return (target.kind === 'min' ? value >= target.bound : value <= target.bound) ? 'met' : 'missed';
}

/**
 * The same figure for the bare Node.js relay (no protocol work at all), said
 * against the target: when the relay alone misses it, no governance work
 * done in one Node.js hop on this machine could meet it, and the note says so.
 */
export function relayCeiling(target: Target, value: number | undefined, show: (v: number) => string): string | undefined {
  const v = verdict(target, value);
  if (v === 'n/a') return undefined;
  // Rounded for display, a figure just short of the bound reads as the bound: say which side it is on.
  const shown = show(value!) === show(target.bound) && value !== target.bound ? `${show(value!)} (${value!.toPrecision(3)})` : show(value!);
  return `bare Node.js relay: ${shown}${v === 'missed' ? ', which misses it too' : ''}`;
}

/**
 * sqlgate's own work per statement: its CPU per statement less the bare
 * relay's in the same rounds (the hop, the runtime and the system calls both
 * pay). Undefined unless both were measured.
 */
export function ownWork(sqlgateCpu: number | undefined, relayCpu: number | undefined): string | undefined {
  if (sqlgateCpu === undefined || relayCpu === undefined || !Number.isFinite(sqlgateCpu) || !Number.isFinite(relayCpu)) return undefined;
  return `sqlgate's own work ${(sqlgateCpu - relayCpu).toFixed(1)} µs/statement (its CPU less the relay's)`;
}

/** The notes that are there, joined; undefined when none is. */
export function joinNotes(...notes: readonly (string | undefined)[]): string | undefined {
  const there = notes.filter((n): n is string => n !== undefined && n !== '');
  return there.length ? there.join('; ') : undefined;
}
