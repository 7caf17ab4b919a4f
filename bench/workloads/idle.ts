/**
 * Memory per idle client connection: the proxy's RSS before and after
 * opening many logged-in, idle client connections, divided by their number.
 *
 * When the proxy opens one upstream connection per client (found by counting
 * the server's connections after every batch of clients), opening stops while
 * the server still has connections for everyone else; the figure is then per
 * connection actually opened, and the cap is reported (bench/run.ts then
 * retries on a throw-away server).
 */
import { openClient, type AnyClient } from '../clients.js';
import { errorLine, type Endpoint } from '../endpoints.js';
import { rssBytes } from '../proc.js';
import { sleep } from '../procs.js';
import { median } from '../stats.js';

/** Server-side connection accounting, run on an admin connection. */
export interface ServerConnections {
  /** Connections the server has now. */
  count(): Promise<number>;
  /** The server's max_connections. */
  max(): Promise<number>;
}

/** The idle-memory figure of one proxy. */
export interface IdleResult {
  readonly opened?: number;
  readonly requested: number;
  readonly kbPerConnection?: number;
  readonly rssBeforeMb?: number;
  readonly rssAfterMb?: number;
  /** True when the proxy held one upstream connection per client. */
  readonly upstreamPerClient?: boolean;
  /** False when too few connections could be opened for the figure to mean much. */
  readonly reliable?: boolean;
  readonly cappedBy?: string;
  /** Which server the clients' upstream connections went to, when not the shared one. */
  readonly server?: string;
  readonly error?: string;
}

const HEADROOM = 25;
/** Connections needed before RSS growth says more than GC noise. */
export const MIN_RELIABLE = 200;

/** Median of a few RSS readings after a pause: one reading catches GC mid-flight. */
async function steadyRss(pid: number): Promise<number> {
  await sleep(700);
  const xs: number[] = [];
  for (let i = 0; i < 5; i++) { xs.push(rssBytes(pid)); await sleep(150); }
  return median(xs);
}
const PROBE = 10;

/** Opens up to `requested` idle clients through the proxy and measures its RSS growth. */
export async function idleMemory(ep: Endpoint, requested: number, server: ServerConnections): Promise<IdleResult> {
  if (ep.proxyPid === undefined) return { requested, error: 'no proxy process' };
  const clients: AnyClient[] = [];
  try {
    const rss0 = await steadyRss(ep.proxyPid);
    const max = await server.max();
    const base = await server.count();
    let upstreamPerClient = false;
    let cappedBy: string | undefined;
    let error: string | undefined;
    // Small first batch, then 25 at a time; after every batch the server's
    // connections are counted (upstream logins may lag the client's), so a
    // proxy holding one upstream connection per client is stopped while the
    // shared server still has HEADROOM connections left for everyone else.
    while (clients.length < requested && !error) {
      const batch = Math.min(clients.length === 0 ? PROBE : 25, requested - clients.length);
      const opened = await Promise.allSettled(Array.from({ length: batch }, () => openClient(ep)));
      for (const o of opened) {
        if (o.status === 'fulfilled') clients.push(o.value);
        else error ??= errorLine(o.reason);
      }
      await sleep(200);
      const now = await server.count();
      if (now - base >= clients.length * 0.5) upstreamPerClient = true;
      if (upstreamPerClient && max - now - HEADROOM < 25 && clients.length < requested) {
        cappedBy = `server max_connections=${max} (one upstream connection per client; ${HEADROOM} left for others)`;
        break;
      }
    }
    const rss1 = await steadyRss(ep.proxyPid);
    return {
      requested, opened: clients.length, upstreamPerClient,
      kbPerConnection: (rss1 - rss0) / 1024 / clients.length,
      // Below this many connections a garbage-collected heap's drift hides the figure.
      reliable: clients.length >= MIN_RELIABLE,
      rssBeforeMb: rss0 / 2 ** 20, rssAfterMb: rss1 / 2 ** 20,
      ...(cappedBy ? { cappedBy } : {}),
      ...(error ? { error: `stopped at ${clients.length}: ${error}` } : {}),
    };
  } catch (err) {
    return { requested, opened: clients.length, error: errorLine(err) };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}
