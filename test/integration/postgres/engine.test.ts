import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPgDatabase, pgConnect, pgUrl, withDatabase, type TempDatabase } from '../../helpers/db.js';
import type { AuditEvent } from '../../../governance/audit/event.js';
import { createGate, type EngineGate } from '../../../governance/gate-impl.js';
import { initAnalysis } from '../../../governance/analyze/analyze.js';
import type { Policy } from '../../../rules/policy-schema.js';
import { loadPgCatalog } from '../../../governance/catalog/catalog.js';
import { CatalogProvider } from '../../../governance/catalog/provider.js';
import { PASSWORD, pgThrough, psqlResult, startEndpoint, testPolicy, type Endpoint } from './setup.js';

// The endpoint with the real governance gate (governance/gate-impl.ts): address
// checks, analysis, catalog, rules, audit.
const catalogs = new CatalogProvider(async (database) => {
  const c = await pgConnect(withDatabase(pgUrl(), database ?? 'postgres'));
  try { return await loadPgCatalog(c); } finally { await c.end(); }
}, { ttlMs: 0 });

let db: TempDatabase;
let ep: Endpoint;
let gate: EngineGate;
let policy: Policy;
const events: AuditEvent[] = [];

before(async () => {
  await initAnalysis();
  db = await createPgDatabase('pgeng', `
    CREATE TABLE customers (id int PRIMARY KEY, name text, phone text);
    INSERT INTO customers VALUES (1, 'Ann', '13812345678'), (2, 'Bo', '13900000000');
    CREATE TABLE orders (id int PRIMARY KEY, amount int);
    INSERT INTO orders VALUES (1, 10), (2, 20);
    CREATE SCHEMA s2;
    CREATE TABLE s2.customers (id int, name text);
    INSERT INTO s2.customers VALUES (99, 'hidden');`);
  const base = testPolicy(db.name);
  policy = {
      ...base,
      users: { ...base.users, alice: { ...base.users.alice, roles: ['analyst'] }, bob: { ...base.users.bob, roles: ['support'] } },
      masking: [{
        instance: 'pg1', database: db.name, schema: 'public', table: 'customers', column: 'phone', kind: 'partial',
        keep_first: 3, keep_last: 4, mask_char: '*', alias: '******', roles: ['support'], exempt_roles: [],
      }],
      roles: {
        analyst: {
          grants: [
            { instance: 'pg1', database: db.name, schema: 'public', table: 'customers', columns: ['id', 'name'], privileges: ['select'] },
            { instance: 'pg1', database: db.name, schema: 'public', table: 'orders', privileges: ['select', 'update'] },
          ],
          statement_kinds: ['select', 'update', 'transaction', 'set', 'copy'], procedures: [], may_skip: [], unqualified_dml_tables: [], allow_file_io: false, approver: false,
        },
        support: {
          grants: [{ instance: 'pg1', database: db.name, schema: 'public', table: 'customers', privileges: ['select'] }],
          statement_kinds: ['select', 'transaction', 'other'], procedures: [], may_skip: [], unqualified_dml_tables: [], allow_file_io: false, approver: false,
        },
      },
  };
  gate = createGate({ policy: () => policy, audit: { write: (e) => events.push(e) }, catalogFor: (_i, database) => catalogs.get(database) });
  ep = await startEndpoint(gate);
});
after(async () => {
  await ep?.close();
  await db?.drop();
});

const refused = (e: { code?: string; message: string }) => e.code === '42501' || e.code === '42P01' || e.code === '42703' || e.code === '0A000';

