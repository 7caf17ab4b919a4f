/**
 * Command phase against the real MariaDB through sqlgate with a TestGate:
 * refusals keep the session usable, a refused multi-statement runs nothing,
 * prepared statements are judged at prepare, USE / COM_INIT_DB are tracked,
 * KILL is limited to one's own sessions, LOCAL INFILE is refused, pooled
 * upstream connections are reset, and audit records match statements one to one.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createMysqlDatabase, mysqlConnect, type TempDatabase } from '../../helpers/db.js';
import { PASSWORD, connect, mariadbCli, startEndpoint, statements, type Endpoint } from './helpers.js';

let ep: Endpoint;
let db: TempDatabase;
let db2: TempDatabase;

before(async () => {
  db = await createMysqlDatabase('mysqlep', 'CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO t VALUES (1, \'a\'), (2, \'b\'), (3, \'c\')');
  db2 = await createMysqlDatabase('mysqlep2', 'CREATE TABLE t (id INT PRIMARY KEY, other INT); INSERT INTO t VALUES (10, 1)');
  ep = await startEndpoint({
    deny: [
      { pattern: /^\s*DELETE\s+FROM\s+\S+\s*$/i, code: 'UNQUALIFIED_DML', rule: 'no-unqualified-dml', message: 'sqlgate: DELETE without WHERE is refused [rule no-unqualified-dml]' },
      { pattern: /\bsecret\b/i, code: 'COLUMN_ACCESS_DENIED', rule: 'column-acl', message: 'sqlgate: column secret is not granted [rule column-acl]' },
    ],
  });
});
after(async () => {
  await ep.close();
  await db.drop();
  await db2.drop();
});

async function count(database: string): Promise<number> {
  const c = await mysqlConnect();
  try {
    const [rows] = await c.query(`SELECT COUNT(*) AS n FROM \`${database}\`.t`);
    return Number((rows as { n: number }[])[0].n);
  } finally {
    await c.end();
  }
}

test('a refused statement gets the decision\'s errno/SQLSTATE/message and the session stays usable', async () => {
  const c = await connect(ep.port, { database: db.name });
  try {
    await assert.rejects(c.query('DELETE FROM t'), (e: { errno: number; sqlState: string; message: string }) => {
      assert.equal(e.errno, 1175);
      assert.equal(e.sqlState, '42501');
      assert.equal(e.message, 'sqlgate: DELETE without WHERE is refused [rule no-unqualified-dml]');
      return true;
    });
    assert.equal(await count(db.name), 3, 'nothing was deleted');
    const [rows] = await c.query('SELECT v FROM t ORDER BY id');
    assert.deepEqual((rows as { v: string }[]).map((r) => r.v), ['a', 'b', 'c']);
    await assert.rejects(c.query('SELECT 1 AS secret'), (e: { errno: number }) => e.errno === 1143);
    const [again] = await c.query('SELECT COUNT(*) AS n FROM t');
    assert.equal(Number((again as { n: number }[])[0].n), 3);
  } finally {
    await c.end();
  }
});

test('multi-statement with one refused statement runs none of them (checked on the server)', async () => {
  const c = await connect(ep.port, { database: db.name });
  try {
    await assert.rejects(c.query('INSERT INTO t VALUES (100, \'x\'); DELETE FROM t; INSERT INTO t VALUES (101, \'y\')'), (e: { errno: number }) => e.errno === 1175);
    assert.equal(await count(db.name), 3);
    const [rows] = await c.query('SELECT id FROM t WHERE id >= 100');
    assert.equal((rows as unknown[]).length, 0);
    // an allowed multi-statement runs all of it, results relayed in order
    const [sets] = await c.query('SELECT 1 AS a; SELECT v FROM t WHERE id = 2; UPDATE t SET v = \'b\' WHERE id = 2');
    assert.equal((sets as unknown[]).length, 3);
  } finally {
    await c.end();
  }
});

test('prepared statements: refused at prepare; allowed ones run with parameters (binary protocol)', async () => {
  const c = await connect(ep.port, { database: db.name });
  try {
    await assert.rejects(c.execute('DELETE FROM t'), (e: { errno: number }) => e.errno === 1175);
    await assert.rejects(c.prepare('SELECT id AS secret FROM t WHERE id = ?'), (e: { errno: number }) => e.errno === 1143);
    assert.equal(await count(db.name), 3);
    const [rows] = await c.execute('SELECT id, v FROM t WHERE id > ? ORDER BY id', [1]);
    assert.deepEqual(rows, [{ id: 2, v: 'b' }, { id: 3, v: 'c' }]);
    // parameters never change the decision: a value that matches the deny pattern is just data
    const [none] = await c.execute('SELECT id FROM t WHERE v = ?', ['DELETE FROM t']);
    assert.deepEqual(none, []);
    const st = await c.prepare('SELECT v FROM t WHERE id = ?');
    const [r1] = await st.execute([3]);
    assert.deepEqual(r1, [{ v: 'c' }]);
    st.close();
    const [after] = await c.query('SELECT 2 AS two');
    assert.deepEqual(after, [{ two: 2 }]);
  } finally {
    await c.end();
  }
});

test('USE and COM_INIT_DB switch the database the gate sees and the server uses', async () => {
  const c = await connect(ep.port, { database: db.name });
  try {
    const before = statements(ep.gate).length;
    await c.query(`USE \`${db2.name}\``);
    const [rows] = await c.query('SELECT other FROM t');
    assert.deepEqual(rows, [{ other: 1 }], 'unqualified t is now the other database\'s');
    const ev = statements(ep.gate).slice(before);
    assert.equal(ev[0].database, db.name, 'USE was judged in the old database');
    assert.equal(ev[1].database, db2.name, 'the next statement is judged in the new one');
    // USE inside a multi-statement
    await c.query(`SELECT 1; USE \`${db.name}\``);
    const [rows2] = await c.query('SELECT COUNT(*) AS n FROM t');
    assert.equal(Number((rows2 as { n: number }[])[0].n), 3);
    assert.equal(statements(ep.gate).at(-1)?.database, db.name);
  } finally {
    await c.end();
  }
  // the mariadb CLI's `use` sends COM_INIT_DB
  const r = await mariadbCli(ep.port, ['-uboth', `-p${PASSWORD}`, db.name], `use ${db2.name}\nSELECT other FROM t;\nSELECT DATABASE();\n`);
  assert.equal(r.stderr, '');
  assert.deepEqual(r.stdout.trim().split('\n'), ['1', db2.name]);
  const initDb = ep.gate.events.filter((e) => e.detail?.command === 'COM_INIT_DB').at(-1);
  assert.equal(initDb?.sql, `USE \`${db2.name}\``);
  assert.equal(initDb?.decision, 'allowed');
});

test('audit: one record per statement — allowed, refused, failed upstream — with rows and durations', async () => {
  const c = await connect(ep.port, { database: db.name });
  const before = statements(ep.gate).length;
  try {
    await c.query('SELECT id FROM t');                                   // 1: allowed, 3 rows
    await assert.rejects(c.query('DELETE FROM t'));                      // 2: refused
    await assert.rejects(c.query('SELECT nosuchcolumn FROM t'));         // 3: failed upstream
    await c.query('UPDATE t SET v = v WHERE id <= 2');                   // 4: allowed, affected 0 (no change)
    await c.query('INSERT INTO t VALUES (50, \'z\'); DELETE FROM t WHERE id = 50'); // 5, 6: allowed, 1 + 1
    await c.execute('SELECT v FROM t WHERE id = ?', [1]);               // 7: prepare, 8: execute (1 row)
    await assert.rejects(c.query('SELECT 1; SELECT nosuch FROM t; SELECT 3')); // 9 ok, 10 failed, 11 not run
  } finally {
    await c.end();
  }
  const ev = statements(ep.gate).slice(before);
  assert.deepEqual(ev.map((e) => e.decision),
    ['allowed', 'refused', 'failed', 'allowed', 'allowed', 'allowed', 'allowed', 'allowed', 'allowed', 'failed', 'failed']);
  assert.equal(ev[0].rowsReturned, 3);
  assert.equal(ev[1].error?.code, 'UNQUALIFIED_DML');
  assert.deepEqual(ev[1].rules, ['no-unqualified-dml']);
  assert.match(ev[2].error?.message ?? '', /nosuchcolumn/);
  assert.equal(ev[4].rowsAffected, 1);
  assert.equal(ev[5].rowsAffected, 1);
  assert.equal(ev[4].sql, 'INSERT INTO t VALUES (50, \'z\')');
  assert.equal(ev[6].detail?.phase, 'prepare');
  assert.equal(ev[7].detail?.phase, 'execute');
  assert.equal(ev[7].rowsReturned, 1);
  assert.equal(ev[10].error?.code, 'NOT_RUN');
  assert.ok(ev.every((e) => e.user === 'both' && e.door === 'mysql' && e.instance === 'db1' && e.clientIp === '127.0.0.1'));
  assert.ok(ev.every((e) => typeof e.durationMs === 'number'));
});

test('KILL: only the user\'s own sessions, by the ids sqlgate handed out', async () => {
  const a = await connect(ep.port);
  const b = await connect(ep.port);
  const other = await connect(ep.port, { user: 'native' });
  try {
    const sleeping = a.query('SELECT SLEEP(20) AS s');
    await new Promise((r) => setTimeout(r, 300));
    await assert.rejects(other.query(`KILL QUERY ${a.threadId}`), (e: { errno: number }) => e.errno === 1094);
    const started = Date.now();
    await b.query(`KILL QUERY ${a.threadId}`);
    const [rows] = await sleeping.catch((e) => [[{ s: `error ${e.errno}` }]]) as [unknown[]];
    // MariaDB answers a killed SLEEP with 1 (interrupted) or error 1317
    assert.ok(Date.now() - started < 15_000);
    assert.ok(JSON.stringify(rows).match(/"s":(1|"1"|"error 1317")/), JSON.stringify(rows));
    const [ok] = await a.query('SELECT 5 AS five');
    assert.deepEqual(ok, [{ five: 5 }]);
    await b.query(`KILL ${a.threadId}`);
    await assert.rejects(a.query('SELECT 1'));
  } finally {
    a.destroy();
    await b.end();
    await other.end();
  }
});

test('LOAD DATA LOCAL INFILE is refused unless the policy allows it; nothing is loaded', async () => {
  const r = await mariadbCli(ep.port, ['-uboth', `-p${PASSWORD}`, '--local-infile=1', db.name, '-e', 'LOAD DATA LOCAL INFILE \'/etc/hostname\' INTO TABLE t (v)']);
  assert.match(r.stderr, /ERROR 1227 \(42501\).*LOAD DATA LOCAL INFILE is not allowed/);
  assert.equal(await count(db.name), 3);
  const c = await connect(ep.port, { database: db.name });
  const [rows] = await c.query('SELECT COUNT(*) AS n FROM t');
  assert.equal(Number((rows as { n: number }[])[0].n), 3);
  await c.end();
});

test('pooled upstream connections are reset before reuse: nothing leaks between clients', async () => {
  const c1 = await connect(ep.port, { database: db.name });
  await c1.query('SET @carry = 42');
  await c1.query('CREATE TEMPORARY TABLE tmp_leak (x INT)');
  await c1.query('BEGIN');
  await c1.query('INSERT INTO t VALUES (77, \'uncommitted\')');
  await c1.end();
  await new Promise((r) => setTimeout(r, 200));
  const reusedBefore = ep.listener.pool.reused;
  const c2 = await connect(ep.port, { database: db.name });
  try {
    assert.ok(ep.listener.pool.reused > reusedBefore, 'an idle connection was reused');
    const [v] = await c2.query('SELECT @carry AS v');
    assert.deepEqual(v, [{ v: null }]);
    await assert.rejects(c2.query('SELECT * FROM tmp_leak'), (e: { errno: number }) => e.errno === 1146);
    assert.equal(await count(db.name), 3, 'the open transaction was rolled back');
  } finally {
    await c2.end();
  }
});

test('COM_PING, COM_STATISTICS, COM_RESET_CONNECTION and an unsupported command', async () => {
  const c = await connect(ep.port);
  try {
    await c.ping();
    await c.query('SET @x = 1');
    await (c as unknown as { reset(): Promise<void> }).reset?.();
  } finally {
    await c.end();
  }
  const r = await mariadbCli(ep.port, ['-uboth', `-p${PASSWORD}`], 'status\n');
  assert.match(r.stdout, /Uptime/);
  const r2 = await mariadbCli(ep.port, ['-uboth', `-p${PASSWORD}`, '-e', 'SELECT 1']);
  assert.equal(r2.stdout.trim(), '1');
});
