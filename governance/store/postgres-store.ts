/**
 * The shared control-plane store (several nodes): PostgreSQL through `pg`.
 * Quota changes are single `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`
 * statements: PostgreSQL locks the conflicting row and evaluates the update
 * against its latest committed version, so concurrent reservations from any
 * number of nodes serialise on the row and their sum never passes the limit.
 */
import pg from 'pg';
import { SqlgateError } from '../errors.js';
import { limitOrNone, wholeCount } from './counts.js';
import type { ControlStore, QueryCount, QuotaUsage, RowReservation } from './control-store.js';
import { CREATE_MIGRATIONS_TABLE, LATEST_VERSION, MIGRATIONS, MIGRATIONS_TABLE } from './migrations.js';

/** Advisory-lock key taken while migrating: any fixed 64-bit number unique to sqlgate ("sqlgate" in ASCII). */
const MIGRATION_LOCK_KEY = '32494332726572133'; // 0x73716c67617465

export interface PostgresStoreOptions {
  /** `postgres://user:pass@host:port/db`. */
  readonly url: string;
  /** Pool size per node. */
  readonly maxConnections?: number;
}

const COUNT_QUERY = `
  INSERT INTO sqlgate_quota_usage AS q (principal, day, queries_used) VALUES ($1, $2, 1)
  ON CONFLICT (principal, day) DO UPDATE
    SET queries_used = q.queries_used + 1
    WHERE q.queries_used < $3::bigint
  RETURNING queries_used`;

/** The counters a grant can take from: rows returned and statements run. */
type Counter = 'rows_used' | 'queries_used';

// Both SET expressions read the row as it was before this statement; last_grant
// then tells RETURNING what this statement granted.
const grant = (c: Counter) => `
  INSERT INTO sqlgate_quota_usage AS q (principal, day, ${c}, last_grant)
    VALUES ($1, $2, LEAST($3::bigint, $4::bigint), LEAST($3::bigint, $4::bigint))
  ON CONFLICT (principal, day) DO UPDATE
    SET ${c} = q.${c} + LEAST($3::bigint, GREATEST($4::bigint - q.${c}, 0)),
        last_grant = LEAST($3::bigint, GREATEST($4::bigint - q.${c}, 0))
  RETURNING last_grant, ${c}`;

const giveBack = (c: Counter) => `
  UPDATE sqlgate_quota_usage SET ${c} = GREATEST(${c} - $3::bigint, 0)
  WHERE principal = $1 AND day = $2`;

const RESERVE_ROWS = grant('rows_used');
const RELEASE_ROWS = giveBack('rows_used');
const LEASE_QUERIES = grant('queries_used');
const RELEASE_QUERIES = giveBack('queries_used');

const USAGE = 'SELECT rows_used, queries_used FROM sqlgate_quota_usage WHERE principal = $1 AND day = $2';

export class PostgresStore implements ControlStore {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;
  private closed = false;

  private constructor(pool: pg.Pool) {
    this.pool = pool;
  }

  /** Connects and migrates; safe when several nodes do it at the same moment. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    // synchronous_commit=off: quota counters give up the last fraction of a
    // second of durability on a server crash (a user might get a few rows
    // back) rather than wait for a WAL flush per reservation. Atomicity and
    // isolation are unchanged. Writes that must survive a crash (tickets,
    // approvals) run `SET LOCAL synchronous_commit = on` in their transaction.
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.maxConnections ?? 10,
      options: '-c synchronous_commit=off',
    });
    // An idle client losing its connection must not crash the node; the next query reconnects.
    pool.on('error', () => undefined);
    try {
      await migrate(pool);
    } catch (err) {
      await pool.end().catch(() => undefined);
      if (err instanceof SqlgateError) throw err;
      throw new SqlgateError('INTERNAL', `sqlgate: cannot open the PostgreSQL control store: ${(err as Error).message}`, { cause: err });
    }
    return new PostgresStore(pool);
  }

  async countQuery(user: string, day: string, limit: number | undefined): Promise<QueryCount> {
    const max = limitOrNone(limit);
    if (max > 0) {
      const r = await this.pool.query<{ queries_used: string }>(COUNT_QUERY, [user, day, max]);
      if (r.rows.length === 1) return { allowed: true, used: Number(r.rows[0].queries_used) };
    }
    return { allowed: false, used: (await this.usage(user, day)).queriesUsed };
  }

  async reserveRows(user: string, day: string, want: number, limit: number | undefined): Promise<RowReservation> {
    const r = await this.pool.query<{ last_grant: string; rows_used: string }>(
      RESERVE_ROWS, [user, day, wholeCount(want, 'want'), limitOrNone(limit)]);
    return { granted: Number(r.rows[0].last_grant), used: Number(r.rows[0].rows_used) };
  }

  async releaseRows(user: string, day: string, rows: number): Promise<void> {
    const n = wholeCount(rows, 'rows');
    if (n === 0) return;
    await this.pool.query(RELEASE_ROWS, [user, day, n]);
  }

  async leaseQueries(user: string, day: string, want: number, limit: number | undefined): Promise<RowReservation> {
    const r = await this.pool.query<{ last_grant: string; queries_used: string }>(
      LEASE_QUERIES, [user, day, wholeCount(want, 'want'), limitOrNone(limit)]);
    return { granted: Number(r.rows[0].last_grant), used: Number(r.rows[0].queries_used) };
  }

  async releaseQueries(user: string, day: string, queries: number): Promise<void> {
    const n = wholeCount(queries, 'queries');
    if (n === 0) return;
    await this.pool.query(RELEASE_QUERIES, [user, day, n]);
  }

  async usage(user: string, day: string): Promise<QuotaUsage> {
    const r = await this.pool.query<{ rows_used: string; queries_used: string }>(USAGE, [user, day]);
    const row = r.rows[0];
    return { user, day, rowsUsed: Number(row?.rows_used ?? 0), queriesUsed: Number(row?.queries_used ?? 0) };
  }

  async pruneQuotaBefore(day: string): Promise<number> {
    const r = await this.pool.query('DELETE FROM sqlgate_quota_usage WHERE day < $1', [day]);
    return r.rowCount ?? 0;
  }

  async schemaVersion(): Promise<number> {
    const r = await this.pool.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${MIGRATIONS_TABLE}`);
    return Number(r.rows[0].v ?? 0);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

/**
 * Applies missing migrations in one transaction holding a transaction-scoped
 * advisory lock: a second node starting at the same moment waits, then finds
 * the work done. PostgreSQL DDL is transactional, so a failed step leaves
 * nothing behind.
 */
async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY}::bigint)`);
    await client.query(CREATE_MIGRATIONS_TABLE);
    const r = await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${MIGRATIONS_TABLE}`);
    const version = Number(r.rows[0].v ?? 0);
    if (version > LATEST_VERSION) {
      throw new SqlgateError('INTERNAL', `sqlgate: the control store is at schema version ${version}, newer than this sqlgate knows (${LATEST_VERSION}); upgrade this node`);
    }
    for (const m of MIGRATIONS) {
      if (m.version <= version) continue;
      for (const sql of m.postgres) await client.query(sql);
      await client.query(`INSERT INTO ${MIGRATIONS_TABLE} (version, name, applied_at) VALUES ($1, $2, $3)`,
        [m.version, m.name, new Date().toISOString()]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
