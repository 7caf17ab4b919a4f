/**
 * Daily quotas per user: statements per day and rows returned per day,
 * counted across all sessions of the user and all sqlgate nodes through the
 * control store. Rules `daily-query-quota` and `daily-row-quota`.
 *
 * How an endpoint uses it, per statement:
 *   1. `await quota.admit(user, directives)` before forwarding: refuses with
 *      QUOTA_EXCEEDED when the row quota is used up, and counts the statement
 *      against the query quota (refusing once that limit is reached).
 *   2. `const meter = quota.rowMeter(user, directives.maxRowsPerDay)`; for each
 *      row: when `meter.available() === 0`, `await meter.refill()`; if still 0,
 *      cut the result there (the quota is used up); else `meter.spend(1)` and
 *      send the row. Finally `await meter.close()` gives back what was
 *      reserved and not sent.
 * `reserveRows` / `releaseRows` are the same operations without the meter.
 *
 * Statements and rows are taken from the store in leases (leases.ts): one
 * store trip serves many statements, and the sum over all nodes still never
 * passes a limit. `usage` reports this node's view (its unused leases not
 * counted); `close` gives the leases back.
 *
 * When the store cannot be reached every method throws SqlgateError INTERNAL
 * naming the quota rule: the endpoint refuses the statement (or cuts the
 * result) rather than run it uncounted (fail closed).
 */
import { SqlgateError, ruleMessage } from '../errors.js';
import type { ControlStore, QuotaUsage } from '../store/control-store.js';
import { checkTimeZone, quotaDay } from './day.js';
import { RowMeter } from './row-meter.js';
import { Account, Lease, MAX_QUERY_LEASE, MAX_ROW_LEASE, IDLE_RETURN_MS, leaseSize } from './leases.js';

export const QUERY_QUOTA_RULE = 'daily-query-quota';
export const ROW_QUOTA_RULE = 'daily-row-quota';

export interface DailyQuotaOptions {
  readonly store: ControlStore;
  /** IANA zone in which the day rolls over (policy `quota_time_zone`). */
  readonly timeZone: string;
  /** Injected clock (tests); defaults to the system clock. */
  readonly now?: () => Date;
  /** Rows a meter reserves per trip to the store; default 500. */
  readonly chunkRows?: number;
}

/** Result of counting one statement. */
export interface QueryQuotaResult {
  readonly allowed: boolean;
  /** Statements counted today, this one included when allowed. */
  readonly used: number;
  readonly limit: number | undefined;
}

/** Rows granted by one reservation; hand it back to `releaseRows` with what was not sent. */
export interface RowGrant {
  readonly user: string;
  /** The quota day the rows were taken from (a release goes back to the same day). */
  readonly day: string;
  readonly granted: number;
  /** Rows used today after this reservation. */
  readonly used: number;
  readonly limit: number | undefined;
}

/** The limits a statement is charged against (the decision's directives carry them). */
export interface QuotaLimits {
  readonly maxRowsPerDay: number | undefined;
  readonly maxQueriesPerDay: number | undefined;
}

export class DailyQuota {
  readonly timeZone: string;
  private readonly store: ControlStore;
  private readonly now: () => Date;
  readonly chunkRows: number;
  /** This node's leases per user (leases.ts); only today's are used. */
  private readonly accounts = new Map<string, Account>();
  /** Give-backs under way, so that returnLeases() can wait for them. */
  private readonly returning = new Set<Promise<void>>();
  private maintenance: NodeJS.Timeout | undefined;
  private lastPrune = 0;
  private lastDay: { second: number; day: string } | undefined;

  constructor(options: DailyQuotaOptions) {
    checkTimeZone(options.timeZone);
    this.store = options.store;
    this.timeZone = options.timeZone;
    this.now = options.now ?? (() => new Date());
    this.chunkRows = Math.max(1, Math.floor(options.chunkRows ?? 500));
  }

  /** Today's quota day key. */
  today(): string {
    // Formatting a date in a zone is the costly part: the day cannot change within a second.
    const t = this.now().getTime();
    const second = Math.floor(t / 1000);
    if (this.lastDay?.second !== second) this.lastDay = { second, day: quotaDay(new Date(t), this.timeZone) };
    return this.lastDay.day;
  }

  /** Counts one statement unless today's `limit` is reached (atomic across nodes). */
  async countQuery(user: string, limit: number | undefined): Promise<QueryQuotaResult> {
    const day = this.today();
    const lease = this.lease(user, day, 'queries', limit);
    for (;;) {
      if (lease.held > 0) {
        lease.held--;
        return { allowed: true, used: lease.used(), limit };
      }
      if (lease.trip) {
        await lease.trip;
        if (lease.held === 0 && lease.lastGrant === 0) break;
        continue;
      }
      const want = leaseSize(limit, lease.storeUsed, MAX_QUERY_LEASE);
      await this.trip(lease, QUERY_QUOTA_RULE, () => this.store.leaseQueries(user, day, want, limit));
      if (lease.held === 0) break;
    }
    return { allowed: false, used: lease.used(), limit };
  }

