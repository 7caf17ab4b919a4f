/**
 * Settings through both doors, against the real servers: a setting that
 * would make the server read text differently from sqlgate is refused by
 * every spelling, settings that reach past the session need a user who
 * could read everything, and when the server reports such a mode anyway
 * (a function set it), the session ends instead of going on misread.
 *
 * `dev` may set things and read `items` but not everything; `owner` may do
 * anything.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { TempDatabase } from '../../helpers/db.js';
import * as pgSide from '../postgres/setup.js';
import { startTwoDoors, type TwoDoors } from './two-doors.js';
import * as mySide from '../mysql/helpers.js';

let pgdb: TempDatabase;
let mydb: TempDatabase;
let pgEp: pgSide.Endpoint;
let myEp: mySide.Endpoint;

const KINDS = ['select', 'insert', 'update', 'delete', 'ddl', 'use', 'set', 'show', 'transaction', 'prepare', 'execute'];
const roles = (database: string) => ({
  owner: { grants: [{ privileges: ['all'] }], statement_kinds: KINDS, procedures: ['*'] },
  dev: { grants: [{ database, table: 'items', privileges: ['select'] }], statement_kinds: KINDS },
});
const SETUP = "CREATE TABLE items (id int PRIMARY KEY, secret varchar(20)); INSERT INTO items VALUES (1, 'TOPSECRET')";
const refused = /untracked-setting/;

let doors: TwoDoors;
before(async () => {
  doors = await startTwoDoors('settings', { pg: SETUP, mysql: SETUP }, roles);
  ({ pgdb, mydb, pgEp, myEp } = doors);
});
after(async () => {
  await doors?.close();
});

async function myValue(c: Awaited<ReturnType<typeof mySide.connect>>, expr: string): Promise<string> {
  const [rows] = await c.query(`SELECT ${expr} AS v`);
  return String((rows as { v: unknown }[])[0].v);
}

test('MySQL: sql_mode by any spelling that would change how text is read is refused, and the mode stays', async () => {
  const c = await mySide.connect(myEp.port, { user: 'dev', database: mydb.name });
  try {
    const before = await myValue(c, '@@SESSION.sql_mode');
    for (const sql of [
      'SET sql_mode = 4',
      "SET sql_mode = 'ANSI_' 'QUOTES'",
      'SET sql_mode = 0x414E53495F51554F544553',
      "SET autocommit = 1, sql_mode = 'ORACLE'",
      "SET @@session.sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')",
      "SET sql_mode = 'PIPES_AS_CONCAT'",
    ]) {
      await assert.rejects(c.query(sql), refused, sql);
    }
    assert.equal(await myValue(c, '@@SESSION.sql_mode'), before);
    // "secret" is still a string here, as sqlgate read it.
    assert.equal(await myValue(c, '"secret"'), 'secret');
    // What MariaDB Connector/J and Rails send goes through and takes effect.
    await c.query("set autocommit=1, sql_mode = concat(@@sql_mode,',STRICT_TRANS_TABLES')");
    await c.query("SET @@SESSION.sql_mode = CONCAT(CONCAT(@@sql_mode, ',STRICT_ALL_TABLES'), ',NO_AUTO_VALUE_ON_ZERO')");
    const now = (await myValue(c, '@@SESSION.sql_mode')).split(',');
    for (const m of ['STRICT_TRANS_TABLES', 'STRICT_ALL_TABLES', 'NO_AUTO_VALUE_ON_ZERO']) assert.ok(now.includes(m), `${m} in ${now}`);
  } finally {
    await c.end();
  }
});

test('MySQL: settings past the session need a user who reads everything', async () => {
  // Each statement sets what is already there: were a refusal ever to fail,
  // the shared test server would be left as it was.
  const c = await mySide.connect(myEp.port, { user: 'dev', database: mydb.name });
  try {
    const current = await myValue(c, '@@GLOBAL.max_connections');
    await assert.rejects(c.query(`SET GLOBAL max_connections = ${current}`), /every session/);
    await assert.rejects(c.query(`SET autocommit = 1, @@global.max_connections = ${current}`), /every session/);
    await assert.rejects(c.query('SET sql_log_bin = 1'), /logs or replicates/);
  } finally {
    await c.end();
  }
  const owner = await mySide.connect(myEp.port, { user: 'owner', database: mydb.name });
  try {
    await owner.query('SET sql_log_bin = 1');
  } finally {
    await owner.end();
  }
});

test("PostgreSQL: the server's own logging is the owner's to change; a string mode the server reports ends the session", async () => {
  const c = await pgSide.pgThrough(pgEp.url('alice', pgdb.name));
  try {
    await assert.rejects(c.query("SET log_statement = 'none'"), /logs or replicates/);
    await assert.rejects(c.query('SET standard_conforming_strings TO DEFAULT'), refused);
    await c.query('RESET client_encoding');
    assert.deepEqual((await c.query('SELECT secret FROM items')).rows, [{ secret: 'TOPSECRET' }]);
  } finally {
    await c.end();
  }
  // A function turns it off where no SET is seen: the server reports the
  // change, and sqlgate ends that session rather than misread its strings.
  const owner = await pgSide.pgThrough(pgEp.url('bob', pgdb.name));
  owner.on('error', () => undefined);
  await owner.query("CREATE FUNCTION strings_off() RETURNS text LANGUAGE sql AS $$ SELECT set_config('standard_conforming_strings', 'off', false) $$");
  await assert.rejects(owner.query('SELECT strings_off()'), /standard_conforming_strings off/);
  await assert.rejects(owner.query('SELECT 1'));
  await owner.end().catch(() => undefined);
  const again = await pgSide.pgThrough(pgEp.url('alice', pgdb.name));
  try {
    assert.equal((await again.query('SHOW standard_conforming_strings')).rows[0].standard_conforming_strings, 'on');
  } finally {
    await again.end();
  }
});

test('PostgreSQL: set_config alone is a SET: pg_dump\'s empty search_path and application settings work, the rest is judged', async () => {
  const c = await pgSide.pgThrough(pgEp.url('alice', pgdb.name));
  try {
    // How every pg_dump file begins.
    await c.query("SELECT pg_catalog.set_config('search_path', '', false)");
    await assert.rejects(c.query('SELECT secret FROM items'), /unknown table/);
    assert.deepEqual((await c.query('SELECT secret FROM public.items')).rows, [{ secret: 'TOPSECRET' }]);
    // Row-security tenants, set per transaction with a parameter.
    await c.query('BEGIN');
    assert.deepEqual((await c.query("SELECT set_config('app.tenant', $1, true) AS v", ['42'])).rows, [{ v: '42' }]);
    assert.deepEqual((await c.query("SELECT current_setting('app.tenant') AS v")).rows, [{ v: '42' }]);
    await c.query('COMMIT');
    // Same shape as the allowed one above, other literals: judged on its own, not by the digest.
    await c.query("SELECT set_config('app.other', 'x', false)");
    await assert.rejects(c.query("SELECT set_config('standard_conforming_strings', 'off', false)"), /must stay on/);
    await assert.rejects(c.query("SELECT set_config('log_statement', 'none', false)"), /logs or replicates/);
    assert.deepEqual((await c.query('SHOW standard_conforming_strings')).rows, [{ standard_conforming_strings: 'on' }]);
  } finally {
    await c.end();
  }
});

test('PostgreSQL extended protocol: a statement that may change search_path is followed once it runs, and a mere word does not refuse it', async () => {
  const c = await pgSide.pgThrough(pgEp.url('alice', pgdb.name));
  try {
    // node-postgres sends Parse, Bind, Execute and Sync together: the word
    // `role` (a column name in many schemas) once refused the statement itself.
    assert.deepEqual((await c.query('SELECT $1::text AS role', ['x'])).rows, [{ role: 'x' }]);
    assert.deepEqual((await c.query('SELECT secret AS role FROM items WHERE id = $1', [1])).rows, [{ role: 'TOPSECRET' }]);
    // A named statement runs through the extended protocol; what comes after it is judged under the path it set.
    await c.query({ name: 'empty_path', text: "SELECT pg_catalog.set_config('search_path', '', false)" });
    await assert.rejects(c.query('SELECT secret FROM items'), /sqlgate: unknown table/);
    assert.deepEqual((await c.query('SELECT secret FROM public.items')).rows, [{ secret: 'TOPSECRET' }]);
  } finally {
    await c.end();
  }
});
