import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { serialize } from 'pg-protocol';
import { Parser } from 'pg-protocol/dist/parser.js';
import { createPgDatabase, pgConnect, type TempDatabase } from '../../helpers/db.js';
import type { SessionContext } from '../../../governance/decision.js';
import { md5Response } from '../../../governance/auth/password-checks.js';
import { TestGate } from '../../helpers/test-gate.js';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { PASSWORD, pgThrough, psqlResult, startEndpoint, testGate, writeTemp, type Endpoint } from './setup.js';
import type pg from 'pg';

let db: TempDatabase;
let ep: Endpoint;
let gate: TestGate;
const searchPaths: string[][] = [];

before(async () => {
  db = await createPgDatabase('pgstmt', `
    CREATE TABLE t (id int PRIMARY KEY, v text);
    CREATE SCHEMA other;
    CREATE TABLE other.o (x int);
    CREATE TABLE series AS SELECT g AS n FROM generate_series(1, 10) g;
    CREATE TABLE parent (id int PRIMARY KEY);
    CREATE TABLE child (pid int REFERENCES parent DEFERRABLE INITIALLY DEFERRED);`);
  gate = testGate(db.name);
  const judge = gate.judge.bind(gate);
  gate.judge = async (s: SessionContext, sql: string) => {
    searchPaths.push([...s.searchPath]);
    return judge(s, sql);
  };
  ep = await startEndpoint(gate);
});
after(async () => {
  await ep?.close();
  await db?.drop();
});

async function direct<T = unknown>(sql: string): Promise<T[]> {
  const c = await pgConnect(db.url);
  try { return (await c.query(sql)).rows as T[]; } finally { await c.end(); }
}

test('a refused statement: ErrorResponse with the decision SQLSTATE, session usable', async () => {
  const c = await pgThrough(ep.url('alice', db.name));
  await assert.rejects(c.query('DELETE FROM t'), (e: { code?: string; message: string }) => e.code === '42501' && /no-unqualified-dml/.test(e.message));
  assert.equal(c.getTransactionStatus(), 'I');
  assert.equal((await c.query('SELECT 1 AS x')).rows[0].x, 1);
  await c.end();
});

test('inside BEGIN a refusal aborts the transaction as PostgreSQL would, upstream too', async () => {
  const c = await pgThrough(ep.url('alice', db.name));
  await c.query('BEGIN');
  await c.query("INSERT INTO t VALUES (100, 'in-txn')");
  await assert.rejects(c.query('UPDATE t SET v = 1'), (e: { code?: string }) => e.code === '42501');
  // pg rejects on ErrorResponse, before ReadyForQuery: read the status after the next round trip.
  await assert.rejects(c.query('SELECT 1'), (e: { code?: string }) => e.code === '25P02', 'the upstream transaction is aborted');
  assert.equal(c.getTransactionStatus(), 'E');
  await c.query('ROLLBACK');
  assert.equal(c.getTransactionStatus(), 'I');
  assert.equal((await direct('SELECT * FROM t WHERE id = 100')).length, 0);
  // Extended protocol inside BEGIN, too.
  await c.query('BEGIN');
  await assert.rejects(c.query({ text: 'DELETE FROM t', values: [] }), (e: { code?: string }) => e.code === '42501');
  await assert.rejects(c.query({ text: 'SELECT 1', values: [] }), (e: { code?: string }) => e.code === '25P02');
  assert.equal(c.getTransactionStatus(), 'E');
  await c.query('ROLLBACK');
  await c.end();
});

test('psql: refused statement, then the session goes on', async () => {
  const r = await psqlResult(`postgresql://alice:${encodeURIComponent(PASSWORD)}@127.0.0.1:${ep.port}/${db.name}?sslmode=disable`,
    ['-v', 'ON_ERROR_STOP=0', '-f', '-'], 'DELETE FROM t;\nSELECT 99;\n');
  assert.match(r.stderr, /ERROR: {2}sqlgate: UPDATE\/DELETE without WHERE/);
  assert.equal(r.stdout.trim(), '99');
});

