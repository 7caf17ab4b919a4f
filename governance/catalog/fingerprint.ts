/**
 * A schema fingerprint: one short query whose answer changes whenever DDL
 * changes what a catalog load would see (tables, views and their
 * definitions, columns, functions), and not when only data changes. The
 * provider asks it every few seconds while statements flow and reloads the
 * catalog only when it moved, so a column added behind sqlgate's back (a
 * migration tool, a DBA's own client) is governed within seconds: before,
 * `SELECT *` was expanded on the old column list until the catalog expired,
 * and returned the new column whatever the grants said.
 */
import type { MysqlQueryable, PgQueryable } from './catalog.js';

/**
 * PostgreSQL: every DDL writes new versions of rows in pg_class,
 * pg_attribute, pg_proc or pg_rewrite, and a new row version has a new
 * `xmin`; ANALYZE and VACUUM update pg_class in place and keep it. System
 * schemas are left out, as they do not change under a running server.
 */
export async function pgSchemaFingerprint(client: PgQueryable): Promise<string> {
  const r = await client.query(`
    WITH ns AS (SELECT oid FROM pg_namespace
                 WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg_toast%' AND nspname NOT LIKE 'pg_temp%')
    SELECT md5(coalesce(string_agg(v, ',' ORDER BY v), '')) AS fp FROM (
      SELECT 'c' || c.oid || ':' || c.xmin AS v FROM pg_class c WHERE c.relnamespace IN (SELECT oid FROM ns) AND c.relkind IN ('r','v','m','f','p')
      UNION ALL
      SELECT 'a' || a.attrelid || '.' || a.attnum || ':' || a.xmin FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
       WHERE c.relnamespace IN (SELECT oid FROM ns) AND c.relkind IN ('r','v','m','f','p') AND a.attnum > 0
      UNION ALL
      SELECT 'p' || p.oid || ':' || p.xmin FROM pg_proc p WHERE p.pronamespace IN (SELECT oid FROM ns)
      UNION ALL
      SELECT 'r' || w.oid || ':' || w.xmin FROM pg_rewrite w JOIN pg_class c ON c.oid = w.ev_class WHERE c.relnamespace IN (SELECT oid FROM ns)
      UNION ALL
      SELECT 'n' || n.oid || ':' || n.xmin FROM pg_namespace n WHERE n.oid IN (SELECT oid FROM ns)
    ) x`);
  return String((r.rows as { fp: string }[])[0].fp);
}

/**
 * MySQL/MariaDB keep no row versions in information_schema: the
 * fingerprint hashes what the catalog load reads (schemas, tables, columns
 * with their types and positions, view definitions, routines). Each row is
 * unique, so XOR-ing their CRCs never cancels two of them out; the counts
 * guard against the rest.
 */
export async function mysqlSchemaFingerprint(conn: MysqlQueryable, databases?: readonly string[]): Promise<string> {
  const filter = databases && databases.length > 0
    ? { sql: 'IN (?)', values: [databases] }
    : { sql: "NOT IN ('mysql', 'performance_schema', 'sys', 'information_schema')", values: [] };
  const [rows] = await conn.query(
    `SELECT
       (SELECT CONCAT(COUNT(*), ':', COALESCE(BIT_XOR(CRC32(CONCAT_WS(0x1f, TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE))), 0))
          FROM information_schema.TABLES WHERE TABLE_SCHEMA ${filter.sql}) AS t,
       (SELECT CONCAT(COUNT(*), ':', COALESCE(BIT_XOR(CRC32(CONCAT_WS(0x1f, TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, IS_NULLABLE))), 0))
          FROM information_schema.COLUMNS WHERE TABLE_SCHEMA ${filter.sql}) AS c,
       (SELECT CONCAT(COUNT(*), ':', COALESCE(BIT_XOR(CRC32(CONCAT_WS(0x1f, TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION))), 0))
          FROM information_schema.VIEWS WHERE TABLE_SCHEMA ${filter.sql}) AS v,
       (SELECT CONCAT(COUNT(*), ':', COALESCE(BIT_XOR(CRC32(CONCAT_WS(0x1f, ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE, SECURITY_TYPE, LAST_ALTERED))), 0))
          FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA ${filter.sql}) AS r`,
    [...filter.values, ...filter.values, ...filter.values, ...filter.values]);
  const x = (rows as { t: string; c: string; v: string; r: string }[])[0];
  return `${x.t}/${x.c}/${x.v}/${x.r}`;
}
