/**
 * Quota leases: a node takes a block of a user's daily quota from the
 * control store in one atomic step and hands it out locally, so that an
 * ordinary statement costs no store round trip (the store's atomic
 * statements used to be most of sqlgate's CPU per query).
 *
 * The guarantee is the store's: every statement or row a node hands out was
 * first granted to it by the store, whose grants never pass the limit, so the
 * sum over all nodes never passes it either. What leasing gives up is only
 * fairness near the limit: rows one node holds cannot be used by another
 * until they are given back. Three things keep that small:
 *   - a lease is a fraction of what the store says is left, so as the limit
 *     nears leases shrink to one statement, one row: exact, as without leases;
 *   - what a user has not touched for IDLE_RETURN_MS goes back to the store;
 *   - closing the node gives everything back (a crash loses the unused part
 *     of its leases: the user gets less that day, never more).
 */

/** Largest query lease: one store round trip per this many statements at most. */
export const MAX_QUERY_LEASE = 1000;
/** Largest row lease beyond what the statement asked for. */
export const MAX_ROW_LEASE = 100_000;
/** A lease takes at most this fraction (1/n) of what the store says is left. */
export const LEASE_SHARE = 8;
/** Leases of a user idle this long go back to the store. */
export const IDLE_RETURN_MS = 1000;

/** How much to ask the store for, given what it said was used at the last trip. */
export function leaseSize(limit: number | undefined, storeUsed: number, max: number): number {
  const left = limit === undefined ? max * LEASE_SHARE : Math.max(0, limit - storeUsed);
  return Math.max(1, Math.min(max, Math.floor(left / LEASE_SHARE)));
}

/** One kind of counter (statements or rows) of one user on one day, as this node holds it. */
export class Lease {
  /** Granted by the store and not handed out yet. */
  held = 0;
  /** The store's day total after the last trip (this node's and the others' grants). */
  storeUsed = 0;
  /** What the last trip granted; 0 means the store had nothing left. */
  lastGrant = -1;
  /** The limit the held part was granted under; a new limit returns it first. */
  limit: number | undefined;
  /** The trip in flight, which concurrent takers wait for instead of starting their own. */
  trip: Promise<void> | undefined;

  constructor(limit: number | undefined) {
    this.limit = limit;
  }

  /** This node's view of the day's total: the store's, less what it holds unused. */
  used(): number {
    return Math.max(0, this.storeUsed - this.held);
  }
}

/** A user's leases on one quota day. */
export class Account {
  readonly day: string;
  queries: Lease | undefined;
  rows: Lease | undefined;
  /** performance.now() of the last use, for returning idle leases. */
  touched = 0;

  constructor(day: string) {
    this.day = day;
  }
}
