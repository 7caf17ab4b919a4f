/**
 * Daily quotas on the PostgreSQL endpoint, with the real gate and a real
 * control store: a row quota crossed mid-query returns exactly what was left
 * and then refuses; a query quota counts simple and extended statements;
 * racing sessions never get more rows together than the quota.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPgDatabase, pgConnect, pgUrl, withDatabase, type TempDatabase } from '../../helpers/db.js';
import { createGate } from '../../../governance/gate-impl.js';
import { initAnalysis } from '../../../governance/analyze/analyze.js';
import { loadPgCatalog } from '../../../governance/catalog/catalog.js';
import { CatalogProvider } from '../../../governance/catalog/provider.js';
import { DailyQuota } from '../../../governance/quota/daily-quota.js';
import { SqliteStore } from '../../../governance/store/sqlite-store.js';
import type { ControlStore } from '../../../governance/store/control-store.js';
import type { Policy } from '../../../rules/policy-schema.js';
import { pgThrough, startEndpoint, testPolicy, type Endpoint } from './setup.js';

let db: TempDatabase;
let ep: Endpoint;
let store: ControlStore;

before(async () => {
  await initAnalysis();
  db = await createPgDatabase('pgquota', `CREATE TABLE t (id int PRIMARY KEY, v text);
    INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100) g;`);
  const catalogs = new CatalogProvider(async (database) => {
    const c = await pgConnect(withDatabase(pgUrl(), database ?? 'postgres'));
    try { return await loadPgCatalog(c); } finally { await c.end(); }
  });
  const base = testPolicy(db.name);
  const reader = { grants: [{ instance: 'pg1', database: db.name, schema: 'public', table: 't', privileges: ['select'] }] };
  const policy: Policy = testPolicy(db.name, {
    users: {
      alice: { ...base.users.alice, roles: ['reader'], limits: { max_rows_per_day: 30 } },
      bob: { ...base.users.bob, roles: ['reader'], limits: { max_queries_per_day: 3 } },
      carol: { ...base.users.alice, roles: ['reader'], limits: { max_rows_per_day: 50, max_rows_per_query: 20 } },
    },
    roles: { reader },
  });
  store = await SqliteStore.open({ path: ':memory:' });
  const quota = new DailyQuota({ store, timeZone: 'UTC' });
  const gate = createGate({ policy: () => policy, audit: { write: () => undefined }, catalogFor: (_i, d) => catalogs.get(d), quota });
  ep = await startEndpoint(gate);
});

after(async () => {
  await ep?.close();
  await store?.close();
  await db?.drop();
});

const quotaError = (e: { code?: string; message: string }) => e.code === '54000' && /daily-row-quota|daily-query-quota/.test(e.message);

test('row quota crossed mid-query: exactly what is left is returned, then queries are refused', async () => {
  const c = await pgThrough(ep.url('alice', db.name));
  const notices: string[] = [];
  c.on('notice', (n) => notices.push(n.message ?? ''));
  assert.equal((await c.query('SELECT id FROM t ORDER BY id LIMIT 20')).rows.length, 20);
  const second = await c.query('SELECT id, v FROM t ORDER BY id');
  assert.equal(second.rows.length, 10, 'cut at the 10 rows left of 30');
  assert.deepEqual(second.rows.map((r) => r.id), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.ok(notices.some((m) => /daily-row-quota/.test(m)), `the client is told: ${notices.join(' | ')}`);
  await assert.rejects(c.query('SELECT id FROM t WHERE id = 1'), quotaError);
  await assert.rejects(c.query({ text: 'SELECT id FROM t WHERE id = $1', values: [1] }), quotaError, 'extended protocol too');
  // Statements that return no rows are not stopped by the row quota.
  await c.query('BEGIN');
  await c.query('ROLLBACK');
  await c.end();
  assert.equal((await store.usage('alice', new Date().toISOString().slice(0, 10))).rowsUsed, 30);
});

test('query quota counts simple and extended statements, then refuses', async () => {
  const c = await pgThrough(ep.url('bob', db.name));
  await c.query('SELECT 1');
  await c.query({ text: 'SELECT id FROM t WHERE id = $1', values: [2] });
  await c.query('SELECT id FROM t WHERE id = 3');
  await assert.rejects(c.query('SELECT id FROM t WHERE id = 4'), quotaError);
  await assert.rejects(c.query({ text: 'SELECT id FROM t WHERE id = $1', values: [5] }), quotaError);
  await c.end();
});

test('racing sessions share the row quota: together they never get more than it', async () => {
  const clients = await Promise.all(Array.from({ length: 6 }, () => pgThrough(ep.url('carol', db.name))));
  const got = await Promise.all(clients.map(async (c) => {
    try {
      return (await c.query('SELECT id FROM t ORDER BY id')).rows.length;
    } catch (e) {
      assert.ok(quotaError(e as { code?: string; message: string }), String(e));
      return 0;
    }
  }));
  await Promise.all(clients.map((c) => c.end()));
  const total = got.reduce((a, b) => a + b, 0);
  assert.equal(total, 50, `rows per session: ${got.join(', ')}`);
  assert.ok(got.every((n) => n <= 20), 'each is still held to its per-query cap');
});
