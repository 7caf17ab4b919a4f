import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serialize } from 'pg-protocol';
import { Parser } from 'pg-protocol/dist/parser.js';
import { createPgDatabase, pgConnect, type TempDatabase } from '../../helpers/db.js';
import type { Directives, Judgement, SessionContext } from '../../../governance/decision.js';
import { TestGate } from '../../helpers/test-gate.js';
import { PASSWORD, pgThrough, startEndpoint, testGate, type Endpoint } from './setup.js';
import { RawClient } from './raw-client.js';

// What the engine asks the endpoint to enforce while a statement runs:
// row caps, result-size caps, time limits; masks are refused until served.
let db: TempDatabase;
let ep: Endpoint;
let gate: TestGate;
let directives: Partial<Directives> = {};

before(async () => {
  db = await createPgDatabase('pgdir', 'CREATE TABLE series AS SELECT g AS n, repeat(\'x\', 100) AS pad FROM generate_series(1, 50) g');
  gate = testGate(db.name);
  const judge = gate.judge.bind(gate);
  gate.judge = async (s: SessionContext, sql: string): Promise<Judgement> => {
    const j = await judge(s, sql);
    return { ...j, statements: j.statements.map((d) => ({ ...d, directives: { ...d.directives, ...directives } })) };
  };
  ep = await startEndpoint(gate);
});
after(async () => {
  await ep?.close();
  await db?.drop();
});

function names(buf: Buffer): any[] {
  const out: any[] = [];
  new Parser().parse(buf, (m) => out.push(m));
  return out;
}

test('row cap: extra rows cut, the client told, the audit says cut', async () => {
  directives = { maxRows: 7 };
  const c = await pgThrough(ep.url('alice', db.name));
  const notices: string[] = [];
  c.on('notice', (n) => notices.push(n.message ?? ''));
  const r = await c.query('SELECT n FROM series ORDER BY n');
  assert.deepEqual(r.rows.map((x) => x.n), [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(r.rowCount, 7);
  assert.match(notices[0], /result cut to 7 rows.*row-cap/);
  const ex = await c.query({ text: 'SELECT n FROM series WHERE n > $1 ORDER BY n', values: [10] });
  assert.equal(ex.rows.length, 7);
  const small = await c.query('SELECT n FROM series WHERE n <= 7');
  assert.equal(small.rows.length, 7, 'exactly at the cap: nothing cut');
  await c.end();
  const ev = gate.events.filter((e) => e.sql === 'SELECT n FROM series ORDER BY n').at(-1)!;
  assert.equal(ev.decision, 'cut');
  assert.equal(ev.rowsReturned, 7);
  assert.ok(ev.rules.includes('row-cap'));
  directives = {};
});

test('row cap holds across Executes with a row limit (PortalSuspended)', async () => {
  directives = { maxRows: 5 };
  const raw = await RawClient.open(ep.port, 'bob', db.name, PASSWORD);
  const out = names(await raw.roundTrip(
    serialize.parse({ text: 'SELECT n FROM series ORDER BY n' }), serialize.bind({}),
    serialize.execute({ rows: 3 }), serialize.execute({ rows: 3 }), serialize.execute({ rows: 3 }), serialize.execute({}), serialize.sync(),
  ));
  assert.equal(out.filter((m) => m.name === 'dataRow').length, 5);
  raw.close();
  directives = {};
});

test('result-size cap', async () => {
  directives = { maxResultBytes: 1000 };
  const c = await pgThrough(ep.url('alice', db.name));
  const r = await c.query('SELECT n, pad FROM series ORDER BY n');
  assert.ok(r.rows.length > 0 && r.rows.length < 10, `${r.rows.length} rows`);
  await c.end();
  directives = {};
});

test('time limit: the query is cancelled on the database and the client gets 57014', async () => {
  directives = { timeoutMs: 300 };
  const c = await pgThrough(ep.url('alice', db.name));
  await assert.rejects(c.query('SELECT pg_sleep(20)'), (e: { code?: string; message: string }) => e.code === '57014' && /statement-timeout/.test(e.message));
  const admin = await pgConnect(db.url);
  const left = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND query = 'SELECT pg_sleep(20)' AND state = 'active'`, [db.name]);
  await admin.end();
  assert.equal(left.rows[0].n, 0, 'nothing left running upstream');
  directives = {};
  assert.equal((await c.query('SELECT 1 AS x')).rows[0].x, 1);
  await c.end();
});

test('masking directives are refused (fail closed) until the endpoint serves them', async () => {
  directives = {
    masks: [{ index: 0, kind: 'partial', keepFirst: 1, keepLast: 1, maskChar: '*', alias: '', rule: 'masking', column: { database: db.name, schema: 'public', table: 'series', column: 'pad' } }],
  };
  const c = await pgThrough(ep.url('alice', db.name));
  await assert.rejects(c.query('SELECT pad FROM series'), (e: { code?: string }) => e.code === '0A000');
  directives = {};
  await c.end();
});
