/**
 * Idle upstream connections, kept per profile (the client capabilities and
 * collation that shape responses). A connection goes back to the pool only
 * after COM_RESET_CONNECTION succeeded, so no transaction, variable,
 * temporary table or prepared statement of one client reaches the next.
 */
import type { UpstreamTarget } from '../../governance/gate.js';
import { UpstreamConnection, profileKey, type UpstreamProfile } from './upstream-session.js';
import { IdleConnections, upstreamLoginKey } from '../idle-connections.js';

export interface PoolOptions {
  /** Idle connections kept per profile. */
  readonly maxIdlePerProfile?: number;
  /** Idle connections are closed after this long. */
  readonly idleMs?: number;
}

export class UpstreamPool {
  private readonly target: () => UpstreamTarget;
  private readonly idle: IdleConnections<UpstreamConnection>;
  private closed = false;
  /** Connections made (for tests and metrics). */
  created = 0;
  reused = 0;

  constructor(target: () => UpstreamTarget, opts: PoolOptions = {}) {
    this.target = target;
    this.idle = new IdleConnections({ maxPerKey: opts.maxIdlePerProfile ?? 16, maxTotal: Infinity, idleMs: opts.idleMs ?? 60_000, close: (c) => c.quit() });
  }

  /** An authenticated connection for this profile, with `database` selected (a fresh one if no idle one fits). */
  async acquire(profile: UpstreamProfile, database: string | undefined): Promise<UpstreamConnection> {
    const target = this.target();
    // Prefer one already on the wanted database; never reuse one that has a
    // database selected for a session that wants none (names would resolve differently).
    const conn = this.idle.take(poolKey(target, profile), (cs) => {
      const same = cs.findIndex((c) => c.database === database);
      return same >= 0 ? same : database === undefined ? -1 : cs.length - 1;
    });
    if (conn && !conn.closed) {
      if (database !== undefined && conn.database !== database) {
        const s = await conn.initDb(database);
        if (s.error) {
          this.release(conn);
          return this.fresh(target, profile);
        }
      }
      this.reused++;
      return conn;
    }
    return this.fresh(target, profile);
  }

  /** Logs in on the instance's own database; sessions select theirs afterwards (an unknown one then gets its own error). */
  private async fresh(target: UpstreamTarget, profile: UpstreamProfile): Promise<UpstreamConnection> {
    const conn = await UpstreamConnection.connect(target, profile);
    this.created++;
    return conn;
  }

  /** Returns a connection: reset and kept, or closed when it cannot be reused. */
  release(conn: UpstreamConnection): void {
    if (this.closed || !conn.reusable || conn.closed) {
      conn.destroy();
      return;
    }
    // The reading settings are read here, while nobody waits, rather than before the next session's first command.
    conn.reset().then(async (ok) => {
      if (ok && !conn.closed) await conn.readReading();
      if (!ok || this.closed || conn.closed || !this.idle.keep(poolKey(conn.target, conn.profile), conn)) conn.quit();
    }).catch(() => conn.destroy());
  }

  /** Number of idle connections. */
  get size(): number {
    return this.idle.size;
  }

  close(): void {
    this.closed = true;
    this.idle.closeAll();
  }
}

/** Idle connections are kept per login (upstreamLoginKey) and client profile. */
function poolKey(target: UpstreamTarget, profile: UpstreamProfile): string {
  return `${upstreamLoginKey(target)}\u0000${profileKey(profile)}`;
}