test('multi-statement message with one refused statement runs nothing', async () => {
  const c = await pgThrough(ep.url('alice', db.name));
  await assert.rejects(c.query("INSERT INTO t VALUES (1, 'a'); INSERT INTO t VALUES (2, 'b'); DELETE FROM t"), (e: { code?: string }) => e.code === '42501');
  assert.equal((await direct('SELECT * FROM t WHERE id IN (1, 2)')).length, 0, 'nothing ran on the server');
  await c.query("INSERT INTO t VALUES (1, 'a'); INSERT INTO t VALUES (2, 'b')");
  assert.equal((await direct('SELECT * FROM t WHERE id IN (1, 2)')).length, 2);
  await c.query('DELETE FROM t WHERE id IN (1, 2)');
  await c.end();
});

test('extended protocol: refusal at Parse, messages discarded until Sync, named statements work', async () => {
  const c = await pgThrough(ep.url('alice', db.name));
  await assert.rejects(c.query({ text: 'DELETE FROM t', values: [] }), (e: { code?: string }) => e.code === '42501');
  await assert.rejects(c.query({ name: 'evil', text: 'SELECT secret FROM t WHERE id = $1', values: [1] }), (e: { code?: string }) => e.code === '42501');
  assert.equal((await c.query({ name: 'q1', text: 'SELECT $1::int * 2 AS d', values: [21] })).rows[0].d, 42);
  assert.equal((await c.query({ name: 'q1', text: 'SELECT $1::int * 2 AS d', values: [5] })).rows[0].d, 10);
  await c.end();
});

