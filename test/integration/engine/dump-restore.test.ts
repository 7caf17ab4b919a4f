/**
 * Dump files restored through sqlgate with the database's own client, as a
 * user would: pg_dump's with psql, mysqldump's with mariadb. A mysqldump
 * file saves the session's settings in user variables at
 * its start and restores them from those variables at its end
 * (`/*!40101 SET SQL_MODE=@OLD_SQL_MODE *\/`). The value a setting is
 * restored to is read and judged, so a variable holding a mode sqlgate
 * cannot read by is still refused, however the statement is spelled.
 *
 * `owner` (bob on PostgreSQL) may do anything; `dev` may set things and
 * read `items` only.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mysqlUrl, pgConnect, pgUrl, withDatabase } from '../../helpers/db.js';
import { urlParts } from '../../../proxy/embedded-servers.js';
import { startTwoDoors, type TwoDoors } from './two-doors.js';
import * as mySide from '../mysql/helpers.js';
import * as pgSide from '../postgres/setup.js';

const KINDS = ['select', 'insert', 'update', 'delete', 'ddl', 'use', 'set', 'show', 'transaction', 'lock', 'copy'];
const roles = (database: string) => ({
  owner: { grants: [{ privileges: ['all'] }], statement_kinds: KINDS },
  dev: { grants: [{ database, table: 'items', privileges: ['select'] }], statement_kinds: KINDS },
});
const SETUP = "CREATE TABLE items (id int PRIMARY KEY, secret varchar(20)); INSERT INTO items VALUES (1, 'TOPSECRET'), (2, 'b''c'), (3, NULL)";
const refused = /untracked-setting/;

let doors: TwoDoors;
before(async () => {
  doors = await startTwoDoors('restore', { pg: SETUP, mysql: SETUP }, roles);
});
after(async () => {
  await doors?.close();
});

type MyConn = Awaited<ReturnType<typeof mySide.connect>>;

async function value(c: MyConn, expr: string): Promise<unknown> {
  const [rows] = await c.query(`SELECT ${expr} AS v`);
  return (rows as { v: unknown }[])[0].v;
}

function pgDump(database: string): string {
  const u = urlParts(pgUrl());
  const r = spawnSync('pg_dump', ['-h', u.host, '-p', String(u.port), '-U', u.user, database], { encoding: 'utf8', env: { ...process.env, ...(u.password ? { PGPASSWORD: u.password } : {}) } });
  assert.equal(r.status, 0, `pg_dump failed (is the postgresql-client package installed?): ${r.stderr}`);
  return r.stdout;
}

function dump(database: string): string {
  const u = urlParts(mysqlUrl());
  const r = spawnSync('mariadb-dump', [`-h${u.host}`, `-P${u.port}`, `-u${u.user}`, ...(u.password ? [`-p${u.password}`] : []), database], { encoding: 'utf8' });
  assert.equal(r.status, 0, `mariadb-dump failed (is the mariadb-client package installed?): ${r.stderr}`);
  return r.stdout;
}

test('a pg_dump file restores through sqlgate with psql', async () => {
  const text = pgDump(doors.pgdb.name);
  assert.match(text, /set_config\('search_path', '', false\)/);
  assert.match(text, /COPY public\.items/);
  const direct = await pgConnect(withDatabase(pgUrl(), doors.pgdb.name));
  try {
    await direct.query('DROP TABLE items');
  } finally {
    await direct.end();
  }
  const r = await pgSide.psqlResult(doors.pgEp.url('bob', doors.pgdb.name), [], text);
  assert.equal(r.status, 0, r.stderr);
  const c = await pgSide.pgThrough(doors.pgEp.url('bob', doors.pgdb.name));
  try {
    const { rows } = await c.query('SELECT id, secret FROM items ORDER BY id');
    assert.deepEqual(rows, [{ id: 1, secret: 'TOPSECRET' }, { id: 2, secret: "b'c" }, { id: 3, secret: null }]);
  } finally {
    await c.end();
  }
});

test('a mysqldump file restores through sqlgate with the mariadb client, its settings put back', async () => {
  const text = dump(doors.mydb.name);
  // What makes the file a test of this: it saves settings and restores them from variables.
  assert.match(text, /SET SQL_MODE=@OLD_SQL_MODE/);
  assert.match(text, /SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT/);
  const r = await mySide.mariadbCli(doors.myEp.port, ['-uowner', `-p${mySide.PASSWORD}`, doors.mydb.name], text);
  assert.equal(r.code, 0, r.stderr);
  const c = await mySide.connect(doors.myEp.port, { user: 'owner', database: doors.mydb.name });
  try {
    const [rows] = await c.query('SELECT id, secret FROM items ORDER BY id');
    assert.deepEqual(rows, [{ id: 1, secret: 'TOPSECRET' }, { id: 2, secret: "b'c" }, { id: 3, secret: null }]);
    // The same pattern on one session: the mode and character set come back as they were.
    const mode = await value(c, '@@SESSION.sql_mode');
    await c.query("/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */");
    await c.query('/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */');
    await c.query('/*!40101 SET NAMES latin1 */');
    assert.equal(await value(c, '@@SESSION.sql_mode'), 'NO_AUTO_VALUE_ON_ZERO');
    await c.query('/*!40101 SET SQL_MODE=@OLD_SQL_MODE */');
    await c.query('SET @@SESSION.character_set_client = @OLD_CHARACTER_SET_CLIENT');
    assert.equal(await value(c, '@@SESSION.sql_mode'), mode);
    assert.equal(await value(c, '@@SESSION.character_set_client'), 'utf8mb4');
  } finally {
    await c.end();
  }
});

