/**
 * Upstream PostgreSQL connections kept between client sessions, as
 * PgBouncer's session mode keeps its server connections: a client that
 * leaves an idle connection behind hands it, after DISCARD ALL, to the next
 * client that logs in with the same user, instance and startup parameters.
 * Logging in through sqlgate then costs no backend start on the server
 * (about a millisecond of the server's CPU and a fork).
 *
 * A connection is kept only when the reset answered cleanly; it is never
 * shared between sqlgate users, so anything a reset might miss stays with
 * the user who made it. Idle connections are closed after `idleMs`.
 */
import type { UpstreamTarget } from '../../governance/gate.js';
import { UpstreamSession } from './upstream-session.js';
import { IdleConnections, upstreamLoginKey } from '../idle-connections.js';

export interface UpstreamPoolOptions {
  /** Idle connections kept per (user, target, startup parameters). */
  readonly maxIdlePerKey?: number;
  /** Idle connections kept in all: each one counts against the server's max_connections. */
  readonly maxIdle?: number;
  readonly idleMs?: number;
}

export class UpstreamSessionPool {
  private readonly idle: IdleConnections<UpstreamSession>;
  private readonly keys = new WeakMap<UpstreamSession, string>();
  private closed = false;
  /** Connections made and reused (for tests and metrics). */
  created = 0;
  reused = 0;

  constructor(opts: UpstreamPoolOptions = {}) {
    this.idle = new IdleConnections({
      maxPerKey: opts.maxIdlePerKey ?? 16, maxTotal: opts.maxIdle ?? 32, idleMs: opts.idleMs ?? 60_000, close: (s) => s.close(),
    });
  }

  /** A logged-in connection for this user: an idle one left by an earlier session, else a new one. */
  async acquire(user: string, target: UpstreamTarget, params: Readonly<Record<string, string>>): Promise<UpstreamSession> {
    const key = poolKey(user, target, params);
    for (let s = this.idle.take(key); s; s = this.idle.take(key)) {
      if (s.reusable) {
        this.reused++;
        this.keys.set(s, key);
        return s;
      }
      s.close();
    }
    const session = await UpstreamSession.connect(target, params);
    this.created++;
    this.keys.set(session, key);
    return session;
  }

  /** Takes a connection back from a session that ended with it idle: reset and kept, or closed. */
  release(session: UpstreamSession): void {
    const key = this.keys.get(session);
    if (this.closed || key === undefined || !session.reusable) {
      session.close();
      return;
    }
    session.reset().then((ok) => {
      if (!ok || this.closed || !this.idle.keep(key, session)) session.close();
    }, () => session.close());
  }

  /** Idle connections held. */
  get size(): number {
    return this.idle.size;
  }

  close(): void {
    this.closed = true;
    this.idle.closeAll();
  }
}

/** Everything the connection's login depended on: the same key, the same login. */
function poolKey(user: string, target: UpstreamTarget, params: Readonly<Record<string, string>>): string {
  const p = Object.keys(params).sort().map((k) => [k, params[k]]);
  return JSON.stringify([user, upstreamLoginKey(target), p]);
}
