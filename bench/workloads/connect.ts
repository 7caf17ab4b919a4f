/**
 * Connection setup rate: open (full login) and close connections for a few
 * seconds with a small concurrency, and the proxy CPU each login costs.
 */
import { openClient } from '../clients.js';
import { cpuPerUnitUs, errorLine, type Endpoint, type Sample } from '../endpoints.js';
import { tryCpuSeconds } from '../proc.js';

/** Connections per second over `seconds`, `concurrency` loops in parallel. */
export async function connectRound(ep: Endpoint, seconds: number, concurrency: number, round: number): Promise<Sample> {
  const cpu0 = tryCpuSeconds(ep.proxyPid);
  const t0 = process.hrtime.bigint();
  const end = Date.now() + seconds * 1000;
  let done = 0;
  let error: string | undefined;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < end && !error) {
      try {
        const c = await openClient(ep);
        await c.close();
        done++;
      } catch (err) {
        error = errorLine(err);
      }
    }
  }));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu1 = tryCpuSeconds(ep.proxyPid);
  if (error && done === 0) return { via: ep.via, round, error };
  return { via: ep.via, round, value: done / secs, proxyCpuUs: cpuPerUnitUs(cpu0, cpu1, done), extra: { connections: done, ...(error ? { error } : {}) } };
}
