/**
 * The catalog follows DDL: a table or column created through sqlgate can be
 * used by the next statement, and one created elsewhere is found by reloading
 * the catalog once when a statement names it — at most once a second per
 * catalog, and a name that still does not exist is still refused. Real
 * MariaDB and PostgreSQL, real clients, the real gate; catalogs with their
 * production TTL (60 s), so nothing here is explained by expiry.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createMysqlDatabase, createPgDatabase, mysqlConnect, pgConnect, type TempDatabase } from '../../helpers/db.js';
import { createGate, CATALOG_RETRY_MS } from '../../../governance/gate-impl.js';
import { mysqlLiveGate, pgLiveGate } from '../../helpers/live-gate.js';
import { initAnalysis } from '../../../governance/analyze/analyze.js';
import { policySchema } from '../../../rules/policy-schema.js';
import { liveCatalogs } from '../../../governance/catalog/live.js';
import * as pgSide from '../postgres/setup.js';
import * as mySide from '../mysql/helpers.js';

let pgdb: TempDatabase;
let mydb: TempDatabase;
let pgEp: pgSide.Endpoint;
let myEp: mySide.Endpoint;
const loads = { postgres: 0, mysql: 0 };
/** `owner` may do anything in the test database; `reader` may read two columns of `items`. */
const roles = (database: string) => ({
  owner: { grants: [{ database, privileges: ['all'] }], statement_kinds: ['select', 'insert', 'update', 'delete', 'ddl', 'use', 'set', 'show', 'transaction'] },
  reader: { grants: [{ database, table: 'items', columns: ['id', 'name'], privileges: ['select'] }] },
});

before(async () => {
  await initAnalysis();
  pgdb = await createPgDatabase('catref', "CREATE TABLE base (id int); CREATE TABLE items (id int, name text); INSERT INTO items VALUES (1, 'x')");
  mydb = await createMysqlDatabase('catref', "CREATE TABLE base (id INT); CREATE TABLE items (id INT, name VARCHAR(10)); INSERT INTO items VALUES (1, 'x')");

  const pgBase = pgSide.testPolicy(pgdb.name);
  const pgPolicy = policySchema.parse({ ...pgBase, users: { alice: { ...pgBase.users.alice, roles: ['owner'] } }, roles: roles(pgdb.name) });
  pgEp = await pgSide.startEndpoint(pgLiveGate(pgPolicy, () => { loads.postgres++; }));

  const myBase = mySide.testPolicy({ database: mydb.name });
  const myPolicy = policySchema.parse({ ...myBase, users: { owner: { password: myBase.users.both.password, roles: ['owner'] } }, roles: roles(mydb.name) });
  myEp = await mySide.startEndpoint({ gate: mysqlLiveGate(myPolicy, [mydb.name], () => { loads.mysql++; }) as never, policy: myPolicy });
});
after(async () => {
  await pgEp?.close();
  await myEp?.close();
  await pgdb?.drop();
  await mydb?.drop();
});

const unknownName = /unknown (table|column)|cannot resolve|not resolved/i;

test('PostgreSQL: a table and a column created through sqlgate are usable by the next statement', async () => {
  const c = await pgSide.pgThrough(pgEp.url('alice', pgdb.name));
  try {
    await c.query('CREATE TABLE made_here (id int, note text)');
    await c.query("INSERT INTO made_here VALUES (1, 'a')");
    assert.deepEqual((await c.query('SELECT id, note FROM made_here')).rows, [{ id: 1, note: 'a' }]);
    await c.query('ALTER TABLE made_here ADD COLUMN extra int');
    assert.deepEqual((await c.query('SELECT extra FROM made_here')).rows, [{ extra: null }]);
    // SELECT * is expanded on the new catalog: the new column is part of the analysis.
    assert.deepEqual(Object.keys((await c.query('SELECT * FROM made_here')).rows[0]), ['id', 'note', 'extra']);
  } finally {
    await c.end();
  }
});

test('PostgreSQL: a table created inside a transaction is usable once it commits (the commit reloads)', async () => {
  const c = await pgSide.pgThrough(pgEp.url('alice', pgdb.name));
  try {
    // Use up the reload for unknown names, so that only the commit can explain what follows.
    await assert.rejects(c.query('SELECT * FROM nothing_here'), (e: Error) => unknownName.test(e.message));
    await c.query('BEGIN');
    await c.query('CREATE TABLE made_in_txn (id int)');
    await c.query('ROLLBACK');
    await c.query('BEGIN');
    await c.query('CREATE TABLE made_in_txn (id int)');
    await c.query('COMMIT');
    await c.query('INSERT INTO made_in_txn VALUES (5)');
    assert.deepEqual((await c.query('SELECT id FROM made_in_txn')).rows, [{ id: 5 }]);
  } finally {
    await c.end();
  }
});

test('PostgreSQL: a table created elsewhere is found by one reload; an unknown one stays refused without a reload storm', async () => {
  const c = await pgSide.pgThrough(pgEp.url('alice', pgdb.name));
  const direct = await pgConnect(pgdb.url);
  try {
    await c.query('SELECT id FROM base'); // the catalog is loaded
    await direct.query('CREATE TABLE made_elsewhere (x int)');
    await direct.query('INSERT INTO made_elsewhere VALUES (7)');
    await new Promise((r) => setTimeout(r, CATALOG_RETRY_MS)); // past the last reload
    assert.deepEqual((await c.query('SELECT x FROM made_elsewhere')).rows, [{ x: 7 }]);
    await new Promise((r) => setTimeout(r, CATALOG_RETRY_MS));
    const before = loads.postgres;
    for (let i = 0; i < 20; i++) await assert.rejects(c.query('SELECT * FROM no_such_table'), (e: Error) => unknownName.test(e.message));
    assert.equal(loads.postgres - before, 1, 'twenty refusals in a burst cost one reload');
  } finally {
    await direct.end();
    await c.end();
  }
});

