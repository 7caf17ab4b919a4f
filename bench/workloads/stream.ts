/**
 * Streaming a large result (default 1M rows × 10 columns): direct, through
 * sqlgate as a user who sees every column, and as a user for whom one column
 * (sg_stream.c3) is masked. Clients count rows as they arrive and keep none,
 * so the figure is the pipe, not the client's memory.
 */
import { createHash } from 'node:crypto';
import type mysql from 'mysql2';
import type pg from 'pg';
import { mysqlClient, mysqlEnd, pgClient } from '../clients.js';
import { cpuPerUnitUs, errorLine, type Endpoint } from '../endpoints.js';
import { tryCpuSeconds } from '../proc.js';

export const STREAM_TABLE = 'sg_stream';
export const STREAM_COLUMNS = ['id', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9'];

/** SQL creating and filling the stream table (id 1..rows; c3 = md5 of the id's text). */
export function streamTableSql(dialect: 'postgres' | 'mysql', rows: number): string[] {
  if (dialect === 'postgres') {
    return [
      `CREATE TABLE ${STREAM_TABLE} (id int PRIMARY KEY, c1 int, c2 bigint, c3 text, c4 text, c5 numeric(12,2), c6 timestamp, c7 double precision, c8 varchar(16), c9 int)`,
      `INSERT INTO ${STREAM_TABLE} SELECT g, g % 1000, g::bigint * 7, md5(g::text), 'row ' || g, (g % 10000) / 100.0,
        timestamp '2024-01-01' + g * interval '1 second', g / 3.0, substr(md5((g * 3)::text), 1, 12), g % 7
        FROM generate_series(1, ${rows}) g`,
      `ANALYZE ${STREAM_TABLE}`,
    ];
  }
  // MariaDB's Sequence engine (seq_1_to_N) fills the table in one statement.
  return [
    `CREATE TABLE ${STREAM_TABLE} (id int PRIMARY KEY, c1 int, c2 bigint, c3 varchar(32), c4 varchar(32), c5 decimal(12,2), c6 datetime, c7 double, c8 varchar(16), c9 int) ENGINE=InnoDB`,
    `INSERT INTO ${STREAM_TABLE} SELECT seq, seq % 1000, seq * 7, md5(seq), concat('row ', seq), (seq % 10000) / 100,
      '2024-01-01' + INTERVAL seq SECOND, seq / 3, left(md5(seq * 3), 12), seq % 7 FROM seq_1_to_${rows}`,
  ];
}

/** One streamed result: rows/s, proxy CPU per row, and whether c3 came back masked. */
export interface StreamRun {
  readonly rowsPerSec?: number;
  readonly rows?: number;
  readonly proxyCpuUsPerRow?: number;
  /** True when the c3 of the first row differs from md5(id): the mask was applied. */
  readonly masked?: boolean;
  readonly error?: string;
}

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

/** pg "Submittable" that counts DataRows without keeping them (as pg-cursor does, minus the cursor). */
class CountingQuery {
  rows = 0;
  first?: unknown[];
  private resolve!: () => void;
  private reject!: (e: Error) => void;
  readonly done = new Promise<void>((res, rej) => { this.resolve = res; this.reject = rej; });
  constructor(private readonly text: string) {}
  submit(connection: { query(text: string): void }): void { connection.query(this.text); }
  handleRowDescription(): void {}
  handleDataRow(msg: { fields: unknown[] }): void {
    if (this.rows++ === 0) this.first = msg.fields;
  }
  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  // pg's client drops the active query when an ErrorResponse arrives, so the
  // ReadyForQuery that follows never reaches us: settle on the error itself.
  handleError(err: Error): void { this.reject(err); }
  handleReadyForQuery(): void { this.resolve(); }
}

async function streamPg(c: pg.Client, sql: string): Promise<{ rows: number; first?: unknown[] }> {
  const q = new CountingQuery(sql);
  (c as unknown as { query(q: unknown): void }).query(q);
  await q.done;
  return { rows: q.rows, first: q.first };
}

function streamMysql(c: mysql.Connection, sql: string): Promise<{ rows: number; first?: unknown[] }> {
  return new Promise((resolve, reject) => {
    let rows = 0;
    let first: unknown[] | undefined;
    c.query({ sql, rowsAsArray: true })
      .on('result', (row: unknown) => { if (rows++ === 0) first = row as unknown[]; })
      .on('error', reject)
      .on('end', () => resolve({ rows, first }));
  });
}

/** Streams the whole table (or its first `limit` rows) once through the endpoint. */
export async function streamOnce(ep: Endpoint, limit?: number): Promise<StreamRun> {
  const sql = `SELECT ${STREAM_COLUMNS.join(', ')} FROM ${STREAM_TABLE}${limit === undefined ? '' : ` LIMIT ${limit}`}`;
  try {
    const cpu0 = tryCpuSeconds(ep.proxyPid);
    let r: { rows: number; first?: unknown[] };
    if (ep.dialect === 'postgres') {
      const c = await pgClient(ep);
      const t1 = process.hrtime.bigint();
      try { r = await streamPg(c, sql); } finally { await c.end().catch(() => undefined); }
      return finish(r, t1, cpu0, ep);
    }
    const c = await mysqlClient(ep);
    const t1 = process.hrtime.bigint();
    try { r = await streamMysql(c, sql); } finally { await mysqlEnd(c); }
    return finish(r, t1, cpu0, ep);
  } catch (err) {
    return { error: errorLine(err) };
  }
}

function finish(r: { rows: number; first?: unknown[] }, t1: bigint, cpu0: number | undefined, ep: Endpoint): StreamRun {
  const secs = Number(process.hrtime.bigint() - t1) / 1e9;
  const cpu1 = tryCpuSeconds(ep.proxyPid);
  const id = r.first?.[0];
  const c3 = r.first?.[3];
  return {
    rows: r.rows,
    rowsPerSec: r.rows / secs,
    proxyCpuUsPerRow: cpuPerUnitUs(cpu0, cpu1, r.rows),
    masked: id === undefined ? undefined : String(c3) !== md5(String(id)),
  };
}
