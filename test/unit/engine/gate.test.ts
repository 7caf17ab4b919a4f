import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createGate } from '../../../governance/gate-impl.js';
import { SqlgateError } from '../../../governance/errors.js';
import type { AuditEvent } from '../../../governance/audit/event.js';
import type { SessionContext } from '../../../governance/decision.js';
import { initAnalysis } from '../../../governance/analyze/analyze.js';
import { policySchema, type Policy } from '../../../rules/policy-schema.js';
import { shopPolicy } from '../../security/policy-fixture.js';
import { shopCatalog } from '../../security/corpus-runner.js';

function code(fn: () => void): string | undefined {
  try { fn(); return undefined; } catch (err) { assert.ok(err instanceof SqlgateError, String(err)); return err.code; }
}

const session = (user: string, instance = 'shop_mysql'): SessionContext => ({
  user, clientIp: '127.0.0.1', instance, dialect: instance === 'shop_mysql' ? 'mysql' : 'postgres',
  database: 'shop', searchPath: instance === 'shop_mysql' ? [] : ['public'], door: 'mysql', sessionId: 't',
});

test('checkAddress: global list, instance list, tenant, user list, unknown and disabled users', () => {
  const gate = createGate({ policy: () => shopPolicy(), audit: { write() {} }, catalogFor: async () => shopCatalog('mysql') });
  assert.equal(code(() => gate.checkAddress('shop_mysql', '127.0.0.1')), undefined);
  assert.equal(code(() => gate.checkAddress('shop_mysql', '::ffff:127.0.0.1', 'analyst')), undefined);
  assert.equal(code(() => gate.checkAddress('shop_mysql', '8.8.8.8')), 'IP_NOT_ALLOWED');
  assert.equal(code(() => gate.checkAddress('shop_mysql', '10.2.0.1')), 'IP_NOT_ALLOWED', 'global yes, instance no');
  assert.equal(code(() => gate.checkAddress('shop_mysql', '10.1.2.3', 'analyst')), undefined);
  assert.equal(code(() => gate.checkAddress('shop_pg', '10.2.0.1', 'analyst')), undefined, 'shop_pg has no instance list');
  assert.equal(code(() => gate.checkAddress('shop_pg', '127.0.0.1', 'outsider')), 'TENANT_MISMATCH');
  assert.equal(code(() => gate.checkAddress('acme_pg', '127.0.0.1', 'outsider')), 'IP_NOT_ALLOWED', 'user list');
  assert.equal(code(() => gate.checkAddress('shop_pg', '127.0.0.1', 'mallory')), 'AUTH_FAILED');
  assert.equal(code(() => gate.checkAddress('shop_pg', '127.0.0.1', 'gone')), 'AUTH_FAILED');
  try { gate.checkAddress('shop_mysql', '10.2.0.1'); } catch (err) {
    assert.equal((err as SqlgateError).message, 'sqlgate: client address 10.2.0.1 is not on the allow list of instance shop_mysql [rule ip-allow-list]');
    assert.equal((err as SqlgateError).errno, 1130);
  }
});

test('checkAddress: no global list means loopback only; an empty one means anyone; reloads apply at once', () => {
  const base = shopPolicy();
  let policy: Policy = policySchema.parse({ ...base, ip_allow: undefined });
  const gate = createGate({ policy: { current: () => policy }, audit: { write() {} }, catalogFor: async () => shopCatalog('postgres') });
  assert.equal(code(() => gate.checkAddress('shop_pg', '10.0.0.1')), 'IP_NOT_ALLOWED');
  assert.equal(code(() => gate.checkAddress('shop_pg', '::1')), undefined);
  policy = policySchema.parse({ ...base, ip_allow: [] });
  assert.equal(code(() => gate.checkAddress('shop_pg', '203.0.113.9')), undefined);
});

test('judge through the gate: refusal, masking, multi-statement, and a catalog that cannot be loaded', async () => {
  await initAnalysis();
  const events: AuditEvent[] = [];
  const gate = createGate({ policy: () => shopPolicy(), audit: { write: (e) => { events.push(e); } }, catalogFor: async (i) => shopCatalog(i === 'shop_mysql' ? 'mysql' : 'postgres') });
  const a = await gate.judge(session('analyst'), 'SELECT phone FROM customers');
  assert.equal(a.verdict, 'deny');
  assert.equal(a.refusal?.error?.code, 'COLUMN_ACCESS_DENIED');
  const s = await gate.judge(session('support', 'shop_pg'), 'SELECT name, phone FROM customers');
  assert.equal(s.verdict, 'allow');
  assert.deepEqual(s.statements[0].directives.masks.map((m) => [m.index, m.kind]), [[1, 'partial']]);
  const m = await gate.judge(session('writer'), "SELECT id FROM orders; DELETE FROM orders WHERE 1=1");
  assert.equal(m.verdict, 'deny');
  assert.equal(m.statements[0].verdict, 'allow');
  assert.deepEqual(m.refusal?.rules, ['no-unqualified-dml']);
  const down = createGate({ policy: () => shopPolicy(), audit: { write() {} }, catalogFor: async () => { throw new SqlgateError('UPSTREAM_UNAVAILABLE', 'connect ECONNREFUSED'); } });
  const d = await down.judge(session('dba'), 'SELECT 1');
  assert.equal(d.verdict, 'deny');
  assert.equal(d.refusal?.error?.code, 'UPSTREAM_UNAVAILABLE');
  const ticket = await gate.judge(session('dba'), 'ALTER TABLE orders ADD COLUMN x INT', { approved: true });
  assert.equal(ticket.verdict, 'allow');
  gate.audit({ time: new Date().toISOString(), node: gate.node, session: 't', user: 'analyst', clientIp: '127.0.0.1', door: 'mysql', type: 'statement',
    instance: 'shop_mysql', database: 'shop', sql: 'SELECT 1', fingerprint: undefined, decision: 'allowed', rules: [], durationMs: 1, rowsReturned: 1, rowsAffected: undefined, error: undefined });
  assert.equal(events.length, 1);
  const failing = createGate({ policy: () => shopPolicy(), audit: { write() { throw new SqlgateError('AUDIT_UNAVAILABLE', 'sink failed'); } }, catalogFor: async () => shopCatalog('mysql') });
  assert.throws(() => failing.audit(events[0]), /sink failed/);
});