test('engine: every information_schema view reads through sqlgate, as ORMs and tools read them, but user mappings (FDW passwords)', async () => {
  const direct = await pgConnect(withDatabase(pgUrl(), db.name));
  const views = (await direct.query("SELECT c.relname AS v FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'information_schema' AND c.relkind = 'v' ORDER BY 1")).rows.map((r: { v: string }) => r.v);
  await direct.end();
  assert.ok(views.length > 60, `${views.length} views`);
  const c = await pgThrough(ep.url('alice', db.name));
  try {
    const refused: string[] = [];
    for (const v of views) {
      await c.query(`SELECT * FROM information_schema.${v} LIMIT 1`).catch((e: { message: string }) => { refused.push(`${v}: ${e.message}`); });
    }
    assert.deepEqual(refused.map((r) => r.split(':')[0]), ['_pg_user_mappings', 'user_mapping_options', 'user_mappings'], refused.join('\n'));
    assert.ok(refused.every((r) => /pg_user_mapping \[rule column-acl\]/.test(r)));
    const cols = await c.query("SELECT column_name, data_type, character_maximum_length FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'orders' ORDER BY ordinal_position");
    assert.deepEqual(cols.rows.map((r: { column_name: string }) => r.column_name), ['id', 'amount']);
  } finally {
    await c.end();
  }
});

test('engine: a governed SELECT is allowed, a column is refused, predicates are no oracle', async () => {
  const c = await pgThrough(ep.url('alice', db.name));
  assert.deepEqual((await c.query('SELECT id, name FROM customers ORDER BY id')).rows, [{ id: 1, name: 'Ann' }, { id: 2, name: 'Bo' }]);
  await assert.rejects(c.query('SELECT phone FROM customers'), (e: { code?: string; message: string }) => e.code === '42501' && /phone/.test(e.message));
  await assert.rejects(c.query("SELECT id FROM customers WHERE phone LIKE '138%'"), refused);
  await assert.rejects(c.query('SELECT * FROM customers'), refused);
  await assert.rejects(c.query({ text: 'SELECT phone FROM customers WHERE id = $1', values: [1] }), refused, 'extended protocol: refused at Parse');
  assert.equal((await c.query({ text: 'SELECT name FROM customers WHERE id = $1', values: [2] })).rows[0].name, 'Bo');
  await c.end();
});

test('engine: unqualified UPDATE refused, session usable, transaction aborted inside BEGIN', async () => {
  const c = await pgThrough(ep.url('alice', db.name));
  await assert.rejects(c.query('UPDATE orders SET amount = 0'), (e: { code?: string; message: string }) => e.code === '42501' && /no-unqualified-dml/.test(e.message));
  await c.query('UPDATE orders SET amount = 11 WHERE id = 1');
  await c.query('BEGIN');
  await c.query('UPDATE orders SET amount = 12 WHERE id = 1');
  await assert.rejects(c.query('UPDATE orders SET amount = 0'), refused);
  await assert.rejects(c.query('SELECT 1'), (e: { code?: string }) => e.code === '25P02');
  assert.equal(c.getTransactionStatus(), 'E');
  await c.query('ROLLBACK');
  const admin = await pgConnect(db.url);
  assert.deepEqual((await admin.query('SELECT id, amount FROM orders ORDER BY id')).rows, [{ id: 1, amount: 11 }, { id: 2, amount: 20 }]);
  await admin.end();
  await c.end();
});

test('engine: a multi-statement message with one refused statement runs nothing', async () => {
  const c = await pgThrough(ep.url('alice', db.name));
  await assert.rejects(c.query('UPDATE orders SET amount = 99 WHERE id = 2; SELECT phone FROM customers'), refused);
  await c.end();
  const admin = await pgConnect(db.url);
  assert.equal((await admin.query('SELECT amount FROM orders WHERE id = 2')).rows[0].amount, 20);
  await admin.end();
});

test('engine: names resolve on the tracked search_path, and prepared statements are re-judged after it changes', async () => {
  const c = await pgThrough(ep.url('alice', db.name));
  const q = { name: 'q', text: 'SELECT id, name FROM customers ORDER BY id', values: [] };
  assert.equal((await c.query(q)).rows.length, 2);
  await c.query('SET search_path TO s2');
  await assert.rejects(c.query('SELECT id, name FROM customers'), refused, 's2.customers is not granted');
  await assert.rejects(c.query(q), refused, 'the prepared statement now means s2.customers');
  await c.query('RESET search_path');
  assert.equal((await c.query('SELECT id, name FROM customers ORDER BY id')).rows.length, 2);
  await c.end();
});