test('a setting restored from a variable is judged on the value the variable holds', async () => {
  const c = await mySide.connect(doors.myEp.port, { user: 'dev', database: doors.mydb.name });
  try {
    const mode = await value(c, '@@SESSION.sql_mode');
    await c.query("SET @m = 'ANSI_QUOTES', @a = 'STRICT_TRANS_TABLES,ANSI', @c = 'gbk', @n = NULL, @q = 'x'' ANSI_QUOTES', @num = 4");
    for (const sql of [
      'SET sql_mode = @m',
      'SET SESSION sql_mode=@a;',
      '/*!40101 SET SQL_MODE=@m */',
      '/*!40101 SET SQL_MODE=@a */;',
      'set @@sql_mode = @M',
      'SET sql_mode = @q',
      'SET sql_mode = @num',
      'SET sql_mode = @n',
      'SET sql_mode = @m, autocommit = 1',
      'SET sql_mode = @m /* the rest */',
      'SET character_set_client = @c',
      'SET character_set_connection = @c',
      'SET @@SESSION.character_set_client = @n',
    ]) {
      await assert.rejects(c.query(sql), refused, sql);
    }
    // Comments a server may skip are not read as the SET they hold: MySQL ignores /*M!, and a
    // MySQL 5.6 would skip /*!50711; the statement is judged as written, and refused unread,
    // even with a value that would pass.
    await c.query("SET @OLD_SQL_MODE = 'STRICT_TRANS_TABLES'");
    for (const sql of ['/*M!100101 SET SQL_MODE=@OLD_SQL_MODE */', '/*!50711 SET sql_mode = @OLD_SQL_MODE */', '/*!40101 SET sql_mode = @OLD_SQL_MODE', 'SET sql_mode = @OLD_SQL_MODE */']) {
      await assert.rejects(c.query(sql), /unparsed-statement|untracked-setting|syntax/, sql);
    }
    assert.equal(await value(c, '@@SESSION.sql_mode'), mode);
    assert.equal(await value(c, '@@SESSION.character_set_client'), 'utf8mb4');
    // "secret" is still a string to the server, as sqlgate read it.
    const [rows] = await c.query('SELECT "secret" AS v FROM items WHERE id = 1');
    assert.deepEqual(rows, [{ v: 'secret' }]);
  } finally {
    await c.end();
  }
});