  /** Reserves up to `want` rows from today's quota: all of them, what is left, or 0. */
  async reserveRows(user: string, want: number, limit: number | undefined): Promise<RowGrant> {
    const day = this.today();
    const lease = this.lease(user, day, 'rows', limit);
    let tripped = false;
    while (lease.held < want && !tripped) {
      if (lease.trip) {
        await lease.trip;
        continue;
      }
      const ask = want - lease.held + leaseSize(limit, lease.storeUsed, MAX_ROW_LEASE);
      await this.trip(lease, ROW_QUOTA_RULE, () => this.store.reserveRows(user, day, ask, limit));
      tripped = true;
    }
    const granted = Math.max(0, Math.min(want, lease.held));
    lease.held -= granted;
    return { user, day, granted, used: lease.used(), limit };
  }

  /**
   * Counts one statement and reserves `rows` rows (when given) from what this
   * node's leases already hold, without waiting: the hot path's charge. All
   * or nothing; undefined when a lease is short, has another limit or a trip
   * is under way, and the caller then takes the waiting path (countQuery,
   * reserveRows), which goes to the store.
   */
  takeNow(user: string, queryLimit: number | undefined, rows?: { want: number; limit: number | undefined }): { grant: RowGrant | undefined } | undefined {
    const a = this.accounts.get(user);
    if (!a || a.day !== this.today()) return undefined;
    const q = a.queries;
    if (!q || q.trip || q.limit !== queryLimit || q.held < 1) return undefined;
    const r = rows ? a.rows : undefined;
    if (rows && (!r || r.trip || r.limit !== rows.limit || r.held < rows.want)) return undefined;
    a.touched = performance.now();
    q.held--;
    if (!rows || !r) return { grant: undefined };
    r.held -= rows.want;
    return { grant: { user, day: a.day, granted: rows.want, used: r.used(), limit: rows.limit } };
  }

  /**
   * Gives back `unused` rows of a grant into this node's lease, without
   * waiting; false when the lease is gone (another day, returned while idle)
   * and the rows must go to the store (releaseRows).
   */
  releaseRowsNow(grant: Pick<RowGrant, 'user' | 'day' | 'granted'>, unused: number): boolean {
    if (unused > grant.granted) return false;
    const a = this.accounts.get(grant.user);
    if (!a || a.day !== grant.day || !a.rows) return false;
    // Back into this node's lease: the next statement takes it without a trip.
    a.rows.held += unused;
    a.touched = performance.now();
    return true;
  }

  /** Gives back `unused` rows of a grant (to the day it was taken from). */
  async releaseRows(grant: Pick<RowGrant, 'user' | 'day' | 'granted'>, unused: number): Promise<void> {
    if (unused > grant.granted) {
      throw new SqlgateError('INTERNAL', `sqlgate: cannot release ${unused} rows of a grant of ${grant.granted}`);
    }
    if (this.releaseRowsNow(grant, unused)) return;
    await guarded(ROW_QUOTA_RULE, () => this.store.releaseRows(grant.user, grant.day, unused));
  }

  /** Today's counters for `user`, as this node sees them (its unused leases not counted). */
  async usage(user: string): Promise<QuotaUsage> {
    const day = this.today();
    const u = await guarded(ROW_QUOTA_RULE, () => this.store.usage(user, day));
    const a = this.accounts.get(user);
    if (a?.day !== day) return u;
    return {
      ...u,
      rowsUsed: Math.max(0, u.rowsUsed - (a.rows?.held ?? 0)),
      queriesUsed: Math.max(0, u.queriesUsed - (a.queries?.held ?? 0)),
    };
  }

  /**
   * Deletes counters of days more than `keepDays` before today (the
   * maintenance timer calls it hourly; quotas only ever read today). Returns
   * the number of counters deleted.
   */
  async prune(keepDays = 35): Promise<number> {
    const cutoff = quotaDay(new Date(this.now().getTime() - Math.max(1, keepDays) * 86_400_000), this.timeZone);
    return guarded(ROW_QUOTA_RULE, () => this.store.pruneQuotaBefore(cutoff));
  }