/** A raw md5 login (user bob) for exact message-level checks. */
async function rawSession(): Promise<{ send(b: Buffer): void; until(name: string): Promise<any[]>; close(): void; key: { pid: number; secret: number } }> {
  const s = connect(ep.port, '127.0.0.1');
  const queue: any[] = [];
  let wake: (() => void) | undefined;
  const parser = new Parser();
  s.on('data', (d) => parser.parse(d, (m) => { queue.push(m); wake?.(); }));
  // A desynchronised session shows as a hang: fail after a while instead.
  const until = async (name: string) => {
    const out: any[] = [];
    const deadline = Date.now() + 10_000;
    for (;;) {
      while (queue.length) {
        const m = queue.shift();
        out.push(m);
        if (m.name === name) return out;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${name} within 10 s; got ${out.map((m) => m.name).join(', ')}`);
      await new Promise<void>((r) => { wake = r; setTimeout(r, left).unref(); });
    }
  };
  s.write(serialize.startup({ user: 'bob', database: db.name }));
  const auth = await until('authenticationMD5Password');
  s.write(serialize.password(md5Response('bob', PASSWORD, auth.at(-1).salt)));
  const login = await until('readyForQuery');
  const k = login.find((m) => m.name === 'backendKeyData');
  return { send: (b) => s.write(b), until, close: () => s.destroy(), key: { pid: k.processID, secret: k.secretKey } };
}

test('extended protocol: Execute with a row limit gives PortalSuspended; a refused Parse mid-pipeline skips to Sync', async () => {
  const r = await rawSession();
  r.send(Buffer.concat([
    serialize.parse({ text: 'SELECT n FROM series ORDER BY n' }), serialize.bind({}), serialize.execute({ rows: 4 }),
    serialize.execute({ rows: 4 }), serialize.execute({ rows: 4 }), serialize.sync(),
  ]));
  const msgs = await r.until('readyForQuery');
  assert.deepEqual(msgs.map((m) => m.name), [
    'parseComplete', 'bindComplete', ...Array(4).fill('dataRow'), 'portalSuspended', ...Array(4).fill('dataRow'), 'portalSuspended',
    'dataRow', 'dataRow', 'commandComplete', 'readyForQuery',
  ]);
  r.send(Buffer.concat([
    serialize.parse({ name: 'ok1', text: 'SELECT 1' }), serialize.parse({ name: 'bad', text: 'DELETE FROM t' }),
    serialize.bind({ statement: 'bad' }), serialize.execute({}), serialize.sync(),
    serialize.bind({ statement: 'ok1' }), serialize.execute({}), serialize.sync(),
  ]));
  const first = await r.until('readyForQuery');
  assert.deepEqual(first.map((m) => m.name), ['parseComplete', 'error', 'readyForQuery']);
  assert.equal(first[1].code, '42501');
  assert.equal(first[2].status, 'I');
  const second = await r.until('readyForQuery');
  assert.deepEqual(second.map((m) => m.name), ['bindComplete', 'dataRow', 'commandComplete', 'readyForQuery']);
  // The function-call sub-protocol is refused, the session lives on.
  r.send(Buffer.from([0x46, 0, 0, 0, 14, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0].slice(0, 15)));
  r.send(serialize.query('SELECT 2'));
  const fc = await r.until('readyForQuery');
  assert.equal(fc[0].name, 'error');
  const after2 = await r.until('readyForQuery');
  assert.deepEqual(after2.map((m) => m.name), ['rowDescription', 'dataRow', 'commandComplete', 'readyForQuery']);
  r.close();
});

test('extended protocol: an error at Sync (deferred constraint at the implicit COMMIT) keeps the pipeline in step', async () => {
  const r = await rawSession();
  r.send(Buffer.concat([
    serialize.parse({ text: 'INSERT INTO child VALUES (42)' }), serialize.bind({}), serialize.execute({}), serialize.sync(),
    serialize.parse({ text: 'SELECT 7' }), serialize.bind({}), serialize.execute({}), serialize.sync(),
  ]));
  const first = await r.until('readyForQuery');
  assert.deepEqual(first.map((m) => m.name), ['parseComplete', 'bindComplete', 'commandComplete', 'error', 'readyForQuery']);
  assert.equal(first[3].code, '23503');
  const second = await r.until('readyForQuery');
  assert.deepEqual(second.map((m) => m.name), ['parseComplete', 'bindComplete', 'dataRow', 'commandComplete', 'readyForQuery']);
  r.close();
});

test('a client_encoding sqlgate cannot lex safely ends the session', async () => {
  const c = await pgThrough(ep.url('alice', db.name));
  c.on('error', () => undefined);
  await assert.rejects(c.query("SET client_encoding TO 'SJIS'"));
  await assert.rejects(c.query('SELECT 1'));
  const r = await psqlResult(`postgresql://alice:${encodeURIComponent(PASSWORD)}@127.0.0.1:${ep.port}/${db.name}?sslmode=disable&client_encoding=BIG5`, ['-c', 'SELECT 1']);
  assert.match(r.stderr, /not supported/);
});

test('protocol Bind/Execute of statements and cursors made in SQL are refused; SQL EXECUTE/FETCH work', async () => {
  const r = await rawSession();
  await r.send(serialize.query('PREPARE sqlp AS SELECT 1 AS one'));
  await r.until('readyForQuery');
  r.send(Buffer.concat([serialize.bind({ statement: 'sqlp' }), serialize.execute({}), serialize.sync()]));
  const bind = await r.until('readyForQuery');
  assert.deepEqual(bind.map((m) => m.name), ['error', 'readyForQuery']);
  assert.match(bind[0].message, /not prepared through this protocol session/);
  r.send(serialize.query('EXECUTE sqlp'));
  assert.ok((await r.until('readyForQuery')).some((m) => m.name === 'dataRow'));
  r.send(serialize.query('BEGIN; DECLARE cur CURSOR FOR SELECT n FROM series'));
  await r.until('readyForQuery');
  r.send(Buffer.concat([serialize.execute({ portal: 'cur', rows: 100 }), serialize.sync()]));
  const exec = await r.until('readyForQuery');
  assert.deepEqual(exec.map((m) => m.name), ['error', 'readyForQuery']);
  assert.equal(exec[1].status, 'E', 'inside BEGIN the refusal aborts the transaction, as PostgreSQL would');
  r.send(serialize.query('ROLLBACK'));
  await r.until('readyForQuery');
  // A named protocol statement is forgotten after SQL DEALLOCATE ALL.
  r.send(Buffer.concat([serialize.parse({ name: 'p1', text: 'SELECT 2' }), serialize.sync()]));
  await r.until('readyForQuery');
  r.send(serialize.query('DEALLOCATE ALL'));
  await r.until('readyForQuery');
  r.send(Buffer.concat([serialize.bind({ statement: 'p1' }), serialize.execute({}), serialize.sync()]));
  assert.equal((await r.until('readyForQuery'))[0].name, 'error');
  r.close();
});

test('pgbench pipelines (\\startpipeline, extended and prepared) run to completion through sqlgate', async () => {
  const script = writeTemp('pipe.sql', [
    '\\set a random(1, 10)',
    '\\startpipeline',
    'SELECT n FROM series WHERE n = :a;',
    'UPDATE t SET v = v WHERE id = :a;',
    'SELECT count(*) FROM series;',
    '\\endpipeline',
  ].join('\n') + '\n');
  try {
    for (const mode of ['extended', 'prepared']) {
      const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
        execFile('/usr/lib/postgresql/15/bin/pgbench', ['-n', '-M', mode, '-f', script, '-c', '2', '-t', '50', '-h', '127.0.0.1', '-p', String(ep.port), '-U', 'alice', db.name],
          { env: { ...process.env, PGPASSWORD: PASSWORD } }, (err, stdout, stderr) => resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, text: stdout + stderr }));
      });
      assert.equal(out.code, 0, out.text);
      assert.match(out.text, /number of transactions actually processed: 100\/100/);
      assert.match(out.text, /number of failed transactions: 0/);
    }
  } finally {
    rmSync(dirname(script), { recursive: true, force: true });
  }
});

