import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serialize } from 'pg-protocol';
import { Parser } from 'pg-protocol/dist/parser.js';
import { createPgDatabase, pgConnect, type TempDatabase } from '../../helpers/db.js';
import type { Directives, Judgement, SessionContext } from '../../../governance/decision.js';
import { TestGate } from '../../helpers/test-gate.js';
import { PASSWORD, pgThrough, psqlResult, startEndpoint, testGate, type Endpoint } from './setup.js';

const psqlCopy = (url: string, sql: string) => psqlResult(url, ['-c', sql]);
import { RawClient } from './raw-client.js';

// What the engine asks the endpoint to enforce while a statement runs:
// row caps, result-size caps, time limits; masks are refused until served.
let db: TempDatabase;
let ep: Endpoint;
let gate: TestGate;
let directives: Partial<Directives> = {};
/** Statements the directives apply to (the engine would attach big tables only to statements reading them). */
let appliesTo: RegExp = /[\s\S]*/;

before(async () => {
  db = await createPgDatabase('pgdir', 'CREATE TABLE series AS SELECT g AS n, repeat(\'x\', 100) AS pad FROM generate_series(1, 50) g');
  gate = testGate(db.name);
  const judge = gate.judge.bind(gate);
  gate.judge = async (s: SessionContext, sql: string): Promise<Judgement> => {
    const j = await judge(s, sql);
    return { ...j, statements: j.statements.map((d) => (appliesTo.test(d.facts.text) ? { ...d, directives: { ...d.directives, ...directives } } : d)) };
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
  // Packing rows into one value (string_agg, json_agg, array_agg) is held to the same limit.
  for (const packed of ["SELECT string_agg(pad, ',') AS p FROM series", 'SELECT json_agg(s) AS p FROM series s', 'SELECT array_agg(pad) AS p FROM series']) {
    const notices: string[] = [];
    const onNotice = (n: { message?: string }) => notices.push(n.message ?? '');
    c.on('notice', onNotice);
    const p = await c.query(packed);
    c.off('notice', onNotice);
    assert.equal(p.rows.length, 0, `${packed}: the packed row is not sent`);
    assert.ok(notices.some((m) => /max-result-bytes/.test(m)), `${packed}: the client is told`);
  }
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

test('time limit: the client lifting its own statement_timeout changes nothing', async () => {
  directives = { timeoutMs: 300 };
  const c = await pgThrough(ep.url('alice', db.name));
  await c.query('SET statement_timeout = 0');
  await assert.rejects(c.query('SELECT pg_sleep(20)'), (e: { code?: string; message: string }) => e.code === '57014' && /statement-timeout/.test(e.message));
  await c.query("SET LOCAL statement_timeout = '1h'");
  await assert.rejects(c.query('SELECT pg_sleep(20)'), (e: { code?: string }) => e.code === '57014');
  directives = {};
  await c.end();
});

test('row cap holds for COPY ... TO STDOUT, text and binary', async () => {
  directives = { maxRows: 4 };
  const text = await psqlCopy(ep.url('alice', db.name), 'COPY (SELECT n FROM series ORDER BY n) TO STDOUT');
  assert.equal(text.status, 0, text.stderr);
  assert.deepEqual(text.stdout.trim().split('\n'), ['1', '2', '3', '4']);
  assert.match(text.stderr, /result cut to 4 rows.*row-cap/);
  // Binary: 4 rows, then the trailer the client needs to finish cleanly.
  const raw = await RawClient.open(ep.port, 'bob', db.name, PASSWORD);
  const out = names(await raw.roundTrip(serialize.query('COPY (SELECT n FROM series ORDER BY n) TO STDOUT (FORMAT binary)')));
  const data = out.filter((m) => m.name === 'copyData');
  assert.equal(data.length, 5, '4 rows + trailer');
  assert.deepEqual([...data[4].chunk], [0xff, 0xff]);
  assert.match(out.find((m) => m.name === 'commandComplete').text, /^COPY 4$/);
  raw.close();
  directives = {};
});

const mask = (index: number, column: string) => ({
  index, kind: 'partial' as const, keepFirst: 1, keepLast: 1, maskChar: '*', alias: '', rule: 'masking',
  column: { database: db.name, schema: 'public', table: 'series', column },
});

test('masking: fields rewritten and re-described as text (simple and extended), audit says masked', async () => {
  directives = { masks: [mask(0, 'n'), mask(1, 'pad')] };
  const c = await pgThrough(ep.url('alice', db.name));
  const r = await c.query('SELECT n, pad, n AS plain FROM series WHERE n IN (5, 12) ORDER BY n');
  assert.deepEqual(r.rows, [{ n: '*', pad: 'x' + '*'.repeat(98) + 'x', plain: 5 }, { n: '**', pad: 'x' + '*'.repeat(98) + 'x', plain: 12 }]);
  assert.equal(r.fields[0].dataTypeID, 25, 'masked int column described as text');
  assert.equal(r.fields[2].dataTypeID, 23);
  const x = await c.query({ text: 'SELECT n, pad FROM series WHERE n = $1', values: [42] });
  assert.deepEqual(x.rows, [{ n: '**', pad: 'x' + '*'.repeat(98) + 'x' }]);
  assert.equal(x.fields[0].dataTypeID, 25);
  await c.end();
  const ev = gate.events.filter((e) => e.sql === 'SELECT n, pad FROM series WHERE n = $1').at(-1)!;
  assert.equal(ev.decision, 'masked');
  directives = {};
});

test('provenance: a masked output the server attributes to another column (or to none) is withheld', async () => {
  const admin = await pgConnect(db.url);
  const oid = Number((await admin.query(`SELECT 'series'::regclass::oid AS oid`)).rows[0].oid);
  await admin.end();
  const at = (attnum: number) => ({ ...mask(0, 'n'), origin: { tableOid: oid, attnum } });
  // Agreeing provenance: masked as usual.
  directives = { masks: [at(1)] };
  let c = await pgThrough(ep.url('alice', db.name));
  assert.deepEqual((await c.query('SELECT n FROM series WHERE n = 7')).rows, [{ n: '*' }]);
  await c.end();
  // The analysis says output 1 is series.n, the server says series.pad: nothing is sent, the session ends.
  directives = { masks: [at(1)] };
  c = await pgThrough(ep.url('alice', db.name));
  c.on('error', () => undefined);
  await assert.rejects(c.query('SELECT pad FROM series WHERE n = 7'), (e: { code?: string; message: string }) => e.code === '42501' && /withheld/.test(e.message));
  await c.end().catch(() => undefined);
  // A computed output (the server reports no table) where the analysis saw a bare column.
  c = await pgThrough(ep.url('alice', db.name));
  c.on('error', () => undefined);
  await assert.rejects(c.query("SELECT n || '' AS n FROM series WHERE n = 7"), (e: { code?: string }) => e.code === '42501');
  await c.end().catch(() => undefined);
  // Extended protocol: the Describe's RowDescription is checked the same way.
  c = await pgThrough(ep.url('alice', db.name));
  c.on('error', () => undefined);
  await assert.rejects(c.query({ text: 'SELECT pad FROM series WHERE n = $1', values: [7] }), (e: { code?: string }) => e.code === '42501');
  await c.end().catch(() => undefined);
  directives = {};
});

test('masking: binary result format and COPY of masked columns are refused (fail closed)', async () => {
  directives = { masks: [mask(0, 'n')] };
  const raw = await RawClient.open(ep.port, 'bob', db.name, PASSWORD);
  const out = names(await raw.extended('SELECT n FROM series WHERE n = 1', 1));
  assert.equal(out[0].name, 'parseComplete');
  assert.equal(out[1].name, 'error');
  assert.match(out[1].message, /text format/);
  assert.ok(!out.some((m) => m.name === 'dataRow'));
  const text = names(await raw.extended('SELECT n FROM series WHERE n = 1', 0));
  assert.equal(text.find((m) => m.name === 'dataRow')?.fields[0].toString(), '*', 'text format is masked');
  raw.close();
  const c = await pgThrough(ep.url('alice', db.name));
  const realJudge = gate.judge;
  gate.judge = async (s, sql) => {
    const j = await realJudge(s, sql);
    return { ...j, statements: j.statements.map((d) => ({ ...d, facts: { ...d.facts, kind: /^copy/i.test(sql) ? 'copy' : d.facts.kind } })) };
  };
  await assert.rejects(c.query('COPY series TO STDOUT'), (e: { code?: string }) => e.code === '0A000');
  gate.judge = realJudge;
  await c.end();
  directives = {};
});

test('full-scan guard: a big table read without an index is EXPLAINed on the session and refused; parameters refused', async () => {
  directives = { fullScanMaxRows: 1000, bigTables: [{ schema: 'public', table: 'series', rows: 5_000_000 }] };
  appliesTo = /series/;
  const c = await pgThrough(ep.url('alice', db.name));
  await assert.rejects(c.query('SELECT count(*) FROM series'), (e: { code?: string; message: string }) => e.code === '54000' && /full-scan-guard/.test(e.message));
  await assert.rejects(c.query({ text: 'SELECT n FROM series WHERE n = $1', values: [1] }), (e: { code?: string }) => e.code === '54000');
  await c.query('BEGIN');
  await assert.rejects(c.query('SELECT * FROM series'), (e: { code?: string }) => e.code === '54000');
  await assert.rejects(c.query('SELECT 1'), (e: { code?: string }) => e.code === '25P02', 'refusal inside BEGIN aborts, as usual');
  await c.query('ROLLBACK');
  directives = { fullScanMaxRows: 1000, bigTables: [{ schema: 'public', table: 'other_table', rows: 5_000_000 }] };
  assert.equal((await c.query('SELECT count(*)::int AS n FROM series')).rows[0].n, 50, 'a plan not touching the big table passes');
  directives = {};
  appliesTo = /[\s\S]*/;
  await c.end();
});

test('pipeline: a statement needing an idle upstream after unsynchronised messages is refused, not deadlocked', async () => {
  directives = { fullScanMaxRows: 1000, bigTables: [{ schema: 'public', table: 'series', rows: 5_000_000 }] };
  const raw = await RawClient.open(ep.port, 'bob', db.name, PASSWORD);
  const out = names(await raw.roundTrip(
    serialize.parse({ name: 's1', text: 'SELECT 1' }), serialize.bind({ statement: 's1' }), serialize.execute({}),
    serialize.parse({ text: 'SELECT * FROM series' }), serialize.bind({}), serialize.execute({}), serialize.sync(),
  ));
  assert.deepEqual(out.map((m) => m.name), ['parseComplete', 'bindComplete', 'dataRow', 'commandComplete', 'error', 'readyForQuery']);
  assert.match(out[4].message, /send Sync first/);
  raw.close();
  directives = {};
});

test('audit sink failure: later statements are refused rather than run unaudited', async () => {
  const c = await pgThrough(ep.url('alice', db.name));
  const audit = gate.audit.bind(gate);
  gate.audit = () => { throw new Error('disk full'); };
  try {
    await c.query('SELECT 1'); // ran; its record could not be written
    await assert.rejects(c.query('SELECT 2'), (e: { code?: string }) => e.code === '58030');
    await assert.rejects(c.query({ text: 'SELECT $1::int', values: [3] }), (e: { code?: string }) => e.code === '58030');
  } finally {
    gate.audit = audit;
    await c.end();
  }
});
