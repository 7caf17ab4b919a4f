/**
 * The MySQL endpoint with the real governance engine (governance/gate-impl.ts:
 * analysis of the real statement text, catalog read from MariaDB, the
 * policy's grants, masks, limits and allow lists): a governed SELECT allowed, a column refused (also as a predicate),
 * an unqualified DELETE refused with the session still usable, a refused
 * multi-statement running nothing, refusal at prepare, USE changing name
 * resolution, masking and row caps, audit one record per statement.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { policySchema } from '../../../rules/policy-schema.js';
import { createMysqlDatabase, mysqlConnect, type TempDatabase } from '../../helpers/db.js';
import { PASSWORD, connect, statements, startEndpoint, testPolicy, type Endpoint } from './helpers.js';
import { createGate, type EngineGate } from '../../../governance/gate-impl.js';
import { CatalogProvider } from '../../../governance/catalog/provider.js';
import { loadMysqlCatalog } from '../../../governance/catalog/catalog.js';
import type { AuditEvent } from '../../../governance/audit/event.js';

let db1: TempDatabase;
let db2: TempDatabase;
let ep: Endpoint;
let gate: EngineGate & { events: AuditEvent[] };

before(async () => {
  db1 = await createMysqlDatabase('mysqleng1', `CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(20), phone VARCHAR(20), email VARCHAR(40));
    INSERT INTO customers VALUES (1, 'ann', '13800000001', 'ann@example.com'), (2, 'bob', '13800000002', 'bob@example.com'), (3, 'cy', '13800000003', 'cy@example.com')`);
  db2 = await createMysqlDatabase('mysqleng2', `CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(20), phone VARCHAR(20));
    INSERT INTO customers VALUES (10, 'zed', '13900000010')`);
  const base = testPolicy({ database: db1.name });
  const pw = base.users.both.password;
  const policy = policySchema.parse({
    ...base,
    users: {
      analyst: { password: pw, roles: ['reader'] },
      writer: { password: pw, roles: ['editor'] },
      capped: { password: pw, roles: ['reader'], limits: { max_rows_per_query: 2 } },
    },
    roles: {
      reader: {
        grants: [
          { database: db1.name, table: 'customers', columns: ['id', 'name', 'email'], privileges: ['select'] },
          { database: db2.name, table: 'customers', privileges: ['select'] },
        ],
      },
      editor: {
        grants: [{ database: db1.name, table: '*', privileges: ['all'] }],
        statement_kinds: ['select', 'insert', 'update', 'delete', 'use', 'set', 'show', 'transaction'],
      },
    },
    masking: [{ database: db1.name, table: 'customers', column: 'email', kind: 'partial', keep_first: 2, keep_last: 4 }],
  });
  const catalogs = new CatalogProvider(async () => {
    const c = await mysqlConnect();
    try { return await loadMysqlCatalog(c as never, [db1.name, db2.name, 'information_schema']); } finally { await c.end(); }
  }, { ttlMs: 0 });
  const events: AuditEvent[] = [];
  gate = Object.assign(createGate({ policy: () => policy, audit: { write: (e) => events.push(e) }, catalogFor: () => catalogs.get(undefined) }), { events });
  ep = await startEndpoint({ gate: gate as never, policy });
});
after(async () => {
  await ep?.close();
  await db1?.drop();
  await db2?.drop();
});

async function names(database: string): Promise<string[]> {
  const c = await mysqlConnect();
  try {
    const [rows] = await c.query(`SELECT name FROM \`${database}\`.customers ORDER BY id`);
    return (rows as { name: string }[]).map((r) => r.name);
  } finally {
    await c.end();
  }
}

test('engine: a governed SELECT is allowed; a column without a grant is refused, also as a predicate', async () => {
  const c = await connect(ep.port, { user: 'analyst', database: db1.name });
  try {
    const [rows] = await c.query('SELECT id, name FROM customers ORDER BY id');
    assert.deepEqual(rows, [{ id: 1, name: 'ann' }, { id: 2, name: 'bob' }, { id: 3, name: 'cy' }]);
    for (const sql of ['SELECT phone FROM customers', 'SELECT name FROM customers WHERE phone = \'13800000001\'', 'SELECT * FROM customers', 'SELECT x.p FROM (SELECT phone AS p FROM customers) x']) {
      await assert.rejects(c.query(sql), (e: { errno: number; sqlState: string; message: string }) => {
        assert.equal(e.sqlState, '42501', sql);
        assert.ok([1142, 1143].includes(e.errno), `${sql}: ${e.errno} ${e.message}`);
        assert.match(e.message, /^sqlgate: .*\[rule [a-z-]+\]$/);
        return true;
      });
    }
    const [again] = await c.query('SELECT COUNT(*) AS n FROM customers');
    assert.equal(Number((again as { n: number }[])[0].n), 3, 'the session is still usable');
  } finally {
    await c.end();
  }
});

test('engine: information_schema as tools query it (any case) is readable, except other sessions\' statements', async () => {
  const c = await connect(ep.port, { user: 'analyst', database: db1.name });
  try {
    const [tables] = await c.query('SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1');
    assert.deepEqual(tables, [{ t: 'customers' }]);
    const [cols] = await c.query("SELECT COLUMN_NAME AS c FROM INFORMATION_SCHEMA.Columns WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'customers' ORDER BY ORDINAL_POSITION");
    assert.deepEqual((cols as { c: string }[]).map((r) => r.c), ['id', 'name', 'phone', 'email']);
    for (const sql of ['SELECT info FROM information_schema.processlist', 'SHOW PROCESSLIST', 'SHOW FULL PROCESSLIST', 'SHOW ENGINE INNODB STATUS']) {
      await assert.rejects(c.query(sql), (e: { errno: number; message: string }) => e.errno === 1142 && /PROCESSLIST/.test(e.message) && /\[rule column-acl\]$/.test(e.message), sql);
    }
    // MariaDB prints an account's password hash in both; the service account's too.
    for (const sql of ['SHOW GRANTS', 'SHOW GRANTS FOR CURRENT_USER()', "SHOW CREATE USER 'root'@'localhost'"]) {
      await assert.rejects(c.query(sql), (e: { errno: number; message: string }) => e.errno === 1142 && /mysql\.user/.test(e.message) && /\[rule column-acl\]$/.test(e.message), sql);
    }
  } finally {
    await c.end();
  }
});

test('engine: unqualified DELETE refused (1175), the session lives on; a refused multi-statement runs nothing', async () => {
  const c = await connect(ep.port, { user: 'writer', database: db1.name });
  try {
    await assert.rejects(c.query('DELETE FROM customers'), (e: { errno: number; message: string }) => e.errno === 1175 && /no-unqualified-dml/.test(e.message));
    assert.deepEqual(await names(db1.name), ['ann', 'bob', 'cy']);
    await assert.rejects(c.query('UPDATE customers SET name = \'hacked\' WHERE id = 1; DELETE FROM customers'), (e: { errno: number }) => e.errno === 1175);
    assert.deepEqual(await names(db1.name), ['ann', 'bob', 'cy'], 'the allowed first statement did not run either');
    const [r] = await c.query('DELETE FROM customers WHERE id = 99');
    assert.equal((r as { affectedRows: number }).affectedRows, 0);
  } finally {
    await c.end();
  }
});

test('engine: INSERT and UPDATE with DEFAULT values, as ORMs send them, are judged like any write', async () => {
  const w = await connect(ep.port, { user: 'writer', database: db1.name });
  const a = await connect(ep.port, { user: 'analyst', database: db1.name });
  try {
    await w.query("INSERT INTO customers (id, name, phone) VALUES (50, 'dee', DEFAULT), (51, DEFAULT, '1')");
    await w.query('UPDATE customers SET phone = DEFAULT WHERE id = 51');
    const [rows] = await w.query('SELECT id, name, phone FROM customers WHERE id >= 50 ORDER BY id');
    assert.deepEqual(rows, [{ id: 50, name: 'dee', phone: null }, { id: 51, name: null, phone: null }]);
    // DEFAULT is no way around the write grants: the analyst may not insert at all.
    await assert.rejects(a.query('INSERT INTO customers (id, name) VALUES (52, DEFAULT)'), (e: { errno: number }) => e.errno === 1142 || e.errno === 1143 || e.errno === 1227);
    await assert.rejects(a.query('UPDATE customers SET name = DEFAULT WHERE id = 1'), (e: { errno: number }) => e.errno === 1142 || e.errno === 1143 || e.errno === 1227);
  } finally {
    await w.query('DELETE FROM customers WHERE id >= 50');
    await w.end();
    await a.end();
  }
  assert.deepEqual(await names(db1.name), ['ann', 'bob', 'cy']);
});

test('engine: a tautology is refused as a prepared statement (id + ? = id + 0) and as text after it', async () => {
  const c = await connect(ep.port, { user: 'writer', database: db1.name });
  try {
    await assert.rejects(c.execute('DELETE FROM customers WHERE id + ? = id + 0', [0]), (e: { errno: number; message: string }) => e.errno === 1175 && /always-true/.test(e.message));
    await assert.rejects(c.query('DELETE FROM customers WHERE id + 0 = id + 0'), (e: { errno: number }) => e.errno === 1175);
    assert.deepEqual(await names(db1.name), ['ann', 'bob', 'cy']);
  } finally {
    await c.end();
  }
});

test('engine: prepared statements are judged at prepare', async () => {
  const c = await connect(ep.port, { user: 'analyst', database: db1.name });
  try {
    await assert.rejects(c.execute('SELECT phone FROM customers WHERE id = ?', [1]), (e: { errno: number }) => e.errno === 1143);
    const [rows] = await c.execute('SELECT name FROM customers WHERE id = ?', [2]);
    assert.deepEqual(rows, [{ name: 'bob' }]);
  } finally {
    await c.end();
  }
});

test('engine: USE switches the database names resolve in', async () => {
  const c = await connect(ep.port, { user: 'analyst', database: db1.name });
  try {
    await assert.rejects(c.query('SELECT phone FROM customers'));
    await c.query(`USE \`${db2.name}\``);
    const [rows] = await c.query('SELECT phone FROM customers');
    assert.deepEqual(rows, [{ phone: '13900000010' }], `${db2.name}.customers is fully granted`);
    await c.query(`USE \`${db1.name}\``);
    await assert.rejects(c.query('SELECT phone FROM customers'), (e: { errno: number }) => e.errno === 1143);
  } finally {
    await c.end();
  }
});

test('engine: masking and the per-user row cap are enforced on the wire', async () => {
  const c = await connect(ep.port, { user: 'analyst', database: db1.name });
  try {
    const [rows] = await c.query('SELECT id, email FROM customers ORDER BY id');
    assert.deepEqual(rows, [{ id: 1, email: 'an*********.com' }, { id: 2, email: 'bo*********.com' }, { id: 3, email: 'cy********.com' }]);
    const [bin] = await c.execute('SELECT id, email FROM customers WHERE id = ?', [1]);
    assert.deepEqual(bin, [{ id: 1, email: 'an*********.com' }]);
  } finally {
    await c.end();
  }
  const capped = await connect(ep.port, { user: 'capped', database: db1.name });
  try {
    const [rows] = await capped.query('SELECT id FROM customers ORDER BY id');
    assert.deepEqual(rows, [{ id: 1 }, { id: 2 }]);
  } finally {
    await capped.end();
  }
  const ev = statements(gate);
  assert.ok(ev.some((e) => e.decision === 'masked' && e.sql === 'SELECT id, email FROM customers ORDER BY id'));
  assert.ok(ev.some((e) => e.decision === 'cut' && e.user === 'capped' && e.rowsReturned === 2));
});

test('engine: audit records match statements one to one', async () => {
  const before = statements(gate).length;
  const c = await connect(ep.port, { user: 'analyst', database: db1.name, password: PASSWORD });
  const sent = ['SELECT id FROM customers', 'SELECT phone FROM customers', 'SELECT 1; SELECT name FROM customers WHERE id = 1'];
  try {
    await c.query(sent[0]);
    await assert.rejects(c.query(sent[1]));
    await c.query(sent[2]);
  } finally {
    await c.end();
  }
  const ev = statements(gate).slice(before);
  assert.deepEqual(ev.map((e) => [e.decision, e.sql]), [
    ['allowed', 'SELECT id FROM customers'], ['refused', 'SELECT phone FROM customers'],
    ['allowed', 'SELECT 1'], ['allowed', 'SELECT name FROM customers WHERE id = 1'],
  ]);
  assert.ok(ev[1].rules.length > 0);
  assert.ok(ev.every((e) => e.fingerprint !== undefined && e.database === db1.name));
});

test('engine: the policy\'s IP allow list refuses a client with 1130 before the greeting, audited', async () => {
  const policy = policySchema.parse({ ...testPolicy({ database: db1.name }), ip_allow: ['10.9.9.9'] });
  const events: AuditEvent[] = [];
  const strict = createGate({ policy: () => policy, audit: { write: (e) => events.push(e) }, catalogFor: () => { throw new Error('not needed'); } });
  const e2 = await startEndpoint({ gate: strict as never, policy });
  try {
    await assert.rejects(connect(e2.port), (e: { errno: number; message: string }) => e.errno === 1130 && /ip-allow-list/.test(e.message));
    assert.equal(events.length, 1);
    assert.equal(events[0].type, 'login');
    assert.equal(events[0].decision, 'refused');
  } finally {
    await e2.close();
  }
});
