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
 * When the store cannot be reached every method throws SqlgateError INTERNAL
 * naming the quota rule: the endpoint refuses the statement (or cuts the
 * result) rather than run it uncounted (fail closed).
 */
import { SqlgateError, ruleMessage } from '../errors.js';
import type { ControlStore, QuotaUsage } from '../store/control-store.js';
import { checkTimeZone, quotaDay } from './day.js';
import { RowMeter } from './row-meter.js';

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

  constructor(options: DailyQuotaOptions) {
    checkTimeZone(options.timeZone);
    this.store = options.store;
    this.timeZone = options.timeZone;
    this.now = options.now ?? (() => new Date());
    this.chunkRows = Math.max(1, Math.floor(options.chunkRows ?? 500));
  }

  /** Today's quota day key. */
  today(): string {
    return quotaDay(this.now(), this.timeZone);
  }

  /** Counts one statement unless today's `limit` is reached (atomic across nodes). */
  async countQuery(user: string, limit: number | undefined): Promise<QueryQuotaResult> {
    const day = this.today();
    const r = await guarded(QUERY_QUOTA_RULE, () => this.store.countQuery(user, day, limit));
    return { allowed: r.allowed, used: r.used, limit };
  }

  /** Reserves up to `want` rows from today's quota: all of them, what is left, or 0. */
  async reserveRows(user: string, want: number, limit: number | undefined): Promise<RowGrant> {
    const day = this.today();
    const r = await guarded(ROW_QUOTA_RULE, () => this.store.reserveRows(user, day, want, limit));
    return { user, day, granted: r.granted, used: r.used, limit };
  }

  /** Gives back `unused` rows of a grant (to the day it was taken from). */
  async releaseRows(grant: Pick<RowGrant, 'user' | 'day' | 'granted'>, unused: number): Promise<void> {
    if (unused > grant.granted) {
      throw new SqlgateError('INTERNAL', `sqlgate: cannot release ${unused} rows of a grant of ${grant.granted}`);
    }
    await guarded(ROW_QUOTA_RULE, () => this.store.releaseRows(grant.user, grant.day, unused));
  }

  /** Today's counters for `user`. */
  async usage(user: string): Promise<QuotaUsage> {
    const day = this.today();
    return guarded(ROW_QUOTA_RULE, () => this.store.usage(user, day));
  }

  /**
   * Deletes counters of days more than `keepDays` before today (a
   * maintenance timer calls it; quotas only ever read today). Returns the
   * number of counters deleted.
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
