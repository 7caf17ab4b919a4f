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
import { createHash } from 'node:crypto';
import type { UpstreamTarget } from '../../governance/gate.js';
import { UpstreamSession } from './upstream-session.js';

export interface UpstreamPoolOptions {
  /** Idle connections kept per (user, target, startup parameters). */
  readonly maxIdlePerKey?: number;
  /** Idle connections kept in all: each one counts against the server's max_connections. */
  readonly maxIdle?: number;
  readonly idleMs?: number;
}

interface Idle {
  readonly session: UpstreamSession;
  readonly timer: NodeJS.Timeout;
}

export class UpstreamSessionPool {
  private readonly idle = new Map<string, Idle[]>();
  private readonly keys = new WeakMap<UpstreamSession, string>();
  private readonly maxIdlePerKey: number;
  private readonly maxIdle: number;
  private readonly idleMs: number;
  private closed = false;
  /** Connections made and reused (for tests and metrics). */
  created = 0;
  reused = 0;

  constructor(opts: UpstreamPoolOptions = {}) {
    this.maxIdlePerKey = opts.maxIdlePerKey ?? 16;
    this.maxIdle = opts.maxIdle ?? 32;
    this.idleMs = opts.idleMs ?? 60_000;
  }

  /** A logged-in connection for this user: an idle one left by an earlier session, else a new one. */
  async acquire(user: string, target: UpstreamTarget, params: Readonly<Record<string, string>>): Promise<UpstreamSession> {
    const key = poolKey(user, target, params);
    const list = this.idle.get(key);
    while (list && list.length > 0) {
      const { session, timer } = list.pop()!;
      clearTimeout(timer);
      if (list.length === 0) this.idle.delete(key);
      if (session.reusable) {
        this.reused++;
        this.keys.set(session, key);
        return session;
      }
      session.close();
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
      const list = this.idle.get(key) ?? [];
      if (!ok || this.closed || list.length >= this.maxIdlePerKey || this.size >= this.maxIdle) {
        session.close();
        return;
      }
      const timer = setTimeout(() => {
        const l = this.idle.get(key);
        const i = l?.findIndex((x) => x.session === session) ?? -1;
        if (l && i >= 0) {
          l.splice(i, 1);
          if (l.length === 0) this.idle.delete(key);
        }
        session.close();
      }, this.idleMs);
      timer.unref();
      list.push({ session, timer });
      this.idle.set(key, list);
    }, () => session.close());
  }

  /** Idle connections held. */
  get size(): number {
    let n = 0;
    for (const l of this.idle.values()) n += l.length;
    return n;
  }

  close(): void {
    this.closed = true;
    for (const l of this.idle.values()) for (const i of l) { clearTimeout(i.timer); i.session.close(); }
    this.idle.clear();
  }
}

/**
 * Everything the connection's login depended on: the same key, the same
 * login. (The service password enters as a digest: a rotated one is a new
 * login, and the key holds no secret.)
 */
function poolKey(user: string, target: UpstreamTarget, params: Readonly<Record<string, string>>): string {
  const p = Object.keys(params).sort().map((k) => [k, params[k]]);
  const password = target.password === undefined ? null : createHash('sha256').update(target.password).digest('hex');
  return JSON.stringify([user, target.instance, target.host, target.port, target.user, password, target.tls, p]);
}
