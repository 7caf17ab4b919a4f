/**
 * Idle upstream connections by key, for both doors' pools: each is closed
 * after `idleMs` unless taken first, and at most `maxPerKey` per key and
 * `maxTotal` in all are kept (every one counts against the server's own
 * connection limit).
 */
import { createHash } from 'node:crypto';
import type { UpstreamTarget } from '../governance/gate.js';

/**
 * What an upstream login depended on (address, service account, password,
 * TLS): part of every pool key, so a policy reload that changes any of them
 * never hands out a connection made under the old settings. The password
 * enters as a digest: a rotated one is a new login, and the key holds no
 * secret.
 */
export function upstreamLoginKey(target: UpstreamTarget): string {
  const password = target.password === undefined ? null : createHash('sha256').update(target.password).digest('hex');
  return JSON.stringify([target.instance, target.host, target.port, target.user, password, target.tls ?? null]);
}

export interface IdleLimits<C> {
  readonly maxPerKey: number;
  readonly maxTotal: number;
  readonly idleMs: number;
  /** How a connection is closed when it expires or the set is closed. */
  readonly close: (conn: C) => void;
}

interface Entry<C> {
  readonly conn: C;
  readonly timer: NodeJS.Timeout;
}

export class IdleConnections<C> {
  private readonly lists = new Map<string, Entry<C>[]>();
  private count = 0;

  constructor(private readonly limits: IdleLimits<C>) {}

  /**
   * Removes and returns the connection `choose` picks among the key's idle
   * ones (oldest first; by default the most recently kept), or undefined
   * when there is none or `choose` returns -1.
   */
  take(key: string, choose: (conns: readonly C[]) => number = (cs) => cs.length - 1): C | undefined {
    const list = this.lists.get(key);
    if (!list) return undefined;
    const i = choose(list.map((x) => x.conn));
    if (i < 0 || i >= list.length) return undefined;
    const [{ conn, timer }] = list.splice(i, 1);
    clearTimeout(timer);
    this.forget(key, list);
    return conn;
  }

  /** Keeps a connection for later; false, keeping nothing, when a bound is reached. */
  keep(key: string, conn: C): boolean {
    const list = this.lists.get(key) ?? [];
    if (list.length >= this.limits.maxPerKey || this.count >= this.limits.maxTotal) return false;
    const timer = setTimeout(() => {
      const l = this.lists.get(key);
      const i = l?.findIndex((x) => x.conn === conn) ?? -1;
      if (l && i >= 0) {
        l.splice(i, 1);
        this.forget(key, l);
      }
      this.limits.close(conn);
    }, this.limits.idleMs);
    timer.unref();
    list.push({ conn, timer });
    this.lists.set(key, list);
    this.count++;
    return true;
  }

  /** Idle connections held. */
  get size(): number {
    return this.count;
  }

  /** Closes every idle connection. */
  closeAll(): void {
    for (const l of this.lists.values()) for (const x of l) { clearTimeout(x.timer); this.limits.close(x.conn); }
    this.lists.clear();
    this.count = 0;
  }

  private forget(key: string, list: Entry<C>[]): void {
    this.count--;
    if (list.length === 0) this.lists.delete(key);
  }
}