test('engine: psql sees refusals with the rule named, and COPY of a refused column is refused', async () => {
  const conninfo = `postgresql://alice:${encodeURIComponent(PASSWORD)}@127.0.0.1:${ep.port}/${db.name}?sslmode=require`;
  const r = await psqlResult(conninfo, ['-v', 'ON_ERROR_STOP=0', '-f', '-'], 'SELECT phone FROM customers;\nCOPY customers (phone) TO STDOUT;\nSELECT name FROM customers WHERE id = 1;\n');
  assert.match(r.stderr, /ERROR: {2}sqlgate: .*phone/);
  assert.equal((r.stderr.match(/ERROR/g) ?? []).length, 2, r.stderr);
  assert.equal(r.stdout.trim(), 'Ann');
  // COPY FROM STDIN is an INSERT: alice may not insert into orders, and nothing arrives.
  const cp = await psqlResult(conninfo, ['-c', 'COPY orders FROM STDIN'], '3\t30\n');
  assert.match(cp.stderr, /ERROR: {2}sqlgate: /);
  const admin = await pgConnect(db.url);
  assert.equal((await admin.query('SELECT count(*)::int AS n FROM orders')).rows[0].n, 2);
  await admin.end();
  const ok = await psqlResult(conninfo, ['-c', 'COPY (SELECT id, name FROM customers ORDER BY id) TO STDOUT']);
  assert.equal(ok.stdout, '1\tAnn\n2\tBo\n', ok.stderr);
});

test('engine: audit records match statements one to one, refusals with their rule', async () => {
  const before = events.length;
  const c = await pgThrough(ep.url('alice', db.name));
  await c.query('SELECT id FROM customers');
  await assert.rejects(c.query('SELECT phone FROM customers'));
  await c.end();
  const ev = events.slice(before).filter((e) => e.type === 'statement');
  assert.deepEqual(ev.map((e) => [e.sql, e.decision]), [['SELECT id FROM customers', 'allowed'], ['SELECT phone FROM customers', 'refused']]);
  assert.ok(ev[1].rules.length > 0 && ev[0].fingerprint);
  assert.equal(ev[0].rowsReturned, 2);
});

test('engine: address allow lists and unknown users through the real gate', async () => {
  const saved = policy;
  try {
    policy = { ...saved, instances: { pg1: { ...saved.instances.pg1, ip_allow: '10.0.0.0/8' } } };
    await assert.rejects(pgThrough(ep.url('alice', db.name)), (e: { code?: string }) => e.code === '28000');
    policy = { ...saved, users: { ...saved.users, alice: { ...saved.users.alice, ip_allow: '192.168.1.1' } } };
    await assert.rejects(pgThrough(ep.url('alice', db.name)), (e: { code?: string }) => e.code === '28000');
    policy = saved;
    // Unknown user: a password exchange, then the same failure as a wrong password.
    await assert.rejects(pgThrough(ep.url('mallory', db.name)), (e: { code?: string; message: string }) => e.code === '28P01' && /password authentication failed/.test(e.message));
    const c = await pgThrough(ep.url('alice', db.name));
    await c.end();
  } finally {
    policy = saved;
  }
});

test('engine: a masked column is served masked on the wire (simple and extended), and is no oracle', async () => {
  const c = await pgThrough(ep.url('bob', db.name));
  assert.deepEqual((await c.query('SELECT id, phone AS p FROM customers ORDER BY id')).rows, [{ id: 1, p: '138****5678' }, { id: 2, p: '139****0000' }]);
  assert.deepEqual((await c.query({ text: 'SELECT phone FROM customers WHERE id = $1', values: [1] })).rows, [{ phone: '138****5678' }]);
  await assert.rejects(c.query("SELECT id FROM customers WHERE phone LIKE '138%'"), refused);
  await assert.rejects(c.query('SELECT upper(phone) FROM customers'), refused);
  await c.end();
  const ev = events.filter((e) => e.user === 'bob' && e.type === 'statement' && e.decision === 'masked');
  assert.equal(ev.length, 2);
});

