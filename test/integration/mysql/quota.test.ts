/**
 * Daily quotas on the MySQL endpoint, with the real gate and a real control
 * store: a row quota crossed mid-query returns exactly what was left, also
 * through prepared statements and cursor fetches, then refuses; a query
 * quota; racing sessions never get more rows together than the quota; and a
 * client lifting its own max_execution_time does not lift sqlgate's limit.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { policySchema, type Policy } from '../../../rules/policy-schema.js';
import { createMysqlDatabase, mysqlConnect, type TempDatabase } from '../../helpers/db.js';
import { PASSWORD, connect, startEndpoint, testPolicy, type Endpoint } from './helpers.js';
import { RawMysql } from './raw-client.js';
import { Com, Status } from '../../../wire/mysql/constants.js';
import { createGate } from '../../../governance/gate-impl.js';
import { CatalogProvider } from '../../../governance/catalog/provider.js';
import { loadMysqlCatalog } from '../../../governance/catalog/catalog.js';
import { DailyQuota } from '../../../governance/quota/daily-quota.js';
import { SqliteStore } from '../../../governance/store/sqlite-store.js';

let db: TempDatabase;
let ep: Endpoint;
let store: SqliteStore;

before(async () => {
  db = await createMysqlDatabase('myquota', `CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10));
    INSERT INTO t SELECT seq, CONCAT('v', seq) FROM seq_1_to_100`);
  const base = testPolicy({ database: db.name });
  const pw = base.users.both.password;
  const policy: Policy = policySchema.parse({
    ...base,
    users: {
      rows: { password: pw, roles: ['reader'], limits: { max_rows_per_day: 30 } },
      cursor: { password: pw, roles: ['reader'], limits: { max_rows_per_day: 12 } },
      queries: { password: pw, roles: ['reader'], limits: { max_queries_per_day: 3 } },
      racer: { password: pw, roles: ['reader'], limits: { max_rows_per_day: 50, max_rows_per_query: 20 } },
      slow: { password: pw, roles: ['reader', 'sleeper'], limits: { statement_timeout_ms: 500 } },
    },
    roles: {
      reader: { grants: [{ database: db.name, table: 't', privileges: ['select'] }], statement_kinds: ['select', 'set', 'use'] },
      sleeper: { procedures: ['sleep'] },
    },
  });
  const catalogs = new CatalogProvider(async () => {
    const c = await mysqlConnect();
    try { return await loadMysqlCatalog(c as never, [db.name]); } finally { await c.end(); }
  });
  store = SqliteStore.open({ path: ':memory:' });
  const quota = new DailyQuota({ store, timeZone: 'UTC' });
  const gate = createGate({ policy: () => policy, audit: { write: () => undefined }, catalogFor: () => catalogs.get(undefined), quota });
  ep = await startEndpoint({ gate: gate as never, policy });
});

after(async () => {
  await ep?.close();
  await store?.close();
  await db?.drop();
});

const quotaError = (e: { errno?: number; sqlState?: string; message: string }) => e.errno === 1226 && e.sqlState === '54000' && /daily-(row|query)-quota/.test(e.message);

test('row quota crossed mid-query: exactly what is left, then refused (text and prepared)', async () => {
  const c = await connect(ep.port, { user: 'rows', password: PASSWORD, database: db.name });
  const [a] = await c.query('SELECT id FROM t ORDER BY id LIMIT 20');
  assert.equal((a as unknown[]).length, 20);
  const [b] = await c.query('SELECT id, v FROM t ORDER BY id');
  assert.deepEqual((b as { id: number }[]).map((r) => r.id), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'cut at the 10 rows left of 30');
  await assert.rejects(c.query('SELECT id FROM t WHERE id = 1'), quotaError);
  await assert.rejects(c.execute('SELECT id FROM t WHERE id = ?', [1]), quotaError);
  await c.query('SET @x = 1'); // returns no rows: not stopped by the row quota
  await c.end();
});

const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };

test('cursor fetches are held to the row quota across fetches', async () => {
  // mysql2 has no cursor API: COM_STMT_EXECUTE with a cursor, then COM_STMT_FETCH, byte by byte.
  const raw = await RawMysql.login(ep.port, 'cursor', PASSWORD, db.name);
  try {
    const prep = await raw.command(Buffer.concat([Buffer.from([Com.STMT_PREPARE]), Buffer.from('SELECT id FROM t ORDER BY id')]), 'prepare');
    const id = prep.summary.statementId!;
    const exec = await raw.command(Buffer.concat([Buffer.from([Com.STMT_EXECUTE]), u32(id), Buffer.from([1]), u32(1)]), 'query');
    assert.ok(exec.summary.status & Status.CURSOR_EXISTS);
    let got = 0;
    for (let i = 0; i < 5; i++) got += (await raw.command(Buffer.concat([Buffer.from([Com.STMT_FETCH]), u32(id), u32(5)]), 'fetch')).summary.rows;
    assert.equal(got, 12, 'fetches stop at the 12 rows of the quota');
    const again = await raw.command(Buffer.concat([Buffer.from([Com.STMT_EXECUTE]), u32(id), Buffer.from([0]), u32(1)]), 'query');
    assert.equal(again.summary.error?.errno, 1226, 'the quota is used up');
  } finally {
    raw.close();
  }
});

test('query quota counts text and prepared statements, then refuses', async () => {
  const c = await connect(ep.port, { user: 'queries', password: PASSWORD, database: db.name });
  await c.query('SELECT 1');
  await c.execute('SELECT id FROM t WHERE id = ?', [2]);
  await c.query('SELECT id FROM t WHERE id = 3');
  await assert.rejects(c.query('SELECT id FROM t WHERE id = 4'), quotaError);
  await c.end();
});

test('racing sessions share the row quota: together they never get more than it', async () => {
  const clients = await Promise.all(Array.from({ length: 6 }, () => connect(ep.port, { user: 'racer', password: PASSWORD, database: db.name })));
  const got = await Promise.all(clients.map(async (c) => {
    try {
      const [r] = await c.query('SELECT id FROM t ORDER BY id');
      return (r as unknown[]).length;
    } catch (e) {
      assert.ok(quotaError(e as { errno?: number; sqlState?: string; message: string }), String(e));
      return 0;
    }
  }));
  await Promise.all(clients.map((c) => c.end()));
  assert.equal(got.reduce((x, y) => x + y, 0), 50, `rows per session: ${got.join(', ')}`);
  assert.ok(got.every((n) => n <= 20));
});

test('a client lifting its own time limit (MariaDB max_statement_time = 0) does not lift sqlgate\'s statement timeout', async () => {
  const c = await connect(ep.port, { user: 'slow', password: PASSWORD, database: db.name });
  await c.query('SET SESSION max_statement_time = 0');
  await assert.rejects(c.query('SELECT SLEEP(20) FROM t WHERE id = 1'), (e: { errno?: number }) => e.errno === 3024);
  const admin = await mysqlConnect();
  const [left] = await admin.query(`SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(20)%'`);
  await admin.end();
  assert.equal(Number((left as { n: number }[])[0].n), 0, 'the statement was killed on the server');
  await c.end();
});
