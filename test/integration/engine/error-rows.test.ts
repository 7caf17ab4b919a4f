/**
 * Integrity errors print rows: PostgreSQL's "Failing row contains (…)" and
 * "Key (…)=(…) already exists" name every value of the row or key, columns
 * the user may not read included. Through sqlgate that detail is replaced
 * unless the user could read everything; MySQL's 'Duplicate entry' names the
 * key's values, which are hidden likewise. Real servers; node-postgres and
 * mysql2 in each protocol.
 *
 * `dev` may read `id` and `name` of `items` and update `name`; `owner` may
 * do anything. `secret` holds 'TOPSECRET' and is part of a unique key.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as pgSide from '../postgres/setup.js';
import * as mySide from '../mysql/helpers.js';
import { startTwoDoors, type TwoDoors } from './two-doors.js';

const SETUP = 'CREATE TABLE items (id int PRIMARY KEY, name varchar(20) NOT NULL CHECK (length(name) < 10), secret varchar(20), UNIQUE (name, secret)); '
  + "INSERT INTO items VALUES (1, 'x', 'TOPSECRET'), (2, 'y', 'TOPSECRET')";
const KINDS = ['select', 'update', 'transaction', 'use', 'set', 'show'];
const roles = (database: string) => ({
  owner: { grants: [{ privileges: ['all'] }], statement_kinds: KINDS },
  dev: {
    grants: [
      { database, table: 'items', columns: ['id', 'name'], privileges: ['select'] },
      { database, table: 'items', columns: ['name'], privileges: ['update'] },
    ],
    statement_kinds: KINDS,
  },
});

let doors: TwoDoors;
before(async () => { doors = await startTwoDoors('errrows', { pg: SETUP, mysql: SETUP }, roles); });
after(async () => { await doors?.close(); });

type PgError = Error & { code?: string; detail?: string; constraint?: string; table?: string };

async function failure(run: () => Promise<unknown>): Promise<PgError> {
  try {
    await run();
  } catch (e) {
    return e as PgError;
  }
  assert.fail('the statement should have failed');
}

test('PostgreSQL: an integrity error shows its row only to a user who could read everything', async () => {
  const dev = await pgSide.pgThrough(doors.pgEp.url('alice', doors.pgdb.name));
  const owner = await pgSide.pgThrough(doors.pgEp.url('bob', doors.pgdb.name));
  try {
    const cases: [string, unknown[], string][] = [
      ['UPDATE items SET name = NULL WHERE id = 1', [], '23502'],
      ["UPDATE items SET name = 'waytoolongname' WHERE id = 1", [], '23514'],
      ["UPDATE items SET name = 'y' WHERE id = 1", [], '23505'],
      // The extended protocol, as drivers send parameters.
      ['UPDATE items SET name = $1 WHERE id = $2', ['y', 1], '23505'],
    ];
    for (const [sql, params, code] of cases) {
      const e = await failure(() => dev.query(sql, params));
      assert.equal(e.code, code, sql);
      assert.match(e.detail ?? '', /values of the row are hidden/, sql);
      assert.doesNotMatch(`${e.message} ${e.detail}`, /TOPSECRET/, sql);
      // The fields ORMs map errors by stay.
      assert.equal(e.table, 'items', sql);
      const o = await failure(() => owner.query(sql, params));
      assert.match(o.detail ?? '', /TOPSECRET/, `${sql}: the owner sees the row`);
    }
    assert.equal((await failure(() => dev.query("UPDATE items SET name = 'y' WHERE id = 1"))).constraint, 'items_name_secret_key');
    // Inside a transaction the next statement still meets the aborted transaction, as without sqlgate.
    await dev.query('BEGIN');
    await failure(() => dev.query('UPDATE items SET name = NULL WHERE id = 1'));
    await assert.rejects(dev.query('SELECT name FROM items'), /current transaction is aborted/);
    await dev.query('ROLLBACK');
    assert.deepEqual((await dev.query('SELECT name FROM items ORDER BY id')).rows, [{ name: 'x' }, { name: 'y' }]);
  } finally {
    await dev.end();
    await owner.end();
  }
});

test("MySQL: a duplicate key's values are hidden from a user who may not read them all, in every protocol path", async () => {
  const dev = await mySide.connect(doors.myEp.port, { user: 'dev', database: doors.mydb.name, multipleStatements: true });
  const owner = await mySide.connect(doors.myEp.port, { user: 'owner', database: doors.mydb.name });
  type MyError = Error & { errno?: number; sqlState?: string };
  const hidden = (e: MyError, what: string) => {
    assert.equal(e.errno, 1062, what);
    assert.equal(e.sqlState, '23000', what);
    assert.doesNotMatch(e.message, /TOPSECRET/, what);
    assert.match(e.message, /values are hidden by sqlgate.*for key 'name'/, what);
  };
  try {
    hidden(await failure(() => dev.query("UPDATE items SET name = 'y' WHERE id = 1")) as MyError, 'text protocol');
    hidden(await failure(() => dev.execute('UPDATE items SET name = ? WHERE id = ?', ['y', 1])) as MyError, 'prepared statement');
    hidden(await failure(() => dev.query("SELECT 1; UPDATE items SET name = 'y' WHERE id = 1")) as MyError, 'second statement of a message');
    const o = await failure(() => owner.query("UPDATE items SET name = 'y' WHERE id = 1")) as MyError;
    assert.match(o.message, /Duplicate entry 'y-TOPSECRET'/, 'the owner sees the key');
    const [rows] = await dev.query('SELECT name FROM items ORDER BY id');
    assert.deepEqual(rows, [{ name: 'x' }, { name: 'y' }]);
  } finally {
    await dev.end();
    await owner.end();
  }
});
