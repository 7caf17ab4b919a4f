/**
 * Charging one statement to the user's daily quotas, the same way on every
 * door. Before it runs: rows are reserved (up to its row cap) from the daily
 * row quota, then it is counted against the daily query quota — both atomic
 * in the control store, so concurrent sessions and nodes never exceed a
 * limit. The endpoint cuts the result at the reserved count; afterwards what
 * was reserved and not sent is given back.
 */
import type { Decision } from '../governance/decision.js';
import { SqlgateError } from '../governance/errors.js';
import { QUERY_QUOTA_RULE, ROW_QUOTA_RULE, type DailyQuota, type RowGrant } from '../governance/quota/daily-quota.js';

/** What one statement was granted. */
export interface QuotaTicket {
  readonly grant: RowGrant | undefined;
  /** Rows the statement may return under the daily row quota (undefined: no row quota). */
  readonly rows: number | undefined;
}

export const NO_TICKET: QuotaTicket = { grant: undefined, rows: undefined };

/** Rows reserved for a statement with no per-query cap: a reservation is never unbounded. */
const UNCAPPED_RESERVATION = 100_000;

/** Kinds that never return rows (writes without RETURNING are checked separately). */
const NO_ROWS = new Set(['ddl', 'set', 'use', 'transaction', 'grant', 'lock', 'prepare', 'deallocate']);

function returnsRows(d: Decision): boolean {
  if (NO_ROWS.has(d.facts.kind)) return false;
  if (d.facts.write && d.facts.outputs.length === 0 && d.facts.kind !== 'select') return false;
  return true;
}

/**
 * Charges one statement. Throws SqlgateError QUOTA_EXCEEDED when the row
 * quota is used up (for a statement that returns rows) or the query quota is
 * reached; a refused statement is not counted and keeps no rows.
 */
export async function chargeStatement(quota: DailyQuota | undefined, user: string, d: Decision): Promise<QuotaTicket> {
  if (!quota) return NO_TICKET;
  const { maxRowsPerDay, maxQueriesPerDay, maxRows } = d.directives;
  let grant: RowGrant | undefined;
  if (maxRowsPerDay !== undefined && returnsRows(d)) {
    grant = await quota.reserveRows(user, maxRows ?? UNCAPPED_RESERVATION, maxRowsPerDay);
    if (grant.granted === 0) throw quota.exceeded(user, ROW_QUOTA_RULE, `rows returned per day (${maxRowsPerDay})`);
  }
  try {
    const q = await quota.countQuery(user, maxQueriesPerDay);
    if (!q.allowed) throw quota.exceeded(user, QUERY_QUOTA_RULE, `queries per day (${maxQueriesPerDay})`);
  } catch (err) {
    if (grant) await quota.releaseRows(grant, grant.granted).catch(() => undefined);
    throw err;
  }
  return { grant, rows: grant?.granted };
}

/**
 * The charge of a one-statement message from this node's leases, without
 * waiting (the hot path); undefined when the store must be asked: the caller
 * then uses chargeMessage, which also gives the refusals.
 */
export function chargeMessageNow(quota: DailyQuota | undefined, user: string, decisions: readonly Decision[]): QuotaTicket[] | undefined {
  if (!quota) return decisions.map(() => NO_TICKET);
  if (decisions.length !== 1) return undefined;
  const d = decisions[0];
  const { maxRowsPerDay, maxQueriesPerDay, maxRows } = d.directives;
  const rows = maxRowsPerDay !== undefined && returnsRows(d) ? { want: maxRows ?? UNCAPPED_RESERVATION, limit: maxRowsPerDay } : undefined;
  const taken = quota.takeNow(user, maxQueriesPerDay, rows);
  return taken && [{ grant: taken.grant, rows: taken.grant?.granted }];
}

/** Charges every statement of one message; on a refusal, gives back what the earlier ones took. */
export async function chargeMessage(quota: DailyQuota | undefined, user: string, decisions: readonly Decision[]): Promise<QuotaTicket[]> {
  const tickets: QuotaTicket[] = [];
  try {
    for (const d of decisions) tickets.push(await chargeStatement(quota, user, d));
  } catch (err) {
    for (const t of tickets) settle(quota, t, 0);
    throw err instanceof SqlgateError ? err : new SqlgateError('INTERNAL', `sqlgate: quota accounting failed: ${(err as Error).message}`);
  }
  return tickets;
}

/**
 * Gives back the reserved rows a statement did not send. Fire and forget: a
 * failed release only leaves the user with fewer rows today (never more).
 */
export function settle(quota: DailyQuota | undefined, ticket: QuotaTicket, rowsSent: number): void {
  const g = ticket.grant;
  if (!quota || !g) return;
  const unused = g.granted - Math.min(rowsSent, g.granted);
  if (unused > 0 && !quota.releaseRowsNow(g, unused)) void quota.releaseRows(g, unused).catch(() => undefined);
}
