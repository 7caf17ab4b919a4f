import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPgDatabase, pgConnect, pgUrl, withDatabase, type TempDatabase } from '../../helpers/db.js';
import type { Judgement, SessionContext } from '../../../governance/decision.js';
import { judge as engineJudge } from '../../../governance/engine/judge.js';
import { analyzeCached, initAnalysis } from '../../../governance/analyze/analyze.js';
import { loadPgCatalog } from '../../../governance/catalog/catalog.js';
import { CatalogProvider } from '../../../governance/catalog/provider.js';
import { TestGate } from '../../helpers/test-gate.js';
import { PASSWORD, pgThrough, psqlResult, startEndpoint, testPolicy, type Endpoint } from './setup.js';

// The endpoint with the real governance engine (analysis, catalog, rules),
// assembled here from governance/ until governance/gate-impl.ts lands.
class EngineGate extends TestGate {
  private readonly catalogs = new CatalogProvider(async (database) => {
    const c = await pgConnect(withDatabase(pgUrl(), database ?? 'postgres'));
    try { return await loadPgCatalog(c); } finally { await c.end(); }
  }, { ttlMs: 0 });

  override judge(session: SessionContext, sql: string): Promise<Judgement> {
    return engineJudge(session, sql, { policy: this.policy(), analyze: analyzeCached, catalogFor: (db) => this.catalogs.get(db) });
  }
}

let db: TempDatabase;
let ep: Endpoint;
let gate: EngineGate;

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
  gate = new EngineGate({
    policy: {
      ...base,
      users: { ...base.users, alice: { ...base.users.alice, roles: ['analyst'] } },
      roles: {
        analyst: {
          grants: [
            { instance: 'pg1', database: db.name, schema: 'public', table: 'customers', columns: ['id', 'name'], privileges: ['select'] },
            { instance: 'pg1', database: db.name, schema: 'public', table: 'orders', privileges: ['select', 'update'] },
          ],
          statement_kinds: ['select', 'update', 'transaction', 'set'], procedures: [], may_skip: [], allow_file_io: false, approver: false,
        },
      },
    },
  });
  ep = await startEndpoint(gate);
});
after(async () => {
  await ep?.close();
  await db?.drop();
});

const refused = (e: { code?: string; message: string }) => e.code === '42501' || e.code === '42P01' || e.code === '42703' || e.code === '0A000';

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
});

test('engine: audit records match statements one to one, refusals with their rule', async () => {
  const before = gate.events.length;
  const c = await pgThrough(ep.url('alice', db.name));
  await c.query('SELECT id FROM customers');
  await assert.rejects(c.query('SELECT phone FROM customers'));
  await c.end();
  const ev = gate.events.slice(before).filter((e) => e.type === 'statement');
  assert.deepEqual(ev.map((e) => [e.sql, e.decision]), [['SELECT id FROM customers', 'allowed'], ['SELECT phone FROM customers', 'refused']]);
  assert.ok(ev[1].rules.length > 0 && ev[0].fingerprint);
  assert.equal(ev[0].rowsReturned, 2);
});
