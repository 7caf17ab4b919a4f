/**
 * `users.<name>.max_connections`: a user's sessions on this node, counted
 * over every listener of both doors and, under `sqlgate start --workers N`,
 * over every worker. Counted per worker, the limit would be multiplied by
 * the number of workers; so in a cluster the primary keeps the one count
 * (cluster.ts carries the messages) and a worker asks it before a session
 * starts. Several nodes behind a load balancer each count their own.
 */
import { takeSlotElsewhere, releaseSlotElsewhere, workerInfo } from './cluster.js';
import { SlotCounts } from './slot-counts.js';
import { SqlgateError } from '../governance/errors.js';

/** A session's place under its user's limit; given back once when the session ends. */
export interface UserSlot {
  release(): void;
}

/** Where a listener takes its sessions' slots: this process's counts, or the cluster primary's. */
export class UserSlots {
  private readonly counts = new SlotCounts();
  private readonly clustered = workerInfo() !== undefined;

  /**
   * A slot for one session of `user`, or undefined when the limit is reached.
   * In a cluster the primary answers; with no answer in time the count could
   * not be checked, and the session does not start (rejects with INTERNAL).
   */
  async take(user: string, limit: number | undefined): Promise<UserSlot | undefined> {
    if (!this.clustered) return this.counts.take(0, user, limit) ? this.slot(() => this.counts.release(0, user)) : undefined;
    const ok = await takeSlotElsewhere(user, limit);
    if (ok === undefined) throw new SqlgateError('INTERNAL', 'sqlgate: the cluster primary did not answer, so the connection limit could not be checked');
    return ok ? this.slot(() => releaseSlotElsewhere(user)) : undefined;
  }

  private slot(give: () => void): UserSlot {
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        give();
      },
    };
  }
}

/** The process's slots, shared by every listener of both doors. */
export const processSlots = new UserSlots();