test('upstream: service account with the password from the environment', () => {
  const p = shopPolicy();
  const policy = policySchema.parse({ ...p, instances: {
    ...p.instances,
    shop_mysql: { ...p.instances.shop_mysql, password_env: 'SG_TEST_UPSTREAM_PW' },
    shop_pg: { ...p.instances.shop_pg, tls: { ca: '/etc/db-ca.pem', servername: 'pg.internal' } },
  } });
  process.env.SG_TEST_UPSTREAM_PW = 's3cret';
  const gate = createGate({ policy: () => policy, audit: { write() {} }, catalogFor: async () => shopCatalog('mysql') });
  const u = gate.upstream('shop_mysql');
  assert.deepEqual({ ...u }, { instance: 'shop_mysql', protocol: 'mysql', host: '127.0.0.1', port: 3306, user: 'sqlgate', password: 's3cret', database: 'shop', tls: undefined });
  assert.deepEqual(gate.upstream('shop_pg').tls, { ca: '/etc/db-ca.pem', verify: 'full', servername: 'pg.internal' });
  assert.equal(gate.upstream('shop_pg').password, undefined);
  assert.throws(() => gate.upstream('nope'), /unknown instance/);
  assert.equal(gate.verifiers('analyst')?.mysql_native, '*' + 'A'.repeat(40));
  assert.equal(gate.verifiers('mallory'), undefined);
});

test('auditRecord: one record per statement, the same from every door', async () => {
  const { auditRecord } = await import('../../../governance/engine/audit-record.js');
  await initAnalysis();
  const gate = createGate({ policy: () => shopPolicy(), audit: { write() {} }, catalogFor: async () => shopCatalog('postgres') });
  const s = session('support', 'shop_pg');
  const j = await gate.judge(s, 'SELECT name, phone FROM customers');
  const ok = auditRecord('n1', s, j.statements[0], { durationMs: 3, rowsReturned: 10, cutRows: 2 });
  assert.equal(ok.decision, 'cut');
  assert.deepEqual(ok.rules, ['masking', 'row-cap']);
  assert.deepEqual(ok.detail?.masked, [{ index: 1, column: 'public.customers.phone', kind: 'partial' }]);
  const d = await gate.judge(session('analyst', 'shop_pg'), 'SELECT phone FROM customers');
  const refused = auditRecord('n1', { ...s, user: 'analyst', door: 'console' }, d.statements[0]);
  assert.equal(refused.decision, 'refused');
  assert.equal(refused.error?.code, 'COLUMN_ACCESS_DENIED');
  assert.equal(refused.door, 'console');
  assert.equal(refused.sql, 'SELECT phone FROM customers');
});

test('one live session: a policy reload and a catalog refresh change the next decision of a cached statement', async () => {
  await initAnalysis();
  const { withVersion, catalogFromTables } = await import('../../../governance/catalog/catalog.js');
  let policy = shopPolicy();
  let catalog = shopCatalog('postgres');
  // A provider hands out the same promise while its catalog is fresh (judgeNow relies on it).
  let loaded = Promise.resolve(catalog);
  const gate = createGate({ policy: () => policy, audit: { write() {} }, catalogFor: () => loaded });
  // The same session object for every statement, as a door holds it: the
  // decision key's per-session part is memoised on it.
  const s = session('analyst', 'shop_pg');
  const now = async (text: string) => { gate.judgeNow(s, text); await loaded; await null; return gate.judgeNow(s, text)?.verdict; };
  const sql = 'SELECT name FROM customers WHERE id = 1';
  assert.equal((await gate.judge(s, sql)).verdict, 'allow');
  assert.equal(await now('SELECT name FROM customers WHERE id = 2'), 'allow');
  // Reload: the analyst loses the grant on customers.
  const raw = structuredClone(policy) as Policy;
  raw.roles.analyst.grants = raw.roles.analyst.grants!.filter((g) => g.table !== 'customers');
  policy = policySchema.parse(raw);
  assert.equal((await gate.judge(s, sql)).verdict, 'deny');
  assert.equal(await now('SELECT name FROM customers WHERE id = 3'), 'deny');
  // Back to the first policy, then a refreshed catalog in which customers has no `name` column.
  policy = shopPolicy();
  assert.equal(await now('SELECT name FROM customers WHERE id = 4'), 'allow');
  const tables = catalog.tables().map((t) => (t.name === 'customers' ? { ...t, columns: t.columns.filter((c) => c.name !== 'name') } : t));
  catalog = withVersion(catalogFromTables('postgres', tables), catalog.version + 1);
  loaded = Promise.resolve(catalog);
  const after = await gate.judge(s, sql);
  assert.equal(after.verdict, 'deny');
  assert.match(after.refusal?.error?.message ?? '', /name/);
  assert.equal(await now('SELECT name FROM customers WHERE id = 5'), 'deny');
});
