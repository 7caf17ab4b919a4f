/**
 * The catalog: which tables, views and columns each upstream has, with row
 * estimates, loaded from information_schema (MySQL/MariaDB) or pg_catalog
 * (PostgreSQL). Analysis resolves names and expands `*` against it; the
 * engine reads row estimates from it.
 *
 * Identifier rules live here, in `lookup`, so that analysis never guesses:
 * PostgreSQL names arrive already folded by the parser and compare exactly;
 * MySQL table names compare exactly (case-sensitive on Linux,
 * lower_case_table_names=0), column names case-insensitively.
 */
import type { Dialect } from '../facts.js';

/** One column of a table or view, in ordinal order. */
export interface CatalogColumn {
  readonly name: string;
  readonly type: string;
  /** 1-based position as the server numbers it (PostgreSQL attnum: gaps where columns were dropped). */
  readonly ordinal: number;
  readonly nullable: boolean;
}

/** A table or view. MySQL: `schema === database`. */
export interface CatalogTable {
  readonly database: string;
  readonly schema: string;
  readonly name: string;
  readonly kind: 'table' | 'view';
  readonly columns: readonly CatalogColumn[];
  /** Row estimate (information_schema TABLE_ROWS / pg_class.reltuples); 0 when unknown. */
  readonly rows: number;
  /** For views: the defining SELECT, fully qualified where the server could. */
  readonly viewDefinition?: string;
  /** PostgreSQL relation OID. */
  readonly oid?: number;
}

/** A user-defined function or procedure (PostgreSQL `pg_proc` outside system schemas; MySQL routines). */
export interface CatalogFunction {
  readonly schema: string;
  readonly name: string;
  readonly kind: 'function' | 'procedure' | 'aggregate' | 'window';
  readonly language: string;
  readonly securityDefiner: boolean;
}

/** An immutable snapshot of one upstream's schema. */
export interface Catalog {
  readonly dialect: Dialect;
  /** Bumped on each refresh: part of the analysis cache key. */
  readonly version: number;
  /**
   * Finds a table or view. `database` defaults to the catalog's own (PG) or is
   * required (MySQL, the session's current database). Without a schema, a
   * PostgreSQL name is searched in `pg_catalog` (unless the search path names
   * it explicitly) and then along `searchPath`.
   */
  lookup(database: string | undefined, schema: string | undefined, name: string, searchPath?: readonly string[]): CatalogTable | undefined;
  tables(): readonly CatalogTable[];
  functions?(): readonly CatalogFunction[];
}

/** Schemas never loaded for MySQL unless asked for by name. */
export const MYSQL_SYSTEM_SCHEMAS: readonly string[] = ['mysql', 'information_schema', 'performance_schema', 'sys'];

/** Compares column names the way the dialect does. */
export function sameColumnName(dialect: Dialect, a: string, b: string): boolean {
  return dialect === 'postgres' ? a === b : a.toLowerCase() === b.toLowerCase();
}

class MemoryCatalog implements Catalog {
  readonly dialect: Dialect;
  readonly version: number;
  readonly #tables: readonly CatalogTable[];
  readonly #functions: readonly CatalogFunction[];
  readonly #byKey = new Map<string, CatalogTable>();
  /** MySQL's information_schema, by lower-case table name: its names are case-insensitive whatever lower_case_table_names says. */
  readonly #infoSchema = new Map<string, CatalogTable>();
  readonly #defaultDatabase: string | undefined;

  constructor(dialect: Dialect, tables: readonly CatalogTable[], version: number, functions: readonly CatalogFunction[], defaultDatabase?: string) {
    this.dialect = dialect;
    this.version = version;
    this.#tables = tables;
    this.#functions = functions;
    this.#defaultDatabase = defaultDatabase ?? (dialect === 'postgres' ? tables.find((t) => t.schema !== 'pg_catalog')?.database ?? tables[0]?.database : undefined);
    for (const t of tables) {
      this.#byKey.set(key(t.database, t.schema, t.name), t);
      if (dialect === 'mysql' && t.database.toLowerCase() === 'information_schema') this.#infoSchema.set(t.name.toLowerCase(), t);
    }
  }

