/**
 * The count behind per-user connection limits (user-slots.ts): sessions per
 * user and per holder, kept by a single process or by a cluster's primary.
 */

/** Sessions per user and per holder (a worker's index; 0 in a single process). */
export class SlotCounts {
  private readonly byUser = new Map<string, Map<number, number>>();

  /** Takes a slot for `holder`; false when the user's sessions everywhere already reach `limit`. */
  take(holder: number, user: string, limit: number | undefined): boolean {
    let holders = this.byUser.get(user);
    if (limit !== undefined && holders !== undefined && total(holders) >= limit) return false;
    if (!holders) this.byUser.set(user, (holders = new Map()));
    holders.set(holder, (holders.get(holder) ?? 0) + 1);
    return true;
  }

  release(holder: number, user: string): void {
    const holders = this.byUser.get(user);
    const n = holders?.get(holder);
    if (!holders || n === undefined) return;
    if (n > 1) holders.set(holder, n - 1);
    else holders.delete(holder);
    if (holders.size === 0) this.byUser.delete(user);
  }

  /** A worker is gone, and its sessions with it. */
  dropHolder(holder: number): void {
    for (const [user, holders] of this.byUser) {
      holders.delete(holder);
      if (holders.size === 0) this.byUser.delete(user);
    }
  }

  /** The user's sessions over all holders. */
  count(user: string): number {
    const holders = this.byUser.get(user);
    return holders ? total(holders) : 0;
  }
}

function total(holders: ReadonlyMap<number, number>): number {
  let n = 0;
  for (const v of holders.values()) n += v;
  return n;
}