async function sleeping(): Promise<number> {
  const rows = await direct<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = '${db.name}' AND query LIKE 'SELECT pg_sleep(30)%' AND state = 'active'`);
  return rows[0].n;
}

async function waitFor(cond: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('condition not reached');
}

function sendCancel(pid: number, secret: number): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(ep.port, '127.0.0.1', () => s.end(serialize.cancel(pid, secret)));
    s.on('close', () => resolve());
    s.on('error', () => resolve());
  });
}

test('CancelRequest with sqlgate\'s key cancels the upstream query; a forged key cancels nothing', async () => {
  const c: pg.Client = await pgThrough(ep.url('alice', db.name));
  const pid = (c as unknown as { processID: number }).processID;
  const secret = (c as unknown as { secretKey: number }).secretKey;
  const q = c.query('SELECT pg_sleep(30)').then(() => 'finished', (e: { code?: string }) => e.code);
  await waitFor(async () => (await sleeping()) === 1);
  await sendCancel(pid, secret ^ 1);
  await sendCancel(pid + 1, secret);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await sleeping(), 1, 'forged keys cancel nothing');
  await sendCancel(pid, secret);
  assert.equal(await q, '57014');
  assert.equal(await sleeping(), 0);
  assert.equal((await c.query('SELECT 3 AS x')).rows[0].x, 3);
  await c.end();
});

test('COPY FROM STDIN and COPY TO STDOUT are relayed', async () => {
  const conninfo = `postgresql://alice:${encodeURIComponent(PASSWORD)}@127.0.0.1:${ep.port}/${db.name}?sslmode=disable`;
  const lines = Array.from({ length: 500 }, (_, i) => `${1000 + i}\tcopy ${i}`).join('\n') + '\n';
  const r = await psqlResult(conninfo, ['-c', 'COPY t FROM STDIN'], lines);
  assert.equal(r.status, 0, r.stderr);
  assert.equal((await direct<{ n: number }>('SELECT count(*)::int AS n FROM t WHERE id >= 1000'))[0].n, 500);
  const out = await psqlResult(conninfo, ['-c', 'COPY (SELECT id, v FROM t WHERE id >= 1000 ORDER BY id) TO STDOUT']);
  assert.equal(out.stdout, lines);
  const ev = gate.events.filter((e) => e.sql === 'COPY t FROM STDIN');
  assert.equal(ev.at(-1)?.rowsAffected, 500);
  await direct('DELETE FROM t WHERE id >= 1000');
});

test('a COPY FROM STDIN larger than the socket buffers arrives whole and in order (upstream back-pressure holds the client)', async () => {
  const conninfo = `postgresql://alice:${encodeURIComponent(PASSWORD)}@127.0.0.1:${ep.port}/${db.name}?sslmode=disable`;
  const n = 400_000;
  const lines = Array.from({ length: n }, (_, i) => `${100_000 + i}\t${'v'.repeat(40)} ${i}`).join('\n') + '\n';
  const r = await psqlResult(conninfo, ['-c', 'COPY t FROM STDIN'], lines);
  assert.equal(r.status, 0, r.stderr);
  const [row] = await direct<{ n: number; s: string }>(
    "SELECT count(*)::int AS n, sum(id - 100000 - split_part(v, ' ', 2)::int)::text AS s FROM t WHERE id >= 100000");
  assert.equal(row.n, n);
  assert.equal(row.s, '0', 'every line landed with its own id');
  const c = await pgThrough(ep.url('alice', db.name));
  assert.equal((await c.query('SELECT 7 AS x')).rows[0].x, 7, 'the session goes on after the hold');
  await c.end();
  await direct('DELETE FROM t WHERE id >= 100000');
});

