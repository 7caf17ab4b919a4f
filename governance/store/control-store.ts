/**
 * The control-plane store: the changing state that several sqlgate nodes must
 * agree on (DESIGN.md decisions 8 and 9). Policy never lives here; counters,
 * tickets and sessions do. Two implementations sit behind this one interface:
 * embedded SQLite (one node, the default) and PostgreSQL (several nodes).
 *
 * Every mutating method is a single atomic statement on the store, so that
 * concurrent sessions, in one process or across nodes, never see a
 * half-applied change. Days are opaque `YYYY-MM-DD` keys computed by the
 * caller (governance/quota/ owns the time zone).
 */

/** Which backend holds the state. */
export type StoreKind = 'sqlite' | 'postgres';

/** Counters of one user on one quota day. */
export interface QuotaUsage {
  readonly user: string;
  /** `YYYY-MM-DD` in the policy's quota time zone. */
  readonly day: string;
  /** Rows reserved (sent or about to be sent) this day. */
  readonly rowsUsed: number;
  /** Statements counted this day. */
  readonly queriesUsed: number;
}

/** Outcome of counting one statement against the daily query quota. */
export interface QueryCount {
  /** False when the limit was already reached: nothing was counted. */
  readonly allowed: boolean;
  /** Statements counted this day, including this one when allowed. */
  readonly used: number;
}

/** Outcome of one atomic row reservation. */
export interface RowReservation {
  /** Rows granted now, 0..want; 0 means the day's quota is used up. */
  readonly granted: number;
  /** Rows used this day after the reservation. */
  readonly used: number;
}

export interface ControlStore {
  readonly kind: StoreKind;

  /**
   * Counts one statement for `user` on `day` unless `limit` statements were
   * already counted (undefined: no limit). Increment and check are one
   * statement, so concurrent callers never count past the limit.
   */
  countQuery(user: string, day: string, limit: number | undefined): Promise<QueryCount>;

  /**
   * Reserves up to `want` rows for `user` on `day` without the day's total
   * passing `limit` (undefined: no limit). Returns what was granted: all of
   * `want`, what is left of the quota, or 0. Atomic across nodes.
   */
  reserveRows(user: string, day: string, want: number, limit: number | undefined): Promise<RowReservation>;

  /** Gives back rows reserved on `day` but not sent. Never takes the counter below 0. */
  releaseRows(user: string, day: string, rows: number): Promise<void>;

  /**
   * Counts up to `want` statements for `user` on `day` at once without the
   * day's total passing `limit` (a node's lease of the query quota, handed
   * out locally). Returns what was granted: `want`, what is left, or 0.
   */
  leaseQueries(user: string, day: string, want: number, limit: number | undefined): Promise<RowReservation>;

  /** Gives back leased statements that were not run. Never takes the counter below 0. */
  releaseQueries(user: string, day: string, queries: number): Promise<void>;

  /** The counters of `user` on `day` (zeros when nothing was counted). */
  usage(user: string, day: string): Promise<QuotaUsage>;

  /** Deletes quota counters of days before `day`; returns how many rows went. */
  pruneQuotaBefore(day: string): Promise<number>;

  /** The highest migration applied to this store. */
  schemaVersion(): Promise<number>;

  /** Releases connections / file handles. Safe to call twice. */
  close(): Promise<void>;
}
