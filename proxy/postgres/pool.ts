/**
 * What the PostgreSQL listener shares between its sessions: the cancel keys it
 * minted (a client only ever sees sqlgate's key, never the upstream's). Each
 * client session holds one upstream connection for its whole life (session
 * pooling); per-user connection limits are counted over the node (user-slots.ts).
 */
import { randomInt, timingSafeEqual } from 'node:crypto';
import { workerInfo } from '../cluster.js';

/** Something a CancelRequest can cancel. */
export interface Cancellable {
  cancel(): Promise<void>;
}

export class SessionPool {
  private readonly byPid = new Map<number, { secret: Buffer; target: Cancellable }>();

  /** Mints a BackendKeyData key for a new session. */
  mintKey(target: Cancellable): { processId: number; secretKey: number; release: () => void } {
    let processId: number;
    // In a cluster the worker shows in the key (processId % count), as in MySQL connection ids.
    const w = workerInfo();
    do {
      processId = randomInt(1, 0x7fffffff);
      if (w) processId = Math.max(w.count, processId - (processId % w.count)) + w.index;
    } while (this.byPid.has(processId) || processId > 0x7fffffff);
    const secretKey = randomInt(-0x80000000, 0x7fffffff);
    const secret = Buffer.alloc(4);
    secret.writeInt32BE(secretKey);
    this.byPid.set(processId, { secret, target });
    return { processId, secretKey, release: () => { this.byPid.delete(processId); } };
  }

  /** Cancels the session owning the key; a forged or stale key cancels nothing. Returns whether it matched. */
  async cancel(processId: number, secretKey: number): Promise<boolean> {
    const entry = this.byPid.get(processId);
    const given = Buffer.alloc(4);
    given.writeInt32BE(secretKey);
    if (!entry || !timingSafeEqual(entry.secret, given)) return false;
    await entry.target.cancel().catch(() => undefined);
    return true;
  }

  get sessions(): number {
    return this.byPid.size;
  }
}
