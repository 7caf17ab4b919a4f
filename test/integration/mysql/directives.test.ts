/**
 * What the endpoint enforces while a statement runs, driven by the
 * decision's directives: row caps cut on the wire, statement timeouts
 * cancelled on the database (KILL QUERY from a side connection), and the
 * full-scan plan check on the user's own upstream session.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createMysqlDatabase, type TempDatabase } from '../../helpers/db.js';
import { DirectiveGate, PASSWORD, connect, statements, startEndpoint, testPolicy, type Endpoint } from './helpers.js';
import { RawMysql } from './raw-client.js';

let ep: Endpoint;
let gate: DirectiveGate;
let db: TempDatabase;

before(async () => {
  db = await createMysqlDatabase('mysqldir', 'CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10), n INT); INSERT INTO t VALUES (1,\'a\',1),(2,\'b\',2),(3,\'c\',3),(4,\'d\',4),(5,\'e\',5);'
    + 'CREATE TABLE p (id INT PRIMARY KEY, phone VARCHAR(20), age INT UNSIGNED NOT NULL, born DATETIME(6)); INSERT INTO p VALUES (1, \'13812345678\', 42, \'1990-05-06 07:08:09.5\'), (2, NULL, 7, NULL)');
  const col = (column: string) => ({ database: db.name, schema: db.name, table: 'p', column });
  const mask = (index: number, column: string, kind: 'partial' | 'alias' | 'hash' | 'null') => ({
    index, kind, keepFirst: 3, keepLast: 4, maskChar: '*', alias: 'hidden', column: col(column), rule: 'masking',
  });
  gate = new DirectiveGate({
    policy: testPolicy(),
    directives: [
      { pattern: /^SELECT id, phone FROM p/, directives: { masks: [mask(1, 'phone', 'partial')] } },
      { pattern: /^SELECT id, phone, age, born FROM p/, directives: { masks: [mask(1, 'phone', 'partial'), mask(2, 'age', 'alias'), mask(3, 'born', 'hash')] } },
      { pattern: /^SELECT phone AS p1, CONCAT\(phone\) AS p2 FROM p/, directives: { masks: [mask(0, 'phone', 'null'), mask(1, 'phone', 'partial')] } },
      { pattern: /REPEAT|AS packed/, directives: { maxResultBytes: 64 * 1024 } },
      { pattern: /FROM t ORDER BY|FROM t WHERE id > \?/, directives: { maxRows: 2 } },
      { pattern: /SLEEP/, directives: { timeoutMs: 300 } },
      { pattern: /FROM t\b(?!.*ORDER BY)/, directives: { bigTables: [{ schema: db.name, table: 't', rows: 1_000_000 }], fullScanMaxRows: 1000 } },
    ],
  });
  ep = await startEndpoint({ gate });
});
after(async () => {
  await ep.close();
  await db.drop();
});

test('row cap: extra rows are cut on the wire, the client is told by a warning, audited as cut', async () => {
  const c = await connect(ep.port, { database: db.name });
  try {
    const [rows] = await c.query('SELECT id FROM t ORDER BY id');
    assert.deepEqual(rows, [{ id: 1 }, { id: 2 }]);
    const [sets] = await c.query('SELECT id FROM t ORDER BY id DESC; SELECT 1 AS one');
    assert.deepEqual(sets, [[{ id: 5 }, { id: 4 }], [{ one: 1 }]], 'the second result set arrives intact after a cut');
    const [bin] = await c.execute('SELECT id FROM t WHERE id > ? ORDER BY id', [0]);
    assert.deepEqual(bin, [{ id: 1 }, { id: 2 }], 'binary protocol cut too');
    const [after] = await c.query('SELECT COUNT(*) AS n FROM t WHERE id = 1');
    assert.deepEqual(after, [{ n: '1' }]);
  } finally {
    await c.end();
  }
  const cut = statements(gate).filter((e) => e.decision === 'cut');
  assert.equal(cut.length, 3);
  assert.equal(cut[0].rowsReturned, 2);
  assert.equal(cut[0].detail?.cutRows, 3);
  // the terminator carries one more warning
  const raw = await RawMysql.login(ep.port, 'both', PASSWORD, db.name);
  try {
    const r = await raw.query('SELECT id FROM t ORDER BY id');
    assert.equal(r.summary.rows, 2);
    assert.equal(r.summary.warnings, 1);
  } finally {
    raw.close();
  }
});

test('masking: masked outputs rewritten on the wire (text and binary), others untouched, wrong provenance refused', async () => {
  const c = await connect(ep.port, { database: db.name });
  try {
    const [rows] = await c.query('SELECT id, phone FROM p ORDER BY id');
    assert.deepEqual(rows, [{ id: 1, phone: '138****5678' }, { id: 2, phone: null }]);
    const [bin] = await c.execute('SELECT id, phone, age, born FROM p WHERE id >= ? ORDER BY id', [1]);
    const b = bin as { id: number; phone: string; age: string; born: string | null }[];
    assert.equal(b[0].id, 1);
    assert.equal(b[0].phone, '138****5678');
    assert.equal(b[0].age, 'hidden', 'an INT masked to text arrives as text');
    assert.match(b[0].born ?? '', /^[0-9a-f]{16}$/);
    assert.equal(b[1].born, null);
    const [txt] = await c.query('SELECT id, phone, age, born FROM p ORDER BY id');
    assert.deepEqual(txt, bin, 'text and binary protocol mask alike');
    // the analysis said output 2 is p.phone, but the wire says it is an expression: refuse, leak nothing
    await assert.rejects(c.query('SELECT phone AS p1, CONCAT(phone) AS p2 FROM p'), (e: { errno: number; message: string }) => {
      assert.equal(e.errno, 1143);
      assert.match(e.message, /refusing rather than guessing/);
      assert.ok(!e.message.includes('12345678'));
      return true;
    });
    const [after] = await c.query('SELECT id FROM p ORDER BY id');
    assert.deepEqual(after, [{ id: 1 }, { id: 2 }]);
  } finally {
    await c.end();
  }
  const masked = statements(gate).filter((e) => e.decision === 'masked');
  assert.equal(masked.length, 3);
  assert.deepEqual(masked[0].detail?.masked, [`${db.name}.p.phone:partial`]);
  assert.equal(statements(gate).find((e) => e.error?.code === 'PROVENANCE_MISMATCH')?.decision, 'refused');
});

test('result size limit: an oversized row never leaves, many rows end with ERR 1301; the session lives on', async () => {
  const c = await connect(ep.port, { database: db.name });
  try {
    await assert.rejects(c.query('SELECT REPEAT(\'x\', 1000000) AS big'), (e: { errno: number; sqlState: string; message: string }) => {
      assert.equal(e.errno, 1301);
      assert.equal(e.sqlState, '54000');
      assert.match(e.message, /max-result-bytes/);
      return true;
    });
    await assert.rejects(c.query('SELECT a.id AS packed FROM t a, t b, t c, t d, t e, t f, t g'), (e: { errno: number }) => e.errno === 1301);
    // Packing many rows into one value does not get past the limit either.
    await c.query('SET SESSION group_concat_max_len = 16777216');
    await assert.rejects(c.query('SELECT GROUP_CONCAT(REPEAT(a.v, 5000)) AS packed FROM t a, t b, t c'), (e: { errno: number }) => e.errno === 1301);
    const [rows] = await c.query('SELECT REPEAT(\'y\', 10) AS small');
    assert.deepEqual(rows, [{ small: 'yyyyyyyyyy' }]);
  } finally {
    await c.end();
  }
  const ev = statements(gate).filter((e) => e.error?.code === 'RESULT_TOO_LARGE');
  assert.equal(ev.length, 3);
  assert.equal(ev[0].rowsReturned, 0);
});

test('cursors: rows fetched through COM_STMT_FETCH are capped across fetches and masked', async () => {
  const raw = await RawMysql.login(ep.port, 'both', PASSWORD, db.name);
  const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
  const param = (v: number) => Buffer.concat([Buffer.from([0, 1, 0x08, 0]), Buffer.from(new BigInt64Array([BigInt(v)]).buffer)]);
  try {
    // capped at 2 rows
    const prep = await raw.command(Buffer.concat([Buffer.from([0x16]), Buffer.from('SELECT id FROM t WHERE id > ? ORDER BY id')]), 'prepare');
    const id = prep.summary.statementId!;
    const exec = await raw.command(Buffer.concat([Buffer.from([0x17]), u32(id), Buffer.from([1]), u32(1), param(0)]), 'query');
    assert.equal(exec.summary.error, undefined);
    assert.equal(exec.summary.rows, 0, 'a cursor: metadata only');
    const f1 = await raw.command(Buffer.concat([Buffer.from([0x1c]), u32(id), u32(1)]), 'fetch');
    assert.equal(f1.summary.rows, 1);
    const f2 = await raw.command(Buffer.concat([Buffer.from([0x1c]), u32(id), u32(10)]), 'fetch');
    assert.equal(f2.summary.rows, 1, 'the cap counts across fetches');
    assert.equal(f2.summary.warnings, 1);
    const f3 = await raw.command(Buffer.concat([Buffer.from([0x1c]), u32(id), u32(10)]), 'fetch');
    assert.equal(f3.summary.rows, 0);
    assert.ok(f3.summary.status & 0x80, 'LAST_ROW_SENT');
    // masked
    const prep2 = await raw.command(Buffer.concat([Buffer.from([0x16]), Buffer.from('SELECT id, phone FROM p WHERE id >= ? ORDER BY id')]), 'prepare');
    const id2 = prep2.summary.statementId!;
    const exec2 = await raw.command(Buffer.concat([Buffer.from([0x17]), u32(id2), Buffer.from([1]), u32(1), param(1)]), 'query');
    assert.equal(exec2.summary.error, undefined);
    assert.equal(exec2.summary.columns[1].type, 0xfd, 'the masked column is announced as VAR_STRING');
    const f4 = await raw.command(Buffer.concat([Buffer.from([0x1c]), u32(id2), u32(10)]), 'fetch');
    assert.equal(f4.summary.rows, 2);
    assert.ok(f4.bytes.includes(Buffer.from('138****5678')));
    assert.ok(!f4.bytes.includes(Buffer.from('13812345678')), 'the clear value never leaves');
  } finally {
    raw.close();
  }
});

test('statement timeout: the query is cancelled on the database, the session lives on', async () => {
  const c = await connect(ep.port, { database: db.name });
  try {
    const started = Date.now();
    await assert.rejects(c.query('SELECT SLEEP(20) AS s'), (e: { errno: number; sqlState: string; message: string }) => {
      assert.equal(e.errno, 3024);
      assert.equal(e.sqlState, '57014');
      assert.match(e.message, /statement-timeout/);
      return true;
    });
    assert.ok(Date.now() - started < 10_000, 'cancelled long before 20 s');
    const [rows] = await c.query('SELECT 1 AS ok');
    assert.deepEqual(rows, [{ ok: 1 }]);
  } finally {
    await c.end();
  }
  const ev = statements(gate).find((e) => e.sql === 'SELECT SLEEP(20) AS s');
  assert.equal(ev?.decision, 'failed');
  assert.equal(ev?.error?.code, 'STATEMENT_TIMEOUT');
});

test('full-scan guard: a full scan of a big table is refused after EXPLAIN on the user\'s session; an index lookup runs', async () => {
  const c = await connect(ep.port, { database: db.name });
  try {
    await assert.rejects(c.query('SELECT v FROM t WHERE n = 3'), (e: { errno: number; message: string }) => {
      assert.equal(e.errno, 1235);
      assert.match(e.message, /full-scan-guard/);
      return true;
    });
    const [rows] = await c.query('SELECT v FROM t WHERE id = 3');
    assert.deepEqual(rows, [{ v: 'c' }]);
  } finally {
    await c.end();
  }
  const refused = statements(gate).find((e) => e.sql === 'SELECT v FROM t WHERE n = 3');
  assert.equal(refused?.decision, 'refused');
  assert.equal(refused?.error?.code, 'FULL_SCAN_REFUSED');
});
