import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createPgDatabase, pgConnect, pgUrl, serverInfo, type TempDatabase } from '../../helpers/db.js';
import { UpstreamSessionPool } from '../../../proxy/postgres/upstream-pool.js';
import { startEndpoint, testGate, type Endpoint } from './setup.js';
import { until } from '../../helpers/until.js';

// A client that leaves its upstream connection idle hands it, reset, to the
// next login of the same user with the same startup parameters; anything
// else closes it.

let db: TempDatabase;
let ep: Endpoint;

before(async () => {
  db = await createPgDatabase('pgreuse', 'CREATE TABLE t (id int PRIMARY KEY, v text)');
  ep = await startEndpoint(testGate(db.name));
});
after(async () => {
  await ep?.close();
  await db?.drop();
});

/** A pg client through sqlgate that also records the ParameterStatus values it was sent at login. */
async function client(user: string, extra: pg.ClientConfig = {}): Promise<{ c: pg.Client; status: Map<string, string> }> {
  const c = new pg.Client({ connectionString: ep.url(user, db.name), ...extra });
  const status = new Map<string, string>();
  (c as unknown as { connection: { on(e: string, f: (m: { parameterName: string; parameterValue: string }) => void): void } })
    .connection.on('parameterStatus', (m) => status.set(m.parameterName, m.parameterValue));
  await c.connect();
  return { c, status };
}

const pidOf = async (c: pg.Client): Promise<number> => (await c.query('SELECT pg_backend_pid() AS p')).rows[0].p as number;

test('an idle connection is reset (DISCARD ALL) and serves the next login of the same user', async () => {
  const pool = ep.handle.upstreams;
  const a = await client('alice');
  const pid = await pidOf(a.c);
  await a.c.query("SET application_name = 'left behind'");
  await a.c.query("SET statement_timeout = '4321'");
  await a.c.query('CREATE TEMP TABLE scratch (x int)');
  await a.c.query('PREPARE leftover AS SELECT 1');
  await a.c.query('SELECT pg_advisory_lock(4242)');
  await a.c.end();
  await until('the connection went back to the pool', () => pool.size === 1);

  const reused = pool.reused;
  const b = await client('alice');
  assert.equal(await pidOf(b.c), pid, 'the same server backend');
  assert.equal(pool.reused, reused + 1);
  assert.equal(b.status.get('application_name'), '', 'the login reports the reset value, not the last client\'s');
  assert.equal((await b.c.query('SHOW application_name')).rows[0].application_name, '');
  assert.equal((await b.c.query('SHOW statement_timeout')).rows[0].statement_timeout, '0');
  assert.equal((await b.c.query("SELECT to_regclass('scratch') AS r")).rows[0].r, null, 'temporary table dropped');
  assert.equal(Number((await b.c.query('SELECT count(*) AS n FROM pg_prepared_statements')).rows[0].n), 0, 'prepared statements gone');
  const direct = await pgConnect(db.url);
  try {
    assert.equal((await direct.query('SELECT pg_try_advisory_lock(4242) AS got')).rows[0].got, true, 'advisory lock released');
  } finally {
    await direct.end();
  }
  await b.c.end();
  await until('back in the pool', () => pool.size === 1);
});

test('a connection left inside a transaction or in the middle of a statement is closed, not reused', async () => {
  const pool = ep.handle.upstreams;
  await until('nothing pending from the last test', () => pool.size <= 1);
  const a = await client('alice');
  const pid = await pidOf(a.c);
  await a.c.query('BEGIN');
  await a.c.query("INSERT INTO t VALUES (1, 'uncommitted')");
  await a.c.end();
  const b = await client('alice');
  assert.notEqual(await pidOf(b.c), pid, 'not the backend left in a transaction');
  assert.equal((await b.c.query('SELECT count(*)::int AS n FROM t')).rows[0].n, 0, 'its transaction was rolled back with it');

  const pidB = await pidOf(b.c);
  b.c.on('error', () => undefined);
  const sleeping = b.c.query('SELECT pg_sleep(30)').catch(() => undefined);
  await new Promise((r) => setTimeout(r, 200));
  (b.c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
  await sleeping;
  const c = await client('alice');
  assert.notEqual(await pidOf(c.c), pidB, 'not the backend still running the statement');
  await c.c.end();
});

test('connections are not shared across users or startup parameters, and one the server closed is not handed out', async () => {
  const pool = ep.handle.upstreams;
  const a = await client('alice');
  const pid = await pidOf(a.c);
  await a.c.end();
  await until('alice\'s connection is pooled', () => pool.size >= 1);
  const bob = await client('bob');
  assert.notEqual(await pidOf(bob.c), pid, 'another sqlgate user gets a connection of its own');
  await bob.c.end();
  const named = await client('alice', { application_name: 'other-app' });
  assert.notEqual(await pidOf(named.c), pid, 'other startup parameters, another login');
  await named.c.end();

  // The server ends the idle pooled connection: the next login gets a fresh one that works.
  const direct = await pgConnect(db.url);
  try {
    await direct.query('SELECT pg_terminate_backend($1)', [pid]);
  } finally {
    await direct.end();
  }
  await new Promise((r) => setTimeout(r, 200));
  const again = await client('alice');
  assert.notEqual(await pidOf(again.c), pid);
  assert.equal((await again.c.query('SELECT 41 + 1 AS n')).rows[0].n, 42);
  await again.c.end();
});

test('the pool keeps at most its bound of idle connections in all, and closes the rest', async () => {
  const up = serverInfo(pgUrl());
  const target = { instance: 'pg1', protocol: 'postgres' as const, host: up.host, port: up.port, user: up.user, password: up.password || undefined, database: db.name, tls: undefined };
  const pool = new UpstreamSessionPool({ maxIdle: 1 });
  try {
    const s1 = await pool.acquire('alice', target, { database: db.name });
    const s2 = await pool.acquire('bob', target, { database: db.name });
    pool.release(s1);
    pool.release(s2);
    const ended = (s: typeof s1) => s.socket.writableEnded || s.socket.destroyed;
    await until('one kept, one closed', () => pool.size === 1 && (ended(s1) || ended(s2)));
    assert.ok(ended(s1) !== ended(s2), 'exactly one closed');
  } finally {
    pool.close();
  }
});
