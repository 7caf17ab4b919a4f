/**
 * Added latency of one point SELECT with one client: the same text query,
 * one at a time, direct and through sqlgate, in alternating batches so both
 * see the same machine. Added latency = p50 via sqlgate − p50 direct.
 */
import { openClient, type AnyClient } from '../clients.js';
import { errorLine, type Endpoint, type Via } from '../endpoints.js';
import { percentile, rotate } from '../stats.js';

/** Queries per endpoint before any is timed. */
const WARM_UP = 2000;

/** Latency percentiles (µs) of one endpoint. */
export interface LatencyFigures {
  readonly p50: number;
  readonly p99: number;
  readonly samples: number;
}

/** Result per endpoint kind, or the error that stopped it. */
export type LatencyResult = Partial<Record<Via, LatencyFigures | { error: string }>>;

/**
 * Runs `queries` point SELECTs per endpoint on `table` (integer key `id` in
 * 1..maxId), in batches of `batch` alternating between the endpoints.
 */
export async function pointSelectLatency(endpoints: readonly Endpoint[], table: string, maxId: number, queries: number, batch = 250): Promise<LatencyResult> {
  const out: LatencyResult = {};
  const clients = new Map<Endpoint, AnyClient>();
  const times = new Map<Endpoint, number[]>();
  for (const ep of endpoints) {
    let c: AnyClient | undefined;
    try {
      c = await openClient(ep);
      // Enough for V8 to optimise sqlgate's hot path (with `--only latency` it has served
      // nothing else yet); direct and PgBouncer need none but get the same.
      for (let i = 0; i < WARM_UP; i++) await c.query(`SELECT c1 FROM ${table} WHERE id = ${1 + ((i * 7919) % maxId)}`);
      clients.set(ep, c);
      times.set(ep, []);
    } catch (err) {
      out[ep.via] = { error: errorLine(err) };
      await c?.close();
    }
  }
  let n = 0;
  try {
    for (let batchNo = 0; n < queries && clients.size > 0; batchNo++) {
      // The endpoints read the same rows in a batch: the first one pays the cold page reads,
      // so the order rotates and each goes first as often as the others.
      for (const [ep, c] of rotate([...clients], batchNo)) {
        const t = times.get(ep)!;
        try {
          for (let i = 0; i < batch && n + i < queries; i++) {
            const id = 1 + (((n + i) * 104729) % maxId);
            const t0 = process.hrtime.bigint();
            await c.query(`SELECT c1 FROM ${table} WHERE id = ${id}`);
            t.push(Number(process.hrtime.bigint() - t0) / 1000);
          }
        } catch (err) {
          out[ep.via] = { error: errorLine(err) };
          clients.delete(ep);
          times.delete(ep);
          await c.close();
        }
      }
      n += batch;
    }
    for (const [ep, t] of times) {
      t.sort((a, b) => a - b);
      out[ep.via] = { p50: percentile(t, 50, true), p99: percentile(t, 99, true), samples: t.length };
    }
  } finally {
    for (const c of clients.values()) await c.close();
  }
  return out;
}
