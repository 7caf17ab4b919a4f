/**
 * pgbench -S (select only) and the built-in TPC-B-like script, direct /
 * PgBouncer / sqlgate, as interleaved short rounds. pgbench runs with -n
 * (no vacuum: that needs privileges a governed user lacks) and the simple
 * query protocol (its default).
 */
import { cpuPerUnitUs, errorLine, type Endpoint, type Sample } from '../endpoints.js';
import { tryCpuSeconds } from '../proc.js';
import { run } from '../procs.js';

export type PgbenchMode = 'select-only' | 'tpcb';

/** Statements per pgbench transaction: -S is one SELECT; TPC-B is BEGIN, 3 UPDATE, SELECT, INSERT, END. */
export const STATEMENTS_PER_TX: Record<PgbenchMode, number> = { 'select-only': 1, tpcb: 7 };

/** tps and processed transactions from pgbench's report. */
export function parsePgbench(out: string): { tps: number; transactions: number; failed: number } | undefined {
  const tx = /number of transactions actually processed:\s*(\d+)/.exec(out);
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(out) ?? /tps = ([\d.]+)/.exec(out);
  const failed = /number of failed transactions:\s*(\d+)/.exec(out);
  if (!tx || !tps) return undefined;
  return { tps: Number(tps[1]), transactions: Number(tx[1]), failed: failed ? Number(failed[1]) : 0 };
}

/** Initialises the pgbench tables (-i -s scale) in the bench database, directly. */
export async function pgbenchInit(bin: string, ep: Endpoint, scale: number): Promise<void> {
  const r = await run(bin, ['-i', '-q', '-s', String(scale), '-h', ep.host, '-p', String(ep.port), '-U', ep.user, ep.database],
    { env: { ...process.env, PGPASSWORD: ep.password } });
  if (r.code !== 0) throw new Error(`pgbench -i failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
}

/** One pgbench round against one endpoint. */
export async function pgbenchRound(bin: string, ep: Endpoint, mode: PgbenchMode, clients: number, seconds: number, round: number): Promise<Sample> {
  const args = ['-n', ...(mode === 'select-only' ? ['-S'] : []), '-c', String(clients), '-j', String(Math.min(clients, 2)),
    '-T', String(seconds), '-h', ep.host, '-p', String(ep.port), '-U', ep.user, ep.database];
  const cpu0 = tryCpuSeconds(ep.proxyPid);
  try {
    const r = await run(bin, args, { env: { ...process.env, PGPASSWORD: ep.password, PGSSLMODE: 'disable' }, timeoutMs: (seconds + 60) * 1000 });
    const cpu1 = tryCpuSeconds(ep.proxyPid);
    const p = parsePgbench(r.stdout);
    if (r.code !== 0 || !p) {
      return { via: ep.via, round, error: `pgbench exit ${r.code}: ${errorLine(r.stderr || r.stdout)}` };
    }
    return {
      via: ep.via, round, value: p.tps,
      proxyCpuUs: cpuPerUnitUs(cpu0, cpu1, p.transactions * STATEMENTS_PER_TX[mode]),
      extra: { transactions: p.transactions, failed: p.failed },
    };
  } catch (err) {
    return { via: ep.via, round, error: errorLine(err) };
  }
}