  lookup(database: string | undefined, schema: string | undefined, name: string, searchPath: readonly string[] = ['public']): CatalogTable | undefined {
    if (this.dialect === 'mysql') {
      const db = schema ?? database;
      if (db === undefined) return undefined;
      if (db.toLowerCase() === 'information_schema') return this.#infoSchema.get(name.toLowerCase());
      return this.#byKey.get(key(db, db, name));
    }
    const db = database ?? this.#defaultDatabase;
    if (db === undefined) return undefined;
    if (schema !== undefined) return this.#byKey.get(key(db, schema, name));
    // PostgreSQL searches pg_catalog first unless the path places it explicitly.
    const path = searchPath.includes('pg_catalog') ? searchPath : ['pg_catalog', ...searchPath];
    for (const s of path) {
      const t = this.#byKey.get(key(db, s, name));
      if (t) return t;
    }
    return undefined;
  }

  tables(): readonly CatalogTable[] {
    return this.#tables;
  }

  functions(): readonly CatalogFunction[] {
    return this.#functions;
  }
}

function key(database: string, schema: string, name: string): string {
  return `${database}\u0000${schema}\u0000${name}`;
}

/** Shorthand accepted by `catalogFromTables`: columns may be given as names. */
export interface TableSpec {
  readonly database: string;
  readonly schema?: string;
  readonly name: string;
  readonly kind?: 'table' | 'view';
  readonly columns: readonly (string | Omit<CatalogColumn, 'ordinal'> | CatalogColumn)[];
  readonly rows?: number;
  readonly viewDefinition?: string;
  readonly oid?: number;
}

/**
 * Builds an in-memory catalog, for tests, the decision corpus and `explain`
 * runs without an upstream. MySQL tables default `schema` to `database`,
 * PostgreSQL ones to `public`.
 */
export function catalogFromTables(dialect: Dialect, tables: readonly TableSpec[], options: { version?: number; functions?: readonly CatalogFunction[]; defaultDatabase?: string } = {}): Catalog {
  const full: CatalogTable[] = tables.map((t) => ({
    database: t.database,
    schema: t.schema ?? (dialect === 'mysql' ? t.database : 'public'),
    name: t.name,
    kind: t.kind ?? 'table',
    columns: t.columns.map((c, i) => typeof c === 'string'
      ? { name: c, type: 'text', ordinal: i + 1, nullable: true }
      : { ...c, ordinal: 'ordinal' in c ? c.ordinal : i + 1 }),
    rows: t.rows ?? 0,
    ...(t.viewDefinition !== undefined ? { viewDefinition: t.viewDefinition } : {}),
    ...(t.oid !== undefined ? { oid: t.oid } : {}),
  }));
  return new MemoryCatalog(dialect, full, options.version ?? 1, options.functions ?? [], options.defaultDatabase);
}

/**
 * A catalog plus tables created earlier in the same client message, which
 * the statements after them may use: each found first at its place on the
 * search path (PostgreSQL) or in its database (MySQL).
 */
export function withTables(base: Catalog, extra: readonly CatalogTable[]): Catalog {
  const byKey = new Map(extra.map((t) => [key(t.database, t.schema, t.name), t]));
  return {
    dialect: base.dialect,
    version: base.version,
    lookup(database, schema, name, searchPath = ['public']) {
      if (base.dialect === 'mysql') {
        const db = schema ?? database;
        return (db !== undefined ? byKey.get(key(db, db, name)) : undefined) ?? base.lookup(database, schema, name, searchPath);
      }
      const db = database ?? extra[0]?.database ?? '';
      if (schema !== undefined) return byKey.get(key(db, schema, name)) ?? base.lookup(database, schema, name, searchPath);
      const path = searchPath.includes('pg_catalog') ? searchPath : ['pg_catalog', ...searchPath];
      for (const s of path) {
        const t = byKey.get(key(db, s, name)) ?? base.lookup(database, s, name, searchPath);
        if (t) return t;
      }
      return undefined;
    },
    tables: () => [...base.tables(), ...extra],
    functions: () => base.functions?.() ?? [],
  };
}

