/** Minimal node clients for the workloads that pgbench and sysbench do not cover. */
import mysql from 'mysql2';
import pg from 'pg';
import type { Endpoint } from './endpoints.js';

/** A connected pg client (node-postgres), simple query protocol for text queries. */
export async function pgClient(ep: Endpoint): Promise<pg.Client> {
  const c = new pg.Client({ host: ep.host, port: ep.port, user: ep.user, password: ep.password, database: ep.database, connectionTimeoutMillis: 20_000 });
  c.on('error', () => { /* reported by the awaiting query */ });
  await c.connect();
  return c;
}

/** A connected mysql2 connection (callback API, so results can stream). */
export function mysqlClient(ep: Endpoint): Promise<mysql.Connection> {
  return new Promise((resolve, reject) => {
    const c = mysql.createConnection({ host: ep.host, port: ep.port, user: ep.user, password: ep.password, database: ep.database, connectTimeout: 20_000 });
    c.once('error', reject);
    c.connect((err) => {
      if (err) { c.destroy(); reject(err); return; }
      c.removeListener('error', reject);
      c.on('error', () => { /* reported by the awaiting query */ });
      resolve(c);
    });
  });
}

/** Runs a text query on a mysql2 connection and resolves with its rows. */
export function mysqlQuery(c: mysql.Connection, sql: string): Promise<unknown> {
  return new Promise((resolve, reject) => c.query(sql, (err, rows) => (err ? reject(err) : resolve(rows))));
}

/** Closes a mysql2 connection, never rejecting. */
export function mysqlEnd(c: mysql.Connection): Promise<void> {
  return new Promise((resolve) => c.end(() => resolve()));
}

/** One open client of either dialect, to run text queries and close. */
export interface AnyClient {
  query(sql: string): Promise<unknown>;
  close(): Promise<void>;
}

/** Opens a client of the endpoint's dialect. */
export async function openClient(ep: Endpoint): Promise<AnyClient> {
  if (ep.dialect === 'postgres') {
    const c = await pgClient(ep);
    return { query: (sql) => c.query(sql), close: () => c.end().catch(() => undefined) };
  }
  const c = await mysqlClient(ep);
  return { query: (sql) => mysqlQuery(c, sql), close: () => mysqlEnd(c) };
}
