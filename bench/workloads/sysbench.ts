/**
 * sysbench oltp_point_select and oltp_read_only against MariaDB/MySQL,
 * direct vs sqlgate. Both sides use the text protocol (--db-ps-mode=disable)
 * so that they run the same statements.
 */
import { cpuPerUnitUs, errorLine, type Endpoint, type Sample } from '../endpoints.js';
import { tryCpuSeconds } from '../proc.js';
import { run } from '../procs.js';

export type SysbenchTest = 'oltp_point_select' | 'oltp_read_only';

function common(ep: Endpoint, tables: number, tableSize: number): string[] {
  return ['--db-driver=mysql', `--mysql-host=${ep.host}`, `--mysql-port=${ep.port}`, `--mysql-user=${ep.user}`,
    `--mysql-password=${ep.password}`, `--mysql-db=${ep.database}`, '--mysql-ssl=off', `--tables=${tables}`, `--table-size=${tableSize}`];
}

/** The lines of sysbench's output that say what went wrong (it prints a banner first). */
export function sysbenchError(out: string): string {
  const lines = out.split('\n').map((l) => l.trim()).filter((l) => /FATAL|error|denied|not allowed|refused/i.test(l));
  return errorLine(lines.length ? lines.join('\n') : out);
}

/** Transactions and queries per second from sysbench's report. */
export function parseSysbench(out: string): { tps: number; qps: number; queries: number; transactions: number } | undefined {
  const tx = /transactions:\s+(\d+)\s+\(([\d.]+) per sec/.exec(out);
  const q = /queries:\s+(\d+)\s+\(([\d.]+) per sec/.exec(out);
  if (!tx || !q) return undefined;
  return { transactions: Number(tx[1]), tps: Number(tx[2]), queries: Number(q[1]), qps: Number(q[2]) };
}

/** Creates the sbtest tables in the bench database, directly. */
export async function sysbenchPrepare(bin: string, ep: Endpoint, tables: number, tableSize: number): Promise<void> {
  const r = await run(bin, ['oltp_read_only', ...common(ep, tables, tableSize), '--threads=2', 'prepare']);
  if (r.code !== 0) throw new Error(`sysbench prepare failed: ${sysbenchError(r.stdout + '\n' + r.stderr)}`);
}

/** One sysbench round; the value is queries per second. */
export async function sysbenchRound(bin: string, ep: Endpoint, test: SysbenchTest, threads: number, seconds: number,
  tables: number, tableSize: number, round: number): Promise<Sample> {
  const args = [test, ...common(ep, tables, tableSize), `--threads=${threads}`, `--time=${seconds}`, '--db-ps-mode=disable', '--report-interval=0', 'run'];
  const cpu0 = tryCpuSeconds(ep.proxyPid);
  try {
    const r = await run(bin, args, { timeoutMs: (seconds + 60) * 1000 });
    const cpu1 = tryCpuSeconds(ep.proxyPid);
    const p = parseSysbench(r.stdout);
    if (r.code !== 0 || !p) return { via: ep.via, round, error: `sysbench exit ${r.code}: ${sysbenchError(r.stdout + '\n' + r.stderr)}` };
    return { via: ep.via, round, value: p.qps, proxyCpuUs: cpuPerUnitUs(cpu0, cpu1, p.queries), extra: { tps: p.tps, queries: p.queries } };
  } catch (err) {
    return { via: ep.via, round, error: errorLine(err) };
  }
}
