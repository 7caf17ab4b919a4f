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
import { createMysqlDatabase, createPgDatabase, mysqlConnect, pgConnect, pgUrl, withDatabase, type TempDatabase } from '../../helpers/db.js';
import { createGate, CATALOG_RETRY_MS } from '../../../governance/gate-impl.js';
import { initAnalysis } from '../../../governance/analyze/analyze.js';
import { CatalogProvider } from '../../../governance/catalog/provider.js';
import { loadMysqlCatalog, loadPgCatalog, type Catalog } from '../../../governance/catalog/catalog.js';
import { policySchema } from '../../../rules/policy-schema.js';
import * as pgSide from '../postgres/setup.js';
import * as mySide from '../mysql/helpers.js';

let pgdb: TempDatabase;
let mydb: TempDatabase;
let pgEp: pgSide.Endpoint;
let myEp: mySide.Endpoint;
const loads = { postgres: 0, mysql: 0 };

/** A provider with the default TTL whose loads are counted. */
function counted(dialect: 'postgres' | 'mysql', load: (database: string | undefined) => Promise<Catalog>): CatalogProvider {
  return new CatalogProvider(async (database) => { loads[dialect]++; return load(database); });
}

before(async () => {
  await initAnalysis();
  pgdb = await createPgDatabase('catref', 'CREATE TABLE base (id int)');
  mydb = await createMysqlDatabase('catref', 'CREATE TABLE base (id INT)');
  const roles = (database: string) => ({
    owner: { grants: [{ database, privileges: ['all'] }], statement_kinds: ['select', 'insert', 'update', 'delete', 'ddl', 'use', 'set', 'show', 'transaction'] },
  });

  const pgBase = pgSide.testPolicy(pgdb.name);
  const pgPolicy = policySchema.parse({ ...pgBase, users: { alice: { ...pgBase.users.alice, roles: ['owner'] } }, roles: roles(pgdb.name) });
  const pgCatalogs = counted('postgres', async (database) => {
    const c = await pgConnect(withDatabase(pgUrl(), database ?? 'postgres'));
    try { return await loadPgCatalog(c); } finally { await c.end(); }
  });
  pgEp = await pgSide.startEndpoint(createGate({
    policy: () => pgPolicy, audit: { write() {} },
    catalogFor: (_i, d) => pgCatalogs.get(d), refreshCatalog: (_i, d) => pgCatalogs.refresh(d),
  }));

  const myBase = mySide.testPolicy({ database: mydb.name });
  const myPolicy = policySchema.parse({ ...myBase, users: { owner: { password: myBase.users.both.password, roles: ['owner'] } }, roles: roles(mydb.name) });
  const myCatalogs = counted('mysql', async () => {
    const c = await mysqlConnect();
    try { return await loadMysqlCatalog(c as never, [mydb.name]); } finally { await c.end(); }
  });
  const myGate = createGate({ policy: () => myPolicy, audit: { write() {} }, catalogFor: () => myCatalogs.get(undefined), refreshCatalog: () => myCatalogs.refresh(undefined) });
  myEp = await mySide.startEndpoint({ gate: myGate as never, policy: myPolicy });
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