/** Same tables, new version: what a refresh produces. */
export function withVersion(catalog: Catalog, version: number): Catalog {
  return new MemoryCatalog(catalog.dialect, catalog.tables(), version, catalog.functions?.() ?? []);
}

/** The subset of a mysql2 promise connection the loader uses. */
export interface MysqlQueryable {
  query(sql: string, values?: unknown): Promise<[unknown, unknown]>;
}

/**
 * Loads tables, views and columns from information_schema. `databases`
 * defaults to every non-system schema the service account can see.
 */
export async function loadMysqlCatalog(conn: MysqlQueryable, databases?: readonly string[]): Promise<Catalog> {
  const filter = databases && databases.length > 0
    ? { sql: 'IN (?)', values: [databases] }
    : { sql: 'NOT IN (?)', values: [MYSQL_SYSTEM_SCHEMAS] };
  const [tableRows] = await conn.query(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, TABLE_TYPE AS k, TABLE_ROWS AS r
       FROM information_schema.TABLES WHERE TABLE_SCHEMA ${filter.sql}`, filter.values);
  const [colRows] = await conn.query(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, COLUMN_NAME AS c, COLUMN_TYPE AS t, ORDINAL_POSITION AS o, IS_NULLABLE AS nl
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA ${filter.sql} ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`, filter.values);
  const [viewRows] = await conn.query(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, VIEW_DEFINITION AS d
       FROM information_schema.VIEWS WHERE TABLE_SCHEMA ${filter.sql}`, filter.values);
  const cols = new Map<string, CatalogColumn[]>();
  for (const r of colRows as { s: string; n: string; c: string; t: string; o: number | string; nl: string }[]) {
    const k = key(r.s, r.s, r.n);
    let list = cols.get(k);
    if (!list) cols.set(k, list = []);
    list.push({ name: r.c, type: String(r.t), ordinal: Number(r.o), nullable: r.nl === 'YES' });
  }
  const views = new Map<string, string>();
  for (const r of viewRows as { s: string; n: string; d: string | null }[]) {
    if (r.d) views.set(key(r.s, r.s, r.n), r.d);
  }
  const tables: CatalogTable[] = [];
  for (const r of tableRows as { s: string; n: string; k: string; r: number | string | null }[]) {
    const k = key(r.s, r.s, r.n);
    // information_schema's SYSTEM VIEWs have no definition to analyse: they are read as the server's own tables (rules/system-objects.ts).
    const isView = r.k === 'VIEW';
    const def = views.get(k);
    tables.push({
      database: r.s, schema: r.s, name: r.n,
      kind: isView ? 'view' : 'table',
      columns: cols.get(k) ?? [],
      rows: r.r == null ? 0 : Number(r.r),
      ...(isView && def !== undefined ? { viewDefinition: def } : {}),
    });
  }
  return new MemoryCatalog('mysql', tables, 1, []);
}

/** The subset of a pg client the loader uses. */
export interface PgQueryable {
  query(sql: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

/**
 * Every catalog relation, function and type is named with its schema: on a
 * client's own session (transaction-catalog.ts) a temporary table or a
 * search_path entry must not stand in for pg_class and the others.
 *
 * Loads every relation of the connected database (user schemas plus
 * pg_catalog and information_schema, so that system views resolve and
 * shadow like the server's), reltuples estimates, view definitions and the
 * user-defined functions. View definitions are printed with an empty
 * search_path so that every table name in them is schema-qualified.
 */
export async function loadPgCatalog(client: PgQueryable): Promise<Catalog> {
  const db = (await client.query('SELECT pg_catalog.current_database() AS d')).rows as { d: string }[];
  const database = db[0].d;
  const rels = (await client.query(`
    SELECT c.oid::pg_catalog.int8 AS oid, n.nspname AS s, c.relname AS n, c.relkind AS k, c.reltuples::pg_catalog.float8 AS r,
           CASE WHEN c.relkind IN ('v','m') THEN pg_catalog.pg_get_viewdef(c.oid) END AS d
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r','v','m','f','p')
       AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'`)).rows as { oid: string; s: string; n: string; k: string; r: number; d: string | null }[];
  // Qualified view text needs an empty search_path while printing; the
  // session's own path is put back afterwards (no transaction is opened, so
  // a caller's transaction is left alone).
  const qualified = new Map<string, string>();
  if (rels.some((r) => r.d !== null && r.s !== 'pg_catalog' && r.s !== 'information_schema')) {
    const saved = (await client.query(`SELECT pg_catalog.current_setting('search_path') AS p`)).rows as { p: string }[];
    await client.query(`SELECT pg_catalog.set_config('search_path', '', false)`);
    try {
      const defs = (await client.query(`
        SELECT c.oid::pg_catalog.int8 AS oid, pg_catalog.pg_get_viewdef(c.oid) AS d
          FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('v','m') AND n.nspname NOT IN ('pg_catalog','information_schema')`)).rows as { oid: string; d: string }[];
      for (const d of defs) qualified.set(String(d.oid), d.d);
    } finally {
      await client.query(`SELECT pg_catalog.set_config('search_path', $1, false)`, [saved[0].p]);
    }
  }
  const cols = (await client.query(`
    SELECT a.attrelid::pg_catalog.int8 AS oid, a.attname AS c, pg_catalog.format_type(a.atttypid, a.atttypmod) AS t, a.attnum AS o, NOT a.attnotnull AS nl
      FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
     WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r','v','m','f','p')
     ORDER BY a.attrelid, a.attnum`)).rows as { oid: string; c: string; t: string; o: number; nl: boolean }[];
  const byOid = new Map<string, CatalogColumn[]>();
  for (const c of cols) {
    const k = String(c.oid);
    let list = byOid.get(k);
    if (!list) byOid.set(k, list = []);
    // attnum, not a dense index: it is what RowDescription's column number carries.
    list.push({ name: c.c, type: c.t, ordinal: Number(c.o), nullable: c.nl });
  }
  const tables: CatalogTable[] = rels.map((r) => {
    const isView = r.k === 'v' || r.k === 'm';
    const def = qualified.get(String(r.oid)) ?? r.d ?? undefined;
    return {
      database, schema: r.s, name: r.n,
      kind: isView ? 'view' : 'table',
      columns: byOid.get(String(r.oid)) ?? [],
      // reltuples is -1 for a never-analysed table (PG14+): unknown.
      rows: r.r < 0 ? 0 : Math.round(r.r),
      ...(isView && def !== undefined ? { viewDefinition: def } : {}),
      oid: Number(r.oid),
    };
  });
  const fns = (await client.query(`
    SELECT n.nspname AS s, p.proname AS n, p.prokind AS k, l.lanname AS l, p.prosecdef AS sd
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace JOIN pg_catalog.pg_language l ON l.oid = p.prolang
     WHERE n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%'`)).rows as { s: string; n: string; k: string; l: string; sd: boolean }[];
  const functions: CatalogFunction[] = fns.map((f) => ({
    schema: f.s, name: f.n,
    kind: f.k === 'p' ? 'procedure' : f.k === 'a' ? 'aggregate' : f.k === 'w' ? 'window' : 'function',
    language: f.l, securityDefiner: f.sd,
  }));
  return new MemoryCatalog('postgres', tables, 1, functions, database);
}
