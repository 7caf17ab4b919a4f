import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMysqlDatabase, createPgDatabase, mysqlConnect, pgConnect } from '../../helpers/db.js';
import { catalogFromTables, loadMysqlCatalog, loadPgCatalog } from '../../../governance/catalog/catalog.js';
import { mysqlSchemaFingerprint, pgSchemaFingerprint } from '../../../governance/catalog/fingerprint.js';
import { CatalogProvider } from '../../../governance/catalog/provider.js';
import { analyze, initAnalysis } from '../../../governance/analyze/analyze.js';

await initAnalysis();

test('MariaDB: tables, columns, views, row estimates from information_schema', async () => {
  const db = await createMysqlDatabase('catalog', `
    CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, phone VARCHAR(20), KEY by_name (name)) ENGINE=InnoDB;
    CREATE TABLE \`Mixed\` (\`Id\` INT, \`Secret\` TEXT);
    INSERT INTO customers VALUES (1,'a','1'),(2,'b','2'),(3,'c','3'),(4,'d','4');
    CREATE VIEW v_contacts AS SELECT c.id, c.phone AS contact FROM customers c WHERE c.name <> 'x';
    ANALYZE TABLE customers;`);
  const c = await mysqlConnect(db.url);
  try {
    const cat = await loadMysqlCatalog(c, [db.name]);
    assert.equal(cat.dialect, 'mysql');
    const t = cat.lookup(db.name, undefined, 'customers');
    assert.ok(t);
    assert.equal(t.kind, 'table');
    assert.deepEqual(t.columns.map((x) => [x.name, x.ordinal, x.nullable]), [['id', 1, false], ['name', 2, false], ['phone', 3, true]]);
    assert.match(t.columns[1].type, /varchar\(40\)/);
    assert.ok(t.rows >= 1, `row estimate ${t.rows}`);
    // Table names are exact on Linux.
    assert.equal(cat.lookup(db.name, undefined, 'CUSTOMERS'), undefined);
    assert.ok(cat.lookup(db.name, undefined, 'Mixed'));
    const v = cat.lookup(db.name, undefined, 'v_contacts');
    assert.equal(v?.kind, 'view');
    assert.match(v?.viewDefinition ?? '', /select/i);
    // The loaded view definition is analysable: lineage goes through it.
    const f = analyze('SELECT contact FROM v_contacts', { dialect: 'mysql', catalog: cat, database: db.name, searchPath: [] })[0];
    assert.equal(f.unresolved, undefined, f.unresolved?.message);
    assert.deepEqual(f.outputs[0].sources.map((s) => `${s.column.table}.${s.column.column}:${s.bare}`), ['customers.phone:true']);
    // System schemas are left out unless asked for.
    const all = await loadMysqlCatalog(c);
    assert.ok(all.tables().every((x) => !['mysql', 'information_schema', 'performance_schema', 'sys'].includes(x.database)));
    assert.ok(all.lookup(db.name, undefined, 'customers'));
  } finally {
    await c.end();
    await db.drop();
  }
});

