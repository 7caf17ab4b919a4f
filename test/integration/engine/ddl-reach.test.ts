/**
 * DDL cannot move what its user may not read, and DDL inside a PostgreSQL
 * transaction is followed by the rest of that transaction. Real MariaDB and
 * PostgreSQL, real clients, the real gate and live catalogs.
 *
 * `dev` may run DDL on the whole test database and read two of the three
 * columns of `items`; tables named `mine*` are dev's own. `owner` may do
 * anything anywhere. `secret` holds 'TOPSECRET'.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mysqlConnect, pgConnect, type TempDatabase } from '../../helpers/db.js';
import * as pgSide from '../postgres/setup.js';
import { startTwoDoors, type TwoDoors } from './two-doors.js';
import * as mySide from '../mysql/helpers.js';
import { RawClient } from '../postgres/raw-client.js';
import { serialize } from 'pg-protocol';

let pgdb: TempDatabase;
let mydb: TempDatabase;
let pgEp: pgSide.Endpoint;
let myEp: mySide.Endpoint;

const KINDS = ['select', 'insert', 'update', 'delete', 'ddl', 'use', 'set', 'show', 'transaction'];
const roles = (database: string) => ({
  owner: { grants: [{ privileges: ['all'] }], statement_kinds: KINDS },
  dev: {
    grants: [
      { database, privileges: ['ddl'] },
      { database, table: 'items', columns: ['id', 'name'], privileges: ['select'] },
      { database, table: 'mine*', privileges: ['all'] },
    ],
    statement_kinds: KINDS,
    unqualified_dml_tables: [{ database, table: 'mine_migrations_lock' }],
  },
});
const SETUP = "CREATE TABLE items (id int PRIMARY KEY, name text, secret text); INSERT INTO items VALUES (1, 'x', 'TOPSECRET')";

let doors: TwoDoors;
before(async () => {
  doors = await startTwoDoors('ddlreach', { pg: SETUP, mysql: SETUP.replace(/text/g, 'VARCHAR(20)') }, roles);
  ({ pgdb, mydb, pgEp, myEp } = doors);
});
after(async () => {
  await doors?.close();
});

const refusedForSecret = (e: Error) => /column-acl/.test(e.message) && /secret/.test(e.message);
const unknownName = /unknown (table|column)|cannot resolve|not resolved/i;

async function pgColumns(): Promise<string[]> {
  const c = await pgConnect(pgdb.url);
  try {
    return (await c.query("SELECT attname FROM pg_attribute WHERE attrelid = 'items'::regclass AND attnum > 0 ORDER BY attnum")).rows.map((r) => r.attname);
  } finally {
    await c.end();
  }
}

test('PostgreSQL: renames and ALTER ... USING cannot move a column its user may not read', async () => {
  const c = await pgSide.pgThrough(pgEp.url('alice', pgdb.name));
  try {
    // The swap: secret's values end up under a granted name.
    await assert.rejects(c.query('ALTER TABLE items RENAME COLUMN secret TO tmp; ALTER TABLE items RENAME COLUMN name TO secret; ALTER TABLE items RENAME COLUMN tmp TO name; SELECT name FROM items'), refusedForSecret);
    await c.query('BEGIN');
    await assert.rejects(c.query('ALTER TABLE items RENAME COLUMN secret TO tmp'), refusedForSecret);
    await c.query('ROLLBACK');
    await assert.rejects(c.query('ALTER TABLE items ALTER COLUMN name TYPE text USING secret'), refusedForSecret);
    await assert.rejects(c.query('CREATE TABLE mine_kid () INHERITS (items)'), refusedForSecret);
    await assert.rejects(c.query("CREATE FUNCTION mine_f() RETURNS text LANGUAGE sql AS $$ SELECT secret FROM items $$"), /needs select on everything/);
    // What dev owns stays dev's to change.
    await c.query('CREATE TABLE mine_t (id int)');
    await c.query('ALTER TABLE mine_t ADD COLUMN note text');
    await c.query('CREATE TABLE mine_r (item_id int REFERENCES items (id))');
    await assert.rejects(c.query('CREATE TABLE mine_s (s text REFERENCES items (secret))'), refusedForSecret);
    assert.deepEqual((await c.query('SELECT name FROM items')).rows, [{ name: 'x' }]);
  } finally {
    await c.end();
  }
  assert.deepEqual(await pgColumns(), ['id', 'name', 'secret'], 'nothing was renamed');
  const owner = await pgSide.pgThrough(pgEp.url('bob', pgdb.name));
  try {
    await owner.query("CREATE FUNCTION owner_f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$");
  } finally {
    await owner.end();
  }
});

test('MySQL: renames and generated columns cannot move a column its user may not read', async () => {
  const c = await mySide.connect(myEp.port, { user: 'dev', database: mydb.name });
  try {
    await assert.rejects(c.query('ALTER TABLE items CHANGE secret tmp VARCHAR(20); ALTER TABLE items CHANGE name secret VARCHAR(20); ALTER TABLE items CHANGE tmp name VARCHAR(20); SELECT name FROM items'), refusedForSecret);
    await assert.rejects(c.query('ALTER TABLE items RENAME COLUMN secret TO tmp'), refusedForSecret);
    await assert.rejects(c.query('ALTER TABLE items ADD COLUMN mirror VARCHAR(20) AS (secret) STORED'), refusedForSecret);
    await assert.rejects(c.query('RENAME TABLE items TO mine_items'), refusedForSecret);
    await c.query('CREATE TABLE mine_t (id INT)');
    await c.query('ALTER TABLE mine_t ADD COLUMN note VARCHAR(10)');
    await assert.rejects(c.query('CREATE TRIGGER mine_tr BEFORE INSERT ON mine_t FOR EACH ROW SET NEW.id = 1'), /needs select on everything/);
    const [rows] = await c.query('SELECT name FROM items');
    assert.deepEqual(rows, [{ name: 'x' }]);
  } finally {
    await c.end();
  }
  const direct = await mysqlConnect();
  try {
    const [cols] = await direct.query('SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION', [mydb.name, 'items']);
    assert.deepEqual((cols as { c: string }[]).map((r) => r.c), ['id', 'name', 'secret'], 'nothing was renamed');
  } finally {
    await direct.end();
  }
});

test('a schema script sent as one message: tables it creates are usable by its later statements, on both doors', async () => {
  const script = "CREATE TABLE s_a (id int PRIMARY KEY, note varchar(10)); CREATE INDEX s_a_note ON s_a (note); INSERT INTO s_a VALUES (1, 'x'); "
    + 'CREATE TABLE s_b (a_id int, FOREIGN KEY (a_id) REFERENCES s_a (id)); INSERT INTO s_b SELECT id FROM s_a';
  const pgc = await pgSide.pgThrough(pgEp.url('bob', pgdb.name));
  try {
    await pgc.query(script);
    assert.deepEqual((await pgc.query('SELECT a.note FROM s_a a JOIN s_b b ON b.a_id = a.id')).rows, [{ note: 'x' }]);
  } finally {
    await pgc.end();
  }
  const my = await mySide.connect(myEp.port, { user: 'owner', database: mydb.name });
  try {
    await my.query(script);
    const [rows] = await my.query('SELECT a.note FROM s_a a JOIN s_b b ON b.a_id = a.id');
    assert.deepEqual(rows, [{ note: 'x' }]);
  } finally {
    await my.end();
  }
});

test('PostgreSQL: a table created inside a transaction is usable by the statements after it, in both protocols', async () => {
  const c = await pgSide.pgThrough(pgEp.url('alice', pgdb.name));
  try {
    await c.query('BEGIN');
    await c.query('CREATE TABLE mine_txn (id int, note text)');
    await c.query("INSERT INTO mine_txn VALUES (1, 'a')");
    await c.query('CREATE INDEX ON mine_txn (note)');
    await c.query('INSERT INTO mine_txn VALUES ($1, $2)', [2, 'b']);
    await c.query('ALTER TABLE mine_txn ADD COLUMN extra int');
    assert.deepEqual((await c.query('SELECT id, note, extra FROM mine_txn ORDER BY id')).rows, [{ id: 1, note: 'a', extra: null }, { id: 2, note: 'b', extra: null }]);
    await c.query('COMMIT');
    assert.deepEqual((await c.query('SELECT count(*)::int AS n FROM mine_txn')).rows, [{ n: 2 }]);
    // The session's own catalog is judged under the same policy. (A refusal is an error: the transaction is aborted, as by any.)
    await c.query('BEGIN');
    await c.query('CREATE TABLE mine_txn2 (id int)');
    await c.query('SELECT id FROM mine_txn2');
    await assert.rejects(c.query('SELECT secret FROM items'), refusedForSecret);
    await assert.rejects(c.query('SELECT id FROM mine_txn2'), /current transaction is aborted/);
    await c.query('ROLLBACK');
  } finally {
    await c.end();
  }
});

test('PostgreSQL: a knex-style migration in one transaction, lock table included', async () => {
  const c = await pgSide.pgThrough(pgEp.url('alice', pgdb.name));
  try {
    await c.query('CREATE TABLE mine_migrations_lock (index serial PRIMARY KEY, is_locked int)');
    await c.query('INSERT INTO mine_migrations_lock (is_locked) VALUES (0)');
    await c.query('BEGIN');
    await c.query('UPDATE mine_migrations_lock SET is_locked = $1 WHERE is_locked = 0', [1]);
    await c.query('CREATE TABLE mine_accounts (id serial PRIMARY KEY, email text NOT NULL UNIQUE)');
    await c.query('CREATE TABLE mine_sessions (id bigserial PRIMARY KEY, account_id int REFERENCES mine_accounts (id), token text)');
    await c.query('CREATE INDEX mine_sessions_token ON mine_sessions (token)');
    await c.query("INSERT INTO mine_accounts (email) VALUES ('a@example.com')");
    await c.query('ALTER TABLE mine_sessions RENAME TO mine_user_sessions');
    // knex frees its lock without a WHERE: allowed on this table only (unqualified_dml_tables).
    await c.query('UPDATE mine_migrations_lock SET is_locked = $1', [0]);
    await assert.rejects(c.query('DELETE FROM mine_accounts'), /no-unqualified-dml/);
    await c.query('ROLLBACK');
    await c.query('BEGIN');
    await c.query('CREATE TABLE mine_accounts (id serial PRIMARY KEY)');
    await c.query('UPDATE mine_migrations_lock SET is_locked = $1', [0]);
    await c.query('COMMIT');
    assert.deepEqual((await c.query('SELECT count(*)::int AS n FROM mine_accounts')).rows, [{ n: 0 }]);
  } finally {
    await c.end();
  }
});

test('PostgreSQL: the transaction catalog is read from pg_catalog, whatever the session put before it', async () => {
  const c = await pgSide.pgThrough(pgEp.url('alice', pgdb.name));
  try {
    await c.query('BEGIN');
    // On the client's own session a temporary table comes before pg_catalog for unqualified names.
    await c.query('CREATE TEMP TABLE pg_class (oid oid, relname name, relkind "char", reltuples real, relnamespace oid)');
    await c.query('CREATE TABLE mine_shadow (id int)');
    await c.query('INSERT INTO mine_shadow VALUES (1)');
    assert.deepEqual((await c.query('SELECT name FROM items')).rows, [{ name: 'x' }]);
    await assert.rejects(c.query('SELECT secret FROM items'), refusedForSecret);
    await c.query('ROLLBACK');
  } finally {
    await c.end();
  }
});

test('PostgreSQL: reading the transaction catalog leaves the session\'s settings as they were (SET LOCAL ends with the transaction)', async () => {
  const c = await pgSide.pgThrough(pgEp.url('alice', pgdb.name));
  try {
    const before = (await c.query('SHOW search_path')).rows[0].search_path;
    await c.query('BEGIN');
    await c.query('SET LOCAL search_path = public, pg_catalog');
    await c.query('CREATE TABLE mine_local (id int)');
    // A view makes the loader print view definitions with an empty search_path, and put the path back.
    await c.query('CREATE VIEW mine_local_v AS SELECT id FROM mine_local');
    await c.query('SELECT id FROM mine_local_v');
    assert.equal((await c.query('SHOW search_path')).rows[0].search_path, 'public, pg_catalog');
    await c.query('COMMIT');
    assert.equal((await c.query('SHOW search_path')).rows[0].search_path, before);
  } finally {
    await c.end();
  }
});

test('PostgreSQL: ROLLBACK TO SAVEPOINT takes back what the transaction catalog shows', async () => {
  const c = await pgSide.pgThrough(pgEp.url('alice', pgdb.name));
  try {
    await c.query('BEGIN');
    await c.query('CREATE TABLE mine_kept (id int)');
    await c.query('SAVEPOINT s');
    await c.query('CREATE TABLE mine_undone (id int)');
    await c.query('SELECT id FROM mine_undone');
    await c.query('ROLLBACK TO SAVEPOINT s');
    // sqlgate refuses the name itself: the server never sees the statement.
    await assert.rejects(c.query('SELECT id FROM mine_undone'), (e: Error) => unknownName.test(e.message) && /sqlgate/.test(e.message));
    await c.query('ROLLBACK TO SAVEPOINT s'); // the refusal aborted the transaction
    await c.query('SELECT id FROM mine_kept');
    await c.query('ROLLBACK');
    await assert.rejects(c.query('SELECT id FROM mine_kept'), (e: Error) => unknownName.test(e.message));
  } finally {
    await c.end();
  }
});

test('PostgreSQL: a statement pipelined after DDL without a Sync between is refused; after a Sync it runs', async () => {
  const raw = await RawClient.open(pgEp.port, 'bob', pgdb.name, pgSide.PASSWORD);
  try {
    const text = (b: Buffer) => b.toString('latin1');
    await raw.simple('BEGIN');
    const answer = text(await raw.roundTrip(
      serialize.parse({ text: 'CREATE TABLE mine_piped (id int)' }), serialize.bind({}), serialize.execute({}),
      serialize.parse({ text: 'INSERT INTO mine_piped VALUES (1)' }), serialize.bind({}), serialize.execute({}),
      serialize.sync(),
    ));
    assert.match(answer, /send Sync before it/);
    await raw.simple('ROLLBACK');
    await raw.simple('BEGIN');
    const synced = text(await raw.roundTrip(
      serialize.parse({ text: 'CREATE TABLE mine_piped (id int)' }), serialize.bind({}), serialize.execute({}), serialize.sync(),
      serialize.parse({ text: 'INSERT INTO mine_piped VALUES (1)' }), serialize.bind({}), serialize.execute({}), serialize.sync(),
    )) + text(await raw.roundTrip()); // two Syncs, two ReadyForQuery
    assert.doesNotMatch(synced, /sqlgate/);
    assert.match(synced, /INSERT 0 1/);
    assert.match(text(await raw.simple('SELECT count(*) FROM mine_piped')), /SELECT 1/);
    await raw.simple('ROLLBACK');
  } finally {
    raw.close();
  }
});
