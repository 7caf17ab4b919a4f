/**
 * Commands most drivers rarely send, spoken byte by byte through sqlgate:
 * COM_FIELD_LIST (judged like SHOW COLUMNS), COM_PROCESS_KILL, COM_RESET_CONNECTION,
 * COM_STMT_EXECUTE with a cursor + COM_STMT_FETCH, COM_STMT_RESET / CLOSE,
 * MariaDB's "last prepared statement" id, COM_SET_OPTION, and an
 * unsupported command.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cap, Com, Status } from '../../../wire/mysql/constants.js';
import { framePayload } from '../../../wire/mysql/packet-writer.js';
import { ResponseWalker, type ResponseSummary } from '../../../wire/mysql/result-walker.js';
import { parseErr } from '../../../wire/mysql/messages.js';
import { createMysqlDatabase, type TempDatabase } from '../../helpers/db.js';
import { PASSWORD, connect, startEndpoint, statements, type Endpoint } from './helpers.js';
import { RawMysql } from './raw-client.js';

let ep: Endpoint;
let db: TempDatabase;

before(async () => {
  db = await createMysqlDatabase('mysqlraw', 'CREATE TABLE t (id INT PRIMARY KEY, secret VARCHAR(10)); INSERT INTO t VALUES (1,\'a\'),(2,\'b\'),(3,\'c\')');
  ep = await startEndpoint({
    deny: [
      { pattern: /SHOW COLUMNS FROM `hidden`/, code: 'TABLE_ACCESS_DENIED', rule: 'column-acl', message: 'sqlgate: table hidden is not granted [rule column-acl]' },
      { pattern: /SELECT secret FROM t WHERE id = 3/, code: 'COLUMN_ACCESS_DENIED', rule: 'column-acl', message: 'sqlgate: no select privilege on column t.secret [rule column-acl]' },
    ],
  });
});
after(async () => {
  await ep.close();
  await db.drop();
});

const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };

test('COM_FIELD_LIST is judged as SHOW COLUMNS and relayed', async () => {
  const raw = await RawMysql.login(ep.port, 'both', PASSWORD, db.name);
  try {
    const r = await raw.command(Buffer.concat([Buffer.from([Com.FIELD_LIST]), Buffer.from('t\0')]), 'field-list');
    assert.deepEqual(r.summary.columns.map((c) => c.name), ['id', 'secret']);
    const refused = await raw.command(Buffer.concat([Buffer.from([Com.FIELD_LIST]), Buffer.from('hidden\0')]), 'field-list');
    assert.equal(refused.summary.error?.errno, 1142);
    assert.equal(statements(ep.gate).at(-1)?.sql, 'SHOW COLUMNS FROM `hidden`');
  } finally {
    raw.close();
  }
});

test('cursor: COM_STMT_EXECUTE opens it (metadata only), COM_STMT_FETCH reads it in pieces; RESET and CLOSE', async () => {
  const raw = await RawMysql.login(ep.port, 'both', PASSWORD, db.name);
  try {
    const prep = await raw.command(Buffer.concat([Buffer.from([Com.STMT_PREPARE]), Buffer.from('SELECT id FROM t ORDER BY id')]), 'prepare');
    const id = prep.summary.statementId!;
    const exec = await raw.command(Buffer.concat([Buffer.from([Com.STMT_EXECUTE]), u32(id), Buffer.from([1]), u32(1)]), 'query');
    assert.ok(exec.summary.status & Status.CURSOR_EXISTS);
    assert.equal(exec.summary.rows, 0);
    const f1 = await raw.command(Buffer.concat([Buffer.from([Com.STMT_FETCH]), u32(id), u32(2)]), 'fetch');
    assert.equal(f1.summary.rows, 2);
    const f2 = await raw.command(Buffer.concat([Buffer.from([Com.STMT_FETCH]), u32(id), u32(2)]), 'fetch');
    assert.equal(f2.summary.rows, 1);
    const fetched = statements(ep.gate).filter((e) => e.detail?.phase === 'fetch');
    assert.deepEqual(fetched.map((e) => e.rowsReturned), [2, 1], 'rows read through the cursor are audited');
    assert.ok(f2.summary.status & Status.LAST_ROW_SENT);
    const reset = await raw.command(Buffer.concat([Buffer.from([Com.STMT_RESET]), u32(id)]), 'single');
    assert.equal(reset.summary.error, undefined);
    raw.socket.write(Buffer.concat([Buffer.from([5, 0, 0, 0, Com.STMT_CLOSE]), u32(id)]));
    const gone = await raw.command(Buffer.concat([Buffer.from([Com.STMT_EXECUTE]), u32(id), Buffer.from([0]), u32(1)]), 'query');
    assert.equal(gone.summary.error?.errno, 1243, 'a closed statement is unknown to sqlgate');
    const unknown = await raw.command(Buffer.concat([Buffer.from([Com.STMT_FETCH]), u32(999), u32(1)]), 'fetch');
    assert.equal(unknown.summary.error?.errno, 1243);
  } finally {
    raw.close();
  }
});

test('statement id 0xFFFFFFFF executes the statement prepared last, and never an earlier one (MariaDB connectors)', async () => {
  const raw = await RawMysql.login(ep.port, 'both', PASSWORD, db.name);
  const prepare = (sql: string) => raw.command(Buffer.concat([Buffer.from([Com.STMT_PREPARE]), Buffer.from(sql)]), 'prepare');
  const executeLast = () => raw.command(Buffer.concat([Buffer.from([Com.STMT_EXECUTE]), u32(0xffffffff), Buffer.from([0]), u32(1)]), 'query');
  try {
    assert.equal((await prepare('SELECT id FROM t WHERE id = 2')).summary.error, undefined);
    const ok = await executeLast();
    assert.equal(ok.summary.error, undefined);
    assert.deepEqual(ok.summary.columns.map((c) => c.name), ['id']);
    assert.equal(ok.summary.results[0]?.rows, 1);
    // A refused prepare leaves nothing to execute: not the statement before it.
    assert.equal((await prepare('SELECT secret FROM t WHERE id = 3')).summary.error?.errno, 1143);
    assert.equal((await executeLast()).summary.error?.errno, 1243);
    const id = (await prepare('SELECT id FROM t')).summary.statementId!;
    raw.socket.write(Buffer.concat([Buffer.from([5, 0, 0, 0, Com.STMT_CLOSE]), u32(id)]));
    assert.equal((await executeLast()).summary.error?.errno, 1243, 'the last statement was closed');
  } finally {
    raw.close();
  }
});

test('COM_RESET_CONNECTION forgets session state; COM_SET_OPTION; COM_PROCESS_KILL of another own session', async () => {
  const raw = await RawMysql.login(ep.port, 'both', PASSWORD, db.name);
  const victim = await connect(ep.port);
  try {
    await raw.query('SET @v = 5');
    const reset = await raw.command(Buffer.from([Com.RESET_CONNECTION]), 'single');
    assert.equal(reset.summary.error, undefined);
    const after = await raw.query('SELECT @v');
    assert.ok(after.bytes.includes(Buffer.from([0xfb])), '@v is NULL after the reset');
    const opt = await raw.command(Buffer.from([Com.SET_OPTION, 1, 0]), 'single');
    assert.equal(opt.summary.error, undefined);
    const kill = await raw.command(Buffer.concat([Buffer.from([Com.PROCESS_KILL]), u32(victim.threadId!)]), 'single');
    assert.equal(kill.summary.error, undefined);
    await assert.rejects(victim.query('SELECT 1'));
    const notMine = await raw.command(Buffer.concat([Buffer.from([Com.PROCESS_KILL]), u32(4_000_000)]), 'single');
    assert.equal(notMine.summary.error?.errno, 1094);
    const unsupported = await raw.command(Buffer.from([Com.BINLOG_DUMP, 0, 0, 0, 0]), 'single');
    assert.equal(unsupported.summary.error?.errno, 1235);
    assert.match(parseErr(unsupported.bytes.subarray(4)).message, /not supported through sqlgate/);
  } finally {
    raw.close();
    victim.destroy();
  }
});

test('commands written back to back in one burst are answered one after another, in order, and audited in order', async () => {
  const raw = await RawMysql.login(ep.port, 'both', PASSWORD, db.name);
  try {
    const sqls = ['SELECT 1 AS a', 'SELECT secret FROM t WHERE id = 2', 'SELECT id, secret FROM t ORDER BY id', 'SELECT 4 AS d'];
    const start = () => { const w = new ResponseWalker(); w.start('query', (raw.capabilities & Cap.DEPRECATE_EOF) !== 0); return w; };
    const done = new Promise<ResponseSummary[]>((resolve, reject) => {
      const out: ResponseSummary[] = [];
      let walker = start();
      const onData = (chunk: Buffer) => {
        let rest = Buffer.from(chunk);
        while (rest.length > 0) {
          let end: number;
          try { end = walker.feed(rest); } catch (e) { raw.socket.off('data', onData); return reject(e); }
          if (end < 0) return;
          out.push(walker.summary);
          if (out.length === sqls.length) { raw.socket.off('data', onData); return resolve(out); }
          rest = rest.subarray(end);
          walker = start();
        }
      };
      raw.socket.on('data', onData);
      raw.socket.once('close', () => reject(new Error('closed')));
    });
    raw.socket.write(Buffer.concat(sqls.map((sql) => framePayload(Buffer.concat([Buffer.from([Com.QUERY]), Buffer.from(sql)]), 0))));
    const got = await done;
    assert.deepEqual(got.map((s) => s.columns.map((c) => c.name)), [['a'], ['secret'], ['id', 'secret'], ['d']]);
    assert.deepEqual(got.map((s) => s.rows), [1, 1, 3, 1]);
    assert.deepEqual(statements(ep.gate).slice(-4).map((e) => e.sql), sqls);
    assert.equal((await raw.query('SELECT 5 AS e')).summary.rows, 1, 'the session goes on');
  } finally {
    raw.close();
  }
});

test('a statement\'s audit record is made and written out before the first byte of its result reaches the client', async () => {
  const raw = await RawMysql.login(ep.port, 'both', PASSWORD, db.name);
  try {
    for (const sql of ['SELECT 1 AS a', 'SELECT id, secret FROM t ORDER BY id']) {
      const before = ep.gate.events.length;
      let flushedAtArrival = -1;
      raw.socket.once('data', () => { flushedAtArrival = ep.gate.flushed; });
      await raw.query(sql);
      const at = ep.gate.events.findIndex((e, i) => i >= before && e.sql === sql);
      assert.ok(at >= 0, 'audited');
      assert.ok(flushedAtArrival > at, `record ${at} was behind the barrier (${flushedAtArrival}) when the result arrived`);
    }
  } finally {
    raw.close();
  }
});
