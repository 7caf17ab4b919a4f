/**
 * The ways a workload can reach a database: directly, through PgBouncer,
 * through sqlgate, or through a bare Node.js relay (the reference for what
 * the runtime and the extra hop cost before any protocol work).
 */
export type Via = 'direct' | 'pgbouncer' | 'sqlgate' | 'relay';

/** A database endpoint as a client sees it, plus the proxy process to account CPU/RSS to. */
export interface Endpoint {
  readonly via: Via;
  readonly dialect: 'postgres' | 'mysql';
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** PID of the proxy in between (none for direct). */
  readonly proxyPid?: number;
}

/** One measurement of one endpoint in one round; `error` when it could not run. */
export interface Sample {
  readonly via: Via;
  readonly round: number;
  readonly value?: number;
  /** CPU µs the proxy process spent per unit of work (query, row, connection). */
  readonly proxyCpuUs?: number;
  readonly error?: string;
  readonly extra?: Record<string, number | string>;
}

/** CPU accounting around a piece of work done through a proxy. */
export function cpuPerUnitUs(before: number | undefined, after: number | undefined, units: number): number | undefined {
  if (before === undefined || after === undefined || !(units > 0)) return undefined;
  return ((after - before) * 1e6) / units;
}

/** Samples' values per round for one endpoint kind, aligned by round index. */
export function byRound(samples: readonly Sample[], via: Via, rounds: number): (number | undefined)[] {
  const out: (number | undefined)[] = new Array(rounds).fill(undefined);
  for (const s of samples) if (s.via === via && s.value !== undefined) out[s.round] = s.value;
  return out;
}

/** The first line of an error, for tables. */
export function errorLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 2).join(' | ').slice(0, 300);
}
