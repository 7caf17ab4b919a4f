/**
 * The embedded control-plane store (one node): SQLite through better-sqlite3.
 * Its calls are synchronous and each statement is atomic, so in one process
 * there is nothing to race; other processes opening the same file are
 * serialised by SQLite's own file locks (WAL mode, busy timeout).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { SqlgateError } from '../errors.js';
import { limitOrNone, wholeCount } from './counts.js';
import type { ControlStore, QueryCount, QuotaUsage, RowReservation } from './control-store.js';
import { CREATE_MIGRATIONS_TABLE, LATEST_VERSION, MIGRATIONS, MIGRATIONS_TABLE } from './migrations.js';


export interface SqliteStoreOptions {
  /** File path, or `:memory:` (tests). Parent folders are created. */
  readonly path: string;
  /** Milliseconds to wait for another process's write lock. */
  readonly busyTimeoutMs?: number;
}

export class SqliteStore implements ControlStore {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private closed = false;
  private readonly stmts: ReturnType<typeof prepare>;

  private constructor(db: Database.Database) {
    this.db = db;
    this.stmts = prepare(db);
  }

  /** Opens (creating if needed) and migrates the store. */
  static open(options: SqliteStoreOptions): SqliteStore {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    const db = new Database(options.path);
    const busyMs = Math.max(0, Math.floor(options.busyTimeoutMs ?? 10_000));
    try {
      db.pragma(`busy_timeout = ${busyMs}`);
      // Switching a fresh file to WAL does not wait on the busy handler: when
      // several processes open it at once (cluster workers), the losers retry.
      if (options.path !== ':memory:') retryWhileBusy(() => db.pragma('journal_mode = WAL'), busyMs);
      db.pragma('synchronous = NORMAL');
      migrate(db);
      return new SqliteStore(db);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  async countQuery(user: string, day: string, limit: number | undefined): Promise<QueryCount> {
    const max = limitOrNone(limit);
    if (max === 0) return { allowed: false, used: (await this.usage(user, day)).queriesUsed };
    const row = this.stmts.countQuery.get({ user, day, limit: max }) as { queries_used: number } | undefined;
    if (row) return { allowed: true, used: Number(row.queries_used) };
    return { allowed: false, used: (await this.usage(user, day)).queriesUsed };
  }

  async reserveRows(user: string, day: string, want: number, limit: number | undefined): Promise<RowReservation> {
    const w = wholeCount(want, 'want');
    const row = this.stmts.reserveRows.get({ user, day, want: w, limit: limitOrNone(limit) }) as { last_grant: number; rows_used: number };
    return { granted: Number(row.last_grant), used: Number(row.rows_used) };
  }

  async releaseRows(user: string, day: string, rows: number): Promise<void> {
    const n = wholeCount(rows, 'rows');
    if (n === 0) return;
    this.stmts.releaseRows.run({ user, day, rows: n });
  }

  async leaseQueries(user: string, day: string, want: number, limit: number | undefined): Promise<RowReservation> {
    const row = this.stmts.leaseQueries.get({ user, day, want: wholeCount(want, 'want'), limit: limitOrNone(limit) }) as { last_grant: number; queries_used: number };
    return { granted: Number(row.last_grant), used: Number(row.queries_used) };
  }

  async releaseQueries(user: string, day: string, queries: number): Promise<void> {
    const n = wholeCount(queries, 'queries');
    if (n === 0) return;
    this.stmts.releaseQueries.run({ user, day, queries: n });
  }

  async usage(user: string, day: string): Promise<QuotaUsage> {
    const row = this.stmts.usage.get({ user, day }) as { rows_used: number; queries_used: number } | undefined;
    return { user, day, rowsUsed: Number(row?.rows_used ?? 0), queriesUsed: Number(row?.queries_used ?? 0) };
  }

  async pruneQuotaBefore(day: string): Promise<number> {
    return this.stmts.prune.run({ day }).changes;
  }

  async schemaVersion(): Promise<number> {
    return currentVersion(this.db);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

/** The counters a grant can take from: rows returned and statements run. */
type Counter = 'rows_used' | 'queries_used';

// Every SET expression reads the row as it was before this statement; last_grant
// then tells RETURNING what this statement granted.
const grant = (c: Counter) =>
  `INSERT INTO sqlgate_quota_usage (principal, day, ${c}, last_grant)
     VALUES (@user, @day, min(@want, @limit), min(@want, @limit))
   ON CONFLICT (principal, day) DO UPDATE
     SET ${c} = sqlgate_quota_usage.${c} + min(@want, max(@limit - sqlgate_quota_usage.${c}, 0)),
         last_grant = min(@want, max(@limit - sqlgate_quota_usage.${c}, 0))
   RETURNING last_grant, ${c}`;

const giveBack = (c: Counter, amount: string) =>
  `UPDATE sqlgate_quota_usage SET ${c} = max(${c} - ${amount}, 0) WHERE principal = @user AND day = @day`;

function prepare(db: Database.Database) {
  return {
    countQuery: db.prepare(
      `INSERT INTO sqlgate_quota_usage (principal, day, queries_used) VALUES (@user, @day, 1)
       ON CONFLICT (principal, day) DO UPDATE
         SET queries_used = sqlgate_quota_usage.queries_used + 1
         WHERE sqlgate_quota_usage.queries_used < @limit
       RETURNING queries_used`),
    reserveRows: db.prepare(grant('rows_used')),
    releaseRows: db.prepare(giveBack('rows_used', '@rows')),
    leaseQueries: db.prepare(grant('queries_used')),
    releaseQueries: db.prepare(giveBack('queries_used', '@queries')),
    usage: db.prepare(
      'SELECT rows_used, queries_used FROM sqlgate_quota_usage WHERE principal = @user AND day = @day'),
    prune: db.prepare('DELETE FROM sqlgate_quota_usage WHERE day < @day'),
  };
}

/** Runs `fn`, retrying for up to `ms` while SQLite answers SQLITE_BUSY (a synchronous wait: opening is synchronous). */
function retryWhileBusy<T>(fn: () => T, ms: number): T {
  const deadline = Date.now() + ms;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let delay = 2; ; delay = Math.min(delay * 2, 100)) {
    try {
      return fn();
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw err;
      Atomics.wait(pause, 0, 0, delay);
    }
  }
}

function currentVersion(db: Database.Database): number {
  const row = db.prepare(`SELECT max(version) AS v FROM ${MIGRATIONS_TABLE}`).get() as { v: number | null };
  return Number(row.v ?? 0);
}

/** Applies missing migrations under SQLite's write lock (BEGIN IMMEDIATE), so racing openers serialise. */
function migrate(db: Database.Database): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec(CREATE_MIGRATIONS_TABLE);
    const version = currentVersion(db);
    if (version > LATEST_VERSION) {
      throw new SqlgateError('INTERNAL', `sqlgate: the control store is at schema version ${version}, newer than this sqlgate knows (${LATEST_VERSION}); upgrade this node`);
    }
    const record = db.prepare(`INSERT INTO ${MIGRATIONS_TABLE} (version, name, applied_at) VALUES (?, ?, ?)`);
    for (const m of MIGRATIONS) {
      if (m.version <= version) continue;
      for (const sql of m.sqlite) db.exec(sql);
      record.run(m.version, m.name, new Date().toISOString());
    }
    db.exec('COMMIT');
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw err;
  }
}
