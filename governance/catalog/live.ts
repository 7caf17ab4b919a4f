/**
 * Catalogs loaded from the upstreams themselves, with the instances' service
 * accounts (password from the environment variable the policy names), cached
 * per (instance, database) by CatalogProvider and refreshable. MySQL loads
 * every database the account sees plus information_schema once per
 * instance; PostgreSQL loads per database, since a connection sees one.
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { Policy } from '../../rules/policy-schema.js';
import { SqlgateError } from '../errors.js';
import { loadMysqlCatalog, loadPgCatalog, type Catalog } from './catalog.js';
import { CatalogProvider } from './provider.js';
import { mysqlSchemaFingerprint, pgSchemaFingerprint } from './fingerprint.js';

export interface LiveCatalogs {
  catalogFor(instance: string, database: string | undefined): Promise<Catalog>;
  /** Reload now (after DDL, or on demand). */
  refresh(instance: string, database?: string): Promise<Catalog>;
}

/** Databases a MySQL catalog loads: every user database, plus information_schema for client tools. */
async function mysqlDatabases(conn: mysql.Connection): Promise<string[]> {
  const [rows] = await conn.query(`SELECT SCHEMA_NAME AS s FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN ('mysql', 'performance_schema', 'sys')`);
  return (rows as { s: string }[]).map((r) => r.s);
}

/** What sqlgate's catalog connections call themselves in pg_stat_activity. */
export const CATALOG_APPLICATION_NAME = 'sqlgate catalog';

export function liveCatalogs(policy: () => Policy, opts: { ttlMs?: number } = {}): LiveCatalogs {
  const providers = new Map<string, CatalogProvider>();
  /** Runs `fn` on a fresh connection of the instance's service account (to `database` on PostgreSQL). */
  async function withConnection<T>(instance: string, database: string | undefined, fn: (c: { mysql?: mysql.Connection; pg?: pg.Client }) => Promise<T>): Promise<T> {
    const inst = policy().instances[instance];
    if (!inst) throw new SqlgateError('UPSTREAM_UNAVAILABLE', `unknown instance ${instance}`);
    const password = inst.password_env ? process.env[inst.password_env] : undefined;
    try {
      // A connection that fails between two queries (an administrator's kill, a server restart)
      // emits 'error'; unheard, that would end the process. The next query fails instead.
      if (inst.protocol === 'mysql') {
        const conn = await mysql.createConnection({ host: inst.host, port: inst.port, user: inst.user, password, connectTimeout: 5000 });
        conn.on('error', () => undefined);
        try { return await fn({ mysql: conn }); } finally { await conn.end().catch(() => undefined); }
      }
      const client = new pg.Client({
        host: inst.host, port: inst.port, user: inst.user, password, database: database ?? inst.database, connectionTimeoutMillis: 5000,
        application_name: CATALOG_APPLICATION_NAME,
      });
      client.on('error', () => undefined);
      await client.connect();
      try { return await fn({ pg: client }); } finally { await client.end().catch(() => undefined); }
    } catch (err) {
      if (err instanceof SqlgateError) throw err;
      throw new SqlgateError('UPSTREAM_UNAVAILABLE', `cannot load the catalog of instance ${instance}: ${(err as Error).message}`, { cause: err });
    }
  }
  const providerFor = (instance: string): CatalogProvider => {
    let p = providers.get(instance);
    if (p) return p;
    p = new CatalogProvider(
      (database) => withConnection(instance, database, async (c) => c.mysql ? loadMysqlCatalog(c.mysql, await mysqlDatabases(c.mysql)) : loadPgCatalog(c.pg!)),
      {
        ...opts,
        probe: (database) => withConnection(instance, database, (c) => c.mysql ? mysqlSchemaFingerprint(c.mysql) : pgSchemaFingerprint(c.pg!)),
        checkMs: () => policy().catalog_check_ms,
      },
    );
    providers.set(instance, p);
    return p;
  };
  // One MySQL catalog covers every database of the instance.
  const keyDb = (instance: string, database: string | undefined) => policy().instances[instance]?.protocol === 'mysql' ? undefined : database;
  return {
    catalogFor: (instance, database) => providerFor(instance).get(keyDb(instance, database)),
    refresh: (instance, database) => providerFor(instance).refresh(keyDb(instance, database)),
  };
}
