/**
 * Per-statement row accounting for the endpoints: rows are reserved from the
 * shared daily quota in chunks (one store round trip per chunk, not per row),
 * spent locally as rows are sent, and the unsent rest is given back at the
 * end, so concurrent sessions on any node never receive more than the quota.
 */
import { SqlgateError } from '../errors.js';
import type { DailyQuota, RowGrant } from './daily-quota.js';

export class RowMeter {
  private readonly quota: DailyQuota;
  readonly user: string;
  readonly limit: number | undefined;
  readonly chunkRows: number;
  /** Rows reserved and not yet sent, all taken from `grantDay`. */
  private balance = 0;
  private grantDay: string | undefined;
  private closed = false;
  /** Rows spent (sent to the client) through this meter. */
  sent = 0;
  /** True once a refill came back empty: the quota is used up. */
  exhausted = false;

  constructor(quota: DailyQuota, user: string, limit: number | undefined, chunkRows: number) {
    this.quota = quota;
    this.user = user;
    this.limit = limit;
    this.chunkRows = Math.max(1, Math.floor(chunkRows));
  }

  /** Rows that may be sent now without asking the store. */
  available(): number {
    return this.balance;
  }

  /** Records `n` rows as sent; they must be available. */
  spend(n = 1): void {
    if (n > this.balance || n < 0) {
      throw new SqlgateError('INTERNAL', `sqlgate: row meter spent ${n} rows with ${this.balance} reserved`);
    }
    this.balance -= n;
    this.sent += n;
  }

  /**
   * Reserves up to `want` more rows (default one chunk) and returns what is
   * available now; 0 means the quota is used up and the result must be cut.
   */
  async refill(want: number = this.chunkRows): Promise<number> {
    if (this.closed) throw new SqlgateError('INTERNAL', 'sqlgate: row meter used after close');
    // A reservation made before midnight belongs to that day: give it back there.
    const today = this.quota.today();
    if (this.grantDay !== undefined && this.grantDay !== today) await this.releaseBalance();
    const g: RowGrant = await this.quota.reserveRows(this.user, Math.max(0, Math.floor(want)), this.limit);
    if (this.balance > 0 && g.day !== this.grantDay) {
      // The day turned between the check above and the reservation (rare): keep the books per day.
      await this.releaseBalance();
    }
    this.grantDay = g.day;
    this.balance += g.granted;
    if (g.granted === 0 && want > 0) this.exhausted = true;
    return this.balance;
  }

  /** Gives back what was reserved and not sent. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.releaseBalance();
  }

  private async releaseBalance(): Promise<void> {
    const unused = this.balance;
    const day = this.grantDay;
    this.balance = 0;
    if (unused > 0 && day !== undefined) {
      await this.quota.releaseRows({ user: this.user, day, granted: unused }, unused);
    }
  }
}