test('PostgreSQL: relations, columns, qualified view definitions, reltuples after ANALYZE, functions', async () => {
  const db = await createPgDatabase('catalog', `
    CREATE SCHEMA hr;
    CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, phone varchar(20));
    CREATE INDEX customers_name ON customers (name);
    CREATE TABLE hr.salaries (emp int, amount numeric(10,2));
    CREATE TABLE "Mixed" ("Id" int, "Secret" text);
    INSERT INTO customers SELECT g, 'n' || g, '555' || g FROM generate_series(1, 500) g;
    ALTER TABLE customers DROP COLUMN name;
    CREATE VIEW hr.v_contacts AS SELECT c.id, c.phone AS contact FROM customers c WHERE c.id > 0;
    CREATE FUNCTION hr.leak(int) RETURNS text LANGUAGE sql SECURITY DEFINER AS 'SELECT phone FROM public.customers WHERE id = $1';
    ANALYZE customers;`);
  const c = await pgConnect(db.url);
  try {
    const cat = await loadPgCatalog(c);
    assert.equal(cat.dialect, 'postgres');
    const t = cat.lookup(undefined, undefined, 'customers', ['public']);
    assert.ok(t);
    assert.equal(t.database, db.name);
    assert.equal(t.schema, 'public');
    // Dropped columns are gone; ordinals are attnums, as RowDescription reports them.
    assert.deepEqual(t.columns.map((x) => [x.name, x.ordinal, x.nullable]), [['id', 1, false], ['phone', 3, true]]);
    assert.equal(t.columns[1].type, 'character varying(20)');
    assert.equal(t.rows, 500);
    assert.ok(typeof t.oid === 'number' && t.oid > 0);
    assert.ok(cat.lookup(undefined, undefined, 'Mixed', ['public']));
    assert.equal(cat.lookup(undefined, undefined, 'mixed', ['public']), undefined);
    assert.ok(cat.lookup(undefined, 'hr', 'salaries'));
    assert.equal(cat.lookup(undefined, undefined, 'salaries', ['public']), undefined);
    assert.ok(cat.lookup(undefined, undefined, 'pg_class', ['public']), 'pg_catalog relations resolve');
    const v = cat.lookup(undefined, 'hr', 'v_contacts');
    assert.equal(v?.kind, 'view');
    assert.match(v?.viewDefinition ?? '', /public\.customers/, 'view text is schema-qualified');
    const f = analyze('SELECT contact FROM hr.v_contacts', { dialect: 'postgres', catalog: cat, database: db.name, searchPath: ['public'] })[0];
    assert.equal(f.unresolved, undefined, f.unresolved?.message);
    assert.deepEqual(f.outputs[0].sources.map((s) => `${s.column.schema}.${s.column.table}.${s.column.column}:${s.bare}`), ['public.customers.phone:true']);
    const fn = cat.functions?.().find((x) => x.name === 'leak');
    assert.deepEqual(fn, { schema: 'hr', name: 'leak', kind: 'function', language: 'sql', securityDefiner: true });
    // A psql-style metadata query resolves against the loaded pg_catalog.
    const meta = analyze(`SELECT n.nspname, c.relname, pg_catalog.pg_get_userbyid(c.relowner) FROM pg_catalog.pg_class c
      LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p','v') AND n.nspname OPERATOR(pg_catalog.~) '^(hr)$' COLLATE pg_catalog.default
      AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 1, 2`, { dialect: 'postgres', catalog: cat, database: db.name, searchPath: ['public'] })[0];
    assert.equal(meta.unresolved, undefined, meta.unresolved?.message);
    assert.deepEqual(meta.dynamic, []);
    // Loading inside the caller's transaction neither commits nor breaks it.
    await c.query('BEGIN');
    await c.query('CREATE TABLE in_tx (a int)');
    const inTx = await loadPgCatalog(c);
    assert.ok(inTx.lookup(undefined, undefined, 'in_tx', ['public']));
    await c.query('ROLLBACK');
    assert.equal((await loadPgCatalog(c)).lookup(undefined, undefined, 'in_tx', ['public']), undefined);
    // The loader leaves the session's search_path alone.
    const sp = await c.query('SHOW search_path');
    assert.match(sp.rows[0].search_path, /public/);
  } finally {
    await c.end();
    await db.drop();
  }
});

test('CatalogProvider caches, refreshes with a higher version, and sees new tables after refresh', async () => {
  const db = await createPgDatabase('catprov', 'CREATE TABLE a (x int)');
  const c = await pgConnect(db.url);
  try {
    let loads = 0;
    const p = new CatalogProvider(async () => { loads++; return loadPgCatalog(c); }, { ttlMs: 0 });
    const one = await p.get();
    assert.equal(await p.get(), one);
    assert.equal(loads, 1);
    assert.equal(one.lookup(undefined, undefined, 'b', ['public']), undefined);
    await c.query('CREATE TABLE b (y int)');
    const two = await p.refresh();
    assert.ok(two.version > one.version);
    assert.ok(two.lookup(undefined, undefined, 'b', ['public']));
    assert.equal(await p.get(), two);
  } finally {
    await c.end();
    await db.drop();
  }
});