test('a statement\'s audit record is made and written out before the first byte of its result reaches the client', async () => {
  const c = await pgThrough(ep.url('alice', db.name));
  try {
    const stream = (c as unknown as { connection: { stream: import('node:net').Socket } }).connection.stream;
    for (const sql of ['SELECT 1 AS a', 'SELECT id, v FROM t ORDER BY id LIMIT 3']) {
      const before = gate.events.length;
      let flushedAtArrival = -1;
      stream.once('data', () => { flushedAtArrival = gate.flushed; });
      await c.query(sql);
      const at = gate.events.findIndex((e, i) => i >= before && e.sql === sql);
      assert.ok(at >= 0, 'audited');
      assert.ok(flushedAtArrival > at, `record ${at} was behind the barrier (${flushedAtArrival}) when the result arrived`);
    }
  } finally {
    await c.end();
  }
});

test('search_path tracked through SET, SET LOCAL, RESET and ROLLBACK', async () => {
  const c = await pgThrough(ep.url('alice', db.name));
  const pathAt = async (sql: string) => {
    await c.query(sql);
    return searchPaths.at(-1)!;
  };
  assert.deepEqual(await pathAt('SELECT 1'), ['postgres', 'public'], '"$user" is the service account upstream');
  await c.query('SET search_path TO other, public');
  assert.deepEqual(await pathAt('SELECT 1'), ['other', 'public']);
  await c.query('BEGIN');
  await c.query('SET LOCAL search_path = "My Schema"');
  assert.deepEqual(await pathAt('SELECT 2'), ['My Schema']);
  await c.query('COMMIT');
  assert.deepEqual(await pathAt('SELECT 3'), ['other', 'public']);
  await c.query('BEGIN');
  await c.query('SET search_path = pg_temp');
  await c.query('ROLLBACK');
  assert.deepEqual(await pathAt('SELECT 4'), ['other', 'public']);
  await c.query({ text: "SELECT set_config('search_path', 'x1', false)", values: [] });
  assert.deepEqual(await pathAt('SELECT 5'), ['x1']);
  await c.query('RESET search_path');
  assert.deepEqual(await pathAt('SELECT 6'), ['postgres', 'public']);
  await c.end();
});

test('audit: one record per statement, rows and duration from CommandComplete', async () => {
  const before = gate.events.length;
  const c = await pgThrough(ep.url('alice', db.name));
  await c.query("INSERT INTO t VALUES (500, 'x'), (501, 'y')");
  await c.query('SELECT * FROM t WHERE id >= 500; SELECT 1');
  await c.query({ text: 'UPDATE t SET v = $1 WHERE id >= 500', values: ['z'] });
  await assert.rejects(c.query('DELETE FROM t'));
  await assert.rejects(c.query('SELECT * FROM missing_table'));
  await c.query('DELETE FROM t WHERE id >= 500');
  await c.end();
  const ev = gate.events.slice(before).filter((e) => e.type === 'statement');
  assert.deepEqual(ev.map((e) => [e.sql, e.decision, e.rowsReturned ?? e.rowsAffected]), [
    ["INSERT INTO t VALUES (500, 'x'), (501, 'y')", 'allowed', 2],
    ['SELECT * FROM t WHERE id >= 500', 'allowed', 2],
    ['SELECT 1', 'allowed', 1],
    ['UPDATE t SET v = $1 WHERE id >= 500', 'allowed', 2],
    ['DELETE FROM t', 'refused', undefined],
    ['SELECT * FROM missing_table', 'failed', undefined],
    ['DELETE FROM t WHERE id >= 500', 'allowed', 2],
  ]);
  assert.ok(ev.every((e) => e.user === 'alice' && e.door === 'postgres' && e.database === db.name && typeof e.durationMs === 'number'));
  assert.equal(ev[5].error?.code, '42P01');
});