test('MySQL: a table and a column created through sqlgate are usable by the next statement, in a named database too', async () => {
  const c = await mySide.connect(myEp.port, { user: 'owner', database: mydb.name });
  try {
    await c.query('CREATE TABLE made_here (id INT, note VARCHAR(10))');
    await c.query("INSERT INTO made_here VALUES (1, 'a')");
    const [rows] = await c.query('SELECT id, note FROM made_here');
    assert.deepEqual(rows, [{ id: 1, note: 'a' }]);
    await c.query(`ALTER TABLE \`${mydb.name}\`.made_here ADD COLUMN extra INT`);
    const [rows2] = await c.query('SELECT extra FROM made_here');
    assert.deepEqual(rows2, [{ extra: null }]);
  } finally {
    await c.end();
  }
});

test('MySQL: a table created elsewhere is found by one reload; an unknown one stays refused without a reload storm', async () => {
  const c = await mySide.connect(myEp.port, { user: 'owner', database: mydb.name });
  const direct = await mysqlConnect(mydb.url);
  try {
    await c.query('SELECT id FROM base');
    await direct.query('CREATE TABLE made_elsewhere (x INT)');
    await direct.query('INSERT INTO made_elsewhere VALUES (7)');
    await new Promise((r) => setTimeout(r, CATALOG_RETRY_MS));
    const [rows] = await c.query('SELECT x FROM made_elsewhere');
    assert.deepEqual(rows, [{ x: 7 }]);
    await new Promise((r) => setTimeout(r, CATALOG_RETRY_MS));
    const before = loads.mysql;
    for (let i = 0; i < 20; i++) await assert.rejects(c.query('SELECT * FROM no_such_table'), (e: Error) => unknownName.test(e.message));
    assert.equal(loads.mysql - before, 1, 'twenty refusals in a burst cost one reload');
  } finally {
    await direct.end();
    await c.end();
  }
});

/**
 * A column added behind sqlgate's back is governed once the schema check
 * sees it: SELECT * is no longer expanded on the old column list (which sent
 * the new column whatever the grants said), and whole-row reads count it.
 * liveCatalogs with the production TTL (60 s) and a 200-ms schema check.
 */
async function newColumnIsGoverned(run: (sql: string) => Promise<unknown>, alter: () => Promise<void>): Promise<number> {
  assert.ok(await run('SELECT * FROM items'), 'every column granted: allowed');
  await alter();
  const start = Date.now();
  let outcome: unknown;
  for (;;) {
    outcome = await run('SELECT * FROM items').catch((e: Error) => e);
    if (outcome instanceof Error || Date.now() - start > 20_000) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(outcome instanceof Error, 'SELECT * is refused once the new column is known');
  assert.match(outcome.message, /secret/);
  return Date.now() - start;
}

test('PostgreSQL: a column added elsewhere is governed within the schema check, long before the TTL', async () => {
  const base = pgSide.testPolicy(pgdb.name);
  const policy = policySchema.parse({ ...base, catalog_check_ms: 200, users: { bob: { ...base.users.alice, roles: ['reader'] } }, roles: roles(pgdb.name) });
  const live = liveCatalogs(() => policy);
  const ep = await pgSide.startEndpoint(createGate({ policy: () => policy, audit: { write() {} }, catalogFor: live.catalogFor, refreshCatalog: live.refresh }));
  const c = await pgSide.pgThrough(ep.url('bob', pgdb.name));
  const direct = await pgConnect(pgdb.url);
  try {
    await newColumnIsGoverned((sql) => c.query(sql).then((r) => r.rows), async () => { await direct.query("ALTER TABLE items ADD COLUMN secret text DEFAULT 'leaked'"); });
    await assert.rejects(c.query('SELECT to_jsonb(i) FROM items i'), /secret/, 'a whole-row read counts the new column too');
  } finally {
    await direct.end();
    await c.end();
    await ep.close();
  }
});

test('MySQL: a column added elsewhere is governed within the schema check, long before the TTL', async () => {
  const base = mySide.testPolicy({ database: mydb.name });
  const policy = policySchema.parse({ ...base, catalog_check_ms: 200, users: { reader: { password: base.users.both.password, roles: ['reader'] } }, roles: roles(mydb.name) });
  const live = liveCatalogs(() => policy);
  const ep = await mySide.startEndpoint({ gate: createGate({ policy: () => policy, audit: { write() {} }, catalogFor: live.catalogFor, refreshCatalog: live.refresh }) as never, policy });
  const c = await mySide.connect(ep.port, { user: 'reader', database: mydb.name });
  const direct = await mysqlConnect(mydb.url);
  try {
    await newColumnIsGoverned((sql) => c.query(sql).then(([rows]) => rows), async () => { await direct.query("ALTER TABLE items ADD COLUMN secret VARCHAR(10) DEFAULT 'leaked'"); });
  } finally {
    await direct.end();
    await c.end();
    await ep.close();
  }
});
