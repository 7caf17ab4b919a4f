/**
 * Real-database helpers for tests. URLs come from MYSQL_URL / PG_URL (set by
 * `test/run.ts` when it had to start throw-away servers), defaulting to the
 * local services. Each test works in databases it creates with unique names
 * and drops afterwards: never touch data a test did not create.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { urlParts } from '../../proxy/embedded-servers.js';

export const DEFAULT_MYSQL_URL = 'mysql://root@127.0.0.1:3306/test';
export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export function mysqlUrl(): string {
  return process.env.MYSQL_URL || DEFAULT_MYSQL_URL;
}

export function pgUrl(): string {
  return process.env.PG_URL || DEFAULT_PG_URL;
}

/** A name no other test run will pick: `sg_<prefix>_<pid>_<random>`, lower case. */
export function uniqueName(prefix: string): string {
  return `sg_${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`.toLowerCase();
}

/** URL with its database (path) replaced. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = '/' + database;
  return u.toString();
}

export interface ServerInfo {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

export function serverInfo(url: string): ServerInfo {
  const { host, port, user, password } = urlParts(url);
  return { host, port, user, password };
}

export interface TempDatabase {
  readonly name: string;
  /** URL of the temp database. */
  readonly url: string;
  /** Drops the database; safe to call twice. */
  drop(): Promise<void>;
}

/** Opens a mysql2 connection (promise API) to a URL, multi-statements on. */
export async function mysqlConnect(url: string = mysqlUrl()): Promise<mysql.Connection> {
  const s = serverInfo(url);
  const database = new URL(url).pathname.slice(1) || undefined;
  return mysql.createConnection({
    host: s.host, port: s.port, user: s.user, password: s.password, database,
    multipleStatements: true, supportBigNumbers: true, bigNumberStrings: true, dateStrings: true,
  });
}

/** Opens a pg client to a URL. */
export async function pgConnect(url: string = pgUrl()): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

/** Creates a uniquely named MariaDB/MySQL database, optionally running setup SQL in it. */
export async function createMysqlDatabase(prefix: string, setupSql?: string): Promise<TempDatabase> {
  const name = uniqueName(prefix);
  const admin = await mysqlConnect();
  try {
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(mysqlUrl(), name);
  if (setupSql) {
    const c = await mysqlConnect(url);
    try { await c.query(setupSql); } finally { await c.end(); }
  }
  let dropped = false;
  return {
    name, url,
    async drop() {
      if (dropped) return;
      dropped = true;
      const c = await mysqlConnect();
      try { await c.query(`DROP DATABASE IF EXISTS \`${name}\``); } finally { await c.end(); }
    },
  };
}

/** Creates a uniquely named PostgreSQL database, optionally running setup SQL in it. */
export async function createPgDatabase(prefix: string, setupSql?: string): Promise<TempDatabase> {
  const name = uniqueName(prefix);
  const admin = await pgConnect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(pgUrl(), name);
  if (setupSql) {
    const c = await pgConnect(url);
    try { await c.query(setupSql); } finally { await c.end(); }
  }
  let dropped = false;
  return {
    name, url,
    async drop() {
      if (dropped) return;
      dropped = true;
      const c = await pgConnect();
      try { await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`); } finally { await c.end(); }
    },
  };
}