test('schema fingerprints move with DDL (columns, views, functions, tables) and not with data or ANALYZE', async () => {
  const pgdb = await createPgDatabase('fp', 'CREATE TABLE t (id int); CREATE VIEW v AS SELECT id FROM t');
  const mydb = await createMysqlDatabase('fp', 'CREATE TABLE t (id INT); CREATE VIEW v AS SELECT id FROM t');
  const c = await pgConnect(pgdb.url);
  const m = await mysqlConnect(mydb.url);
  try {
    const steps: [string, string, string, boolean][] = [
      ['data', 'INSERT INTO t VALUES (1)', 'INSERT INTO t VALUES (1)', false],
      ['statistics', 'ANALYZE t', 'ANALYZE TABLE t', false],
      ['a column', 'ALTER TABLE t ADD COLUMN secret text', 'ALTER TABLE t ADD COLUMN secret TEXT', true],
      ['a column type', 'ALTER TABLE t ALTER COLUMN secret TYPE varchar(10)', 'ALTER TABLE t MODIFY secret VARCHAR(10)', true],
      ['a view definition', 'CREATE OR REPLACE VIEW v AS SELECT id, secret FROM t', 'CREATE OR REPLACE VIEW v AS SELECT id, secret FROM t', true],
      ['a function', 'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$', 'CREATE FUNCTION f() RETURNS INT RETURN 1', true],
      ['a table', 'CREATE TABLE t2 (x int)', 'CREATE TABLE t2 (x INT)', true],
      ['a renamed table', 'ALTER TABLE t2 RENAME TO t3', 'RENAME TABLE t2 TO t3', true],
      ['more data', 'UPDATE t SET id = 2', 'UPDATE t SET id = 2', false],
    ];
    let pgBefore = await pgSchemaFingerprint(c);
    // MariaDB: the fingerprint covers every user database, so it is read for this one only here.
    let myBefore = await mysqlSchemaFingerprint(m, [mydb.name]);
    for (const [what, pgSql, mySql, moves] of steps) {
      await c.query(pgSql);
      await m.query(mySql);
      const pgNow = await pgSchemaFingerprint(c);
      const myNow = await mysqlSchemaFingerprint(m, [mydb.name]);
      assert.equal(pgNow !== pgBefore, moves, `PostgreSQL, ${what}`);
      assert.equal(myNow !== myBefore, moves, `MariaDB, ${what}`);
      pgBefore = pgNow;
      myBefore = myNow;
    }
  } finally {
    await c.end();
    await m.end();
    await pgdb.drop();
    await mydb.drop();
  }
});

test('CatalogProvider: the schema check runs at most every checkMs while the catalog is used, and reloads only when the schema moved', async () => {
  let schema = 'A';
  let probes = 0;
  let loads = 0;
  let now = 1_000_000;
  const realNow = Date.now;
  Date.now = () => now;
  try {
    const p = new CatalogProvider(async () => { loads++; return catalogFromTables('postgres', []); }, {
      ttlMs: 60_000, checkMs: 2000, probe: async () => { probes++; return schema; },
    });
    const first = await p.get('db');
    assert.deepEqual([loads, probes], [1, 1], 'the load takes a fingerprint');
    const settle = () => new Promise((r) => setTimeout(r, 10));
    await p.get('db'); await settle();
    assert.equal(probes, 1, 'not due yet');
    now += 2000;
    await p.get('db'); await p.get('db'); await settle();
    assert.deepEqual([loads, probes], [1, 2], 'one check for two statements; same schema, no reload');
    assert.equal(await p.get('db'), first, 'the same catalog object: caches keyed on it stay valid');
    schema = 'B';
    await p.get('db'); await settle();
    assert.equal(probes, 2, 'within checkMs of the last check');
    now += 2000;
    await p.get('db'); await settle();
    assert.deepEqual([loads, probes], [2, 4], 'the check saw B and reloaded (its load fingerprinted again)');
    const second = await p.get('db');
    assert.ok(second.version > first.version);
    now += 2000;
    await p.get('db'); await settle();
    assert.deepEqual([loads, probes], [2, 5], 'B against B: no reload');
  } finally {
    Date.now = realNow;
  }
});