test('engine: a cursor\'s rows are masked when FETCH returns them (psycopg2 named cursors, Django iterator())', async () => {
  const c = await pgThrough(ep.url('bob', db.name));
  try {
    await c.query('BEGIN');
    await c.query('DECLARE "srv" CURSOR WITHOUT HOLD FOR SELECT id, phone FROM customers ORDER BY id');
    assert.deepEqual((await c.query('FETCH FORWARD 1 FROM "srv"')).rows, [{ id: 1, phone: '138****5678' }]);
    assert.deepEqual((await c.query({ text: 'FETCH ALL FROM "srv"', values: [] })).rows, [{ id: 2, phone: '139****0000' }], 'extended protocol');
    await c.query('CLOSE "srv"');
    // Declared and fetched in one message; and a cursor that outlives its transaction.
    const [, one] = await c.query('DECLARE c2 CURSOR FOR SELECT phone, name FROM customers ORDER BY id; FETCH 1 FROM c2') as unknown as { rows: unknown[] }[];
    assert.deepEqual(one.rows, [{ phone: '138****5678', name: 'Ann' }]);
    await c.query('DECLARE held CURSOR WITH HOLD FOR SELECT phone FROM customers ORDER BY id');
    await c.query('COMMIT');
    assert.deepEqual((await c.query('FETCH 1 FROM held')).rows, [{ phone: '138****5678' }]);
    await c.query('CLOSE held');
    // A cursor of the same name over unmasked columns is not masked.
    await c.query('BEGIN');
    await c.query('DECLARE c2 CURSOR FOR SELECT name FROM customers ORDER BY id');
    assert.deepEqual((await c.query('FETCH 1 FROM c2')).rows, [{ name: 'Ann' }]);
    await assert.rejects(c.query('DECLARE b BINARY CURSOR FOR SELECT phone FROM customers'), refused);
    await c.query('ROLLBACK');
  } finally {
    await c.end();
  }
});

test('engine: statements judged without waiting (the hot path) are governed as on the waiting path', async () => {
  // A gate that counts the waiting judgements: once the catalog is at hand,
  // every statement should be judged by judgeNow, and the controls must hold there too.
  let waited = 0;
  const counting: EngineGate = { ...gate, judge: (s, q, x) => { waited++; return gate.judge(s, q, x); } };
  const hot = await startEndpoint(counting);
  try {
    const a = await pgThrough(hot.url('alice', db.name));
    const b = await pgThrough(hot.url('bob', db.name));
    await a.query('SELECT 1'); // loads the catalog: a waiting judgement
    await new Promise((r) => setTimeout(r, 20));
    const start = waited;
    for (let i = 0; i < 20; i++) {
      assert.equal((await a.query(`SELECT name FROM customers WHERE id = ${1 + (i % 2)}`)).rows[0].name, i % 2 ? 'Bo' : 'Ann');
      assert.equal((await b.query(`SELECT phone FROM customers WHERE id = ${1 + (i % 2)}`)).rows[0].phone, i % 2 ? '139****0000' : '138****5678');
      assert.equal((await b.query({ text: 'SELECT phone FROM customers WHERE id = $1', values: [1] })).rows[0].phone, '138****5678');
    }
    assert.equal(waited, start, 'allowed statements with the catalog at hand never waited');
    // Refusals leave the hot path and are worded by the waiting one, however warm the caches are.
    for (const sql of ['SELECT phone FROM customers WHERE id = 1', 'SELECT/**/phone FROM customers', 'SELECT id FROM customers; SELECT phone FROM customers',
      'UPDATE orders SET amount = 0', 'SELECT * FROM customers', 'WITH x AS (SELECT phone FROM customers) SELECT * FROM x',
      'SELECT id FROM customers UNION SELECT phone::int FROM customers', 'select "phone" from "public"."customers"']) {
      await assert.rejects(a.query(sql), refused, sql);
      await assert.rejects(a.query(sql), refused, `${sql} (again, all caches warm)`);
    }
    assert.ok(waited > start, 'refusals went through the waiting judgement');
    await assert.rejects(b.query("SELECT id FROM customers WHERE phone LIKE '138%'"), refused, 'a masked column is no oracle on the hot path');
    await a.end();
    await b.end();
  } finally {
    await hot.close();
  }
});