  /**
   * Admits one statement: refuses (QUOTA_EXCEEDED) when today's row quota is
   * used up, then counts it against the query quota, refusing once that is
   * reached. A refused statement is not counted.
   */
  async admit(user: string, limits: QuotaLimits): Promise<QueryQuotaResult> {
    if (limits.maxRowsPerDay !== undefined) {
      const u = await this.usage(user);
      if (u.rowsUsed >= limits.maxRowsPerDay) throw this.exceeded(user, ROW_QUOTA_RULE, `rows returned per day (${limits.maxRowsPerDay})`);
    }
    const r = await this.countQuery(user, limits.maxQueriesPerDay);
    if (!r.allowed) throw this.exceeded(user, QUERY_QUOTA_RULE, `queries per day (${limits.maxQueriesPerDay})`);
    return r;
  }

  /** A meter for one statement's result rows; see the module comment. */
  rowMeter(user: string, limit: number | undefined, chunkRows: number = this.chunkRows): RowMeter {
    return new RowMeter(this, user, limit, chunkRows);
  }

  /** The error an endpoint sends when a quota is used up. */
  exceeded(user: string, rule: string, what: string): SqlgateError {
    return new SqlgateError('QUOTA_EXCEEDED',
      ruleMessage(`daily quota of ${what} for user ${user} is used up until midnight ${this.timeZone}`, rule), { rule });
  }

  /** Gives every unused lease back to the store and waits until it has them. */
  async returnLeases(): Promise<void> {
    for (const [user, a] of this.accounts) {
      this.accounts.delete(user);
      this.giveBack(user, a);
    }
    while (this.returning.size > 0) await Promise.all([...this.returning]);
  }

  /** Stops the maintenance timer and gives the leases back (node shutdown). */
  async close(): Promise<void> {
    if (this.maintenance) clearInterval(this.maintenance);
    this.maintenance = undefined;
    await this.returnLeases();
  }

  /** The user's lease of one counter today; a new day or a new limit first gives the old one back. */
  private lease(user: string, day: string, kind: 'queries' | 'rows', limit: number | undefined): Lease {
    let a = this.accounts.get(user);
    if (a && a.day !== day) {
      this.giveBack(user, a);
      a = undefined;
    }
    if (!a) {
      a = new Account(day);
      this.accounts.set(user, a);
      this.startMaintenance();
    }
    a.touched = performance.now();
    let l = a[kind];
    if (l && l.limit !== limit) {
      const next = new Lease(limit);
      next.storeUsed = l.storeUsed - l.held;
      this.giveBackLease(user, day, kind, l);
      l = undefined;
      a[kind] = next;
      return next;
    }
    if (!l) a[kind] = l = new Lease(limit);
    return l;
  }

  private async trip(lease: Lease, rule: string, call: () => Promise<{ granted: number; used: number }>): Promise<void> {
    const p = (async () => {
      const r = await guarded(rule, call);
      lease.held += r.granted;
      lease.storeUsed = r.used;
      lease.lastGrant = r.granted;
    })();
    lease.trip = p;
    try {
      await p;
    } finally {
      if (lease.trip === p) lease.trip = undefined;
    }
  }

  private giveBack(user: string, a: Account): void {
    if (a.queries) this.giveBackLease(user, a.day, 'queries', a.queries);
    if (a.rows) this.giveBackLease(user, a.day, 'rows', a.rows);
  }

  /** Fire and forget (tracked): a failed give-back only leaves the user with less today, never more. */
  private giveBackLease(user: string, day: string, kind: 'queries' | 'rows', l: Lease): void {
    const n = l.held;
    if (n <= 0) return;
    l.held = 0;
    l.storeUsed -= n;
    const p: Promise<void> = (kind === 'rows' ? this.store.releaseRows(user, day, n) : this.store.releaseQueries(user, day, n))
      .catch(() => undefined)
      .finally(() => this.returning.delete(p));
    this.returning.add(p);
  }

  private startMaintenance(): void {
    if (this.maintenance) return;
    this.maintenance = setInterval(() => this.maintain(), IDLE_RETURN_MS);
    this.maintenance.unref();
  }

  /** Returns idle users' leases; prunes old days once an hour. */
  private maintain(): void {
    const idleSince = performance.now() - IDLE_RETURN_MS;
    for (const [user, a] of this.accounts) {
      if (a.touched > idleSince || a.queries?.trip || a.rows?.trip) continue;
      this.accounts.delete(user);
      this.giveBack(user, a);
    }
    if (this.accounts.size === 0 && this.maintenance) {
      clearInterval(this.maintenance);
      this.maintenance = undefined;
    }
    if (Date.now() - this.lastPrune > 3_600_000) {
      this.lastPrune = Date.now();
      void this.prune().catch(() => undefined);
    }
  }
}

/** Store failures become a refusal naming the rule, never an unaccounted pass. */
async function guarded<T>(rule: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof SqlgateError) throw err;
    throw new SqlgateError('INTERNAL',
      ruleMessage(`the quota store could not be reached, so the statement is not run (${(err as Error).message})`, rule),
      { rule, cause: err });
  }
}
