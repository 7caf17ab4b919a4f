/**
 * Idle upstream connections, kept per profile (the client capabilities and
 * collation that shape responses). A connection goes back to the pool only
 * after COM_RESET_CONNECTION succeeded, so no transaction, variable,
 * temporary table or prepared statement of one client reaches the next.
 */
import type { UpstreamTarget } from '../../governance/gate.js';
import { UpstreamConnection, profileKey, type UpstreamProfile } from './upstream-session.js';

export interface PoolOptions {
  /** Idle connections kept per profile. */
  readonly maxIdlePerProfile?: number;
  /** Idle connections are closed after this long. */
  readonly idleMs?: number;
}

interface Idle {
  readonly conn: UpstreamConnection;
  readonly timer: NodeJS.Timeout;
}

export class UpstreamPool {
  private readonly target: () => UpstreamTarget;
  private readonly idle = new Map<string, Idle[]>();
  private readonly maxIdle: number;
  private readonly idleMs: number;
  private closed = false;
  /** Connections made (for tests and metrics). */
  created = 0;
  reused = 0;

  constructor(target: () => UpstreamTarget, opts: PoolOptions = {}) {
    this.target = target;
    this.maxIdle = opts.maxIdlePerProfile ?? 16;
    this.idleMs = opts.idleMs ?? 60_000;
  }

  /** An authenticated connection for this profile, with `database` selected (a fresh one if no idle one fits). */
  async acquire(profile: UpstreamProfile, database: string | undefined): Promise<UpstreamConnection> {
    const list = this.idle.get(profileKey(profile)) ?? [];
    // Prefer one already on the wanted database; never reuse one that has a
    // database selected for a session that wants none (names would resolve differently).
    const pick = list.findIndex((i) => i.conn.database === database) >= 0
      ? list.findIndex((i) => i.conn.database === database)
      : database === undefined ? -1 : list.length - 1;
    if (pick >= 0) {
      const [{ conn, timer }] = list.splice(pick, 1);
      clearTimeout(timer);
      if (!conn.closed) {
        if (database !== undefined && conn.database !== database) {
          const s = await conn.initDb(database);
          if (s.error) {
            this.release(conn);
            return this.fresh(profile);
          }
        }
        this.reused++;
        return conn;
      }
    }
    return this.fresh(profile);
  }

  /** Logs in on the instance's own database; sessions select theirs afterwards (an unknown one then gets its own error). */
  private async fresh(profile: UpstreamProfile): Promise<UpstreamConnection> {
    const conn = await UpstreamConnection.connect(this.target(), profile);
    this.created++;
    return conn;
  }

  /** Returns a connection: reset and kept, or closed when it cannot be reused. */
  release(conn: UpstreamConnection): void {
    if (this.closed || !conn.reusable || conn.closed) {
      conn.destroy();
      return;
    }
    conn.reset().then((ok) => {
      const key = profileKey(conn.profile);
      const list = this.idle.get(key) ?? [];
      if (!ok || this.closed || conn.closed || list.length >= this.maxIdle) {
        conn.quit();
        return;
      }
      const timer = setTimeout(() => {
        const l = this.idle.get(key);
        const i = l?.findIndex((x) => x.conn === conn) ?? -1;
        if (l && i >= 0) l.splice(i, 1);
        conn.quit();
      }, this.idleMs);
      timer.unref();
      list.push({ conn, timer });
      this.idle.set(key, list);
    }, () => conn.destroy());
  }

  /** Number of idle connections. */
  get size(): number {
    let n = 0;
    for (const l of this.idle.values()) n += l.length;
    return n;
  }

  close(): void {
    this.closed = true;
    for (const l of this.idle.values()) for (const i of l) { clearTimeout(i.timer); i.conn.quit(); }
    this.idle.clear();
  }
}
