import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide } from '../../../governance/engine/decide.js';
import { shopPolicy } from '../../security/policy-fixture.js';
import { col, facts, table, write } from './facts-builder.js';
import type { SettingChange, SettingValue, StatementFacts } from '../../../governance/facts.js';

const policy = shopPolicy();
const ctx = (user: string, instance = 'shop_mysql') => ({ policy, user, instance });
const customers = table('customers');

test('analyst reads granted columns; phone is refused with the label message', () => {
  const ok = decide(facts({ tablesRead: [customers], outputsOf: [col('customers', 'id'), col('customers', 'email')] }), ctx('analyst'));
  assert.equal(ok.verdict, 'allow');
  const bad = decide(facts({ tablesRead: [customers], outputsOf: [col('customers', 'phone')] }), ctx('analyst'));
  assert.equal(bad.verdict, 'deny');
  assert.deepEqual([...bad.rules].sort(), ['column-acl', 'label-no-read-up']);
  assert.equal(bad.error?.code, 'COLUMN_ACCESS_DENIED');
  assert.equal(bad.error?.errno, 1143);
  assert.equal(bad.error?.sqlstate, '42501');
  assert.match(bad.error!.message, /^sqlgate: no select privilege on column shop\.customers\.phone .*\[rule column-acl\]$/);
  const lbl = bad.trace.find((t) => t.rule === 'label-no-read-up');
  assert.equal(lbl?.detail, 'column shop.customers.phone (label 2) is above your clearance 1');
});

test('label message when the column is granted but above clearance', () => {
  const p = shopPolicy();
  p.roles.analyst.grants.push({ instance: '*', database: '*', schema: '*', table: 'customers', privileges: ['select'] });
  const d = decide(facts({ tablesRead: [customers], outputsOf: [col('customers', 'phone')] }), { policy: p, user: 'analyst', instance: 'shop_mysql' });
  assert.equal(d.verdict, 'deny');
  assert.deepEqual(d.rules, ['label-no-read-up']);
  assert.equal(d.error?.message, 'sqlgate: column shop.customers.phone (label 2) is above your clearance 1 [rule label-no-read-up]');
  // an explicit column grant overrides the label
  p.roles.analyst.grants.push({ instance: '*', database: '*', schema: '*', table: 'customers', columns: ['phone'], privileges: ['select'] });
  const p2 = structuredClone(p);
  assert.equal(decide(facts({ tablesRead: [customers], outputsOf: [col('customers', 'phone')] }), { policy: p2, user: 'analyst', instance: 'shop_mysql' }).verdict, 'allow');
});

test('support sees phone masked as a bare output, and refused in a predicate', () => {
  const d = decide(facts({ tablesRead: [customers], outputsOf: [col('customers', 'name'), col('customers', 'phone')] }), ctx('support'));
  assert.equal(d.verdict, 'allow');
  assert.deepEqual(d.rules, ['masking']);
  assert.equal(d.directives.masks.length, 1);
  assert.equal(d.directives.masks[0].index, 1);
  assert.equal(d.directives.masks[0].kind, 'partial');
  const where = decide(facts({ tablesRead: [customers], outputsOf: [col('customers', 'name')], reads: [{ column: col('customers', 'phone'), place: 'where' }] }), ctx('support'));
  assert.equal(where.verdict, 'deny');
  assert.ok(where.rules.includes('masking'));
  const expr = decide(facts({ tablesRead: [customers], outputsOf: [[col('customers', 'phone'), false]] }), ctx('support'));
  assert.equal(expr.verdict, 'deny');
  assert.ok(expr.rules.includes('masking'));
});

test('set-variable-from-query and INTO OUTFILE make bare outputs unmaskable', () => {
  const d = decide(facts({ kind: 'set', tablesRead: [customers], outputsOf: [col('customers', 'phone')], dynamic: [{ kind: 'set-variable-from-query' }] }), ctx('support'));
  assert.equal(d.verdict, 'deny');
  assert.ok(d.rules.includes('masking'));
});

test('dba may do anything but TRUNCATE needs the skip hint; analyst may not skip', () => {
  const del = facts({ kind: 'delete', verb: 'delete', tablesRead: [customers], write: write(customers, { hasWhere: false }) });
  const d1 = decide(del, ctx('dba'));
  assert.equal(d1.verdict, 'deny');
  assert.deepEqual(d1.rules, ['no-unqualified-dml']);
  assert.equal(d1.error?.errno, 1175);
  const hinted = { ...del, hints: [{ name: 'skip', args: ['no-unqualified-dml'] }] };
  const d2 = decide(hinted, ctx('dba'));
  assert.equal(d2.verdict, 'allow');
  assert.deepEqual(d2.skipped, ['no-unqualified-dml']);
  const orders = table('orders');
  const w = facts({ kind: 'delete', verb: 'delete', write: write(orders, { hasWhere: false }), hints: [{ name: 'skip', args: ['no-unqualified-dml'] }] });
  const d3 = decide(w, ctx('writer'));
  assert.equal(d3.verdict, 'deny');
  assert.match(d3.error!.message, /may not skip/);
  for (const wf of [write(orders, { alwaysTrue: true }), write(orders, { whereTouchesTarget: false }), write(orders, { truncate: true })]) {
    assert.equal(decide(facts({ kind: 'delete', verb: 'delete', write: wf }), ctx('dba')).verdict, 'deny');
  }
  assert.equal(decide(facts({ kind: 'delete', verb: 'delete', write: write(orders, { hasWhere: false, hasLimit: true }) }), ctx('writer')).verdict, 'allow');
});

test('statement kinds: analyst is read-only, even through a data-modifying CTE', () => {
  const orders = table('orders');
  const d = decide(facts({ kind: 'select', verb: 'select', write: write(orders) }), ctx('analyst'));
  assert.equal(d.verdict, 'deny');
  assert.ok(d.rules.includes('statement-kinds'));
  assert.equal(d.error?.code, 'STATEMENT_KIND_DENIED');
});

test('column-acl for writes: writer may update city but not name', () => {
  const ok = decide(facts({ kind: 'update', verb: 'update', tablesRead: [customers], reads: [{ column: col('customers', 'id'), place: 'where' }], write: write(customers, { columns: [col('customers', 'city')] }) }), ctx('writer'));
  assert.equal(ok.verdict, 'allow', ok.error?.message);
  const bad = decide(facts({ kind: 'update', verb: 'update', tablesRead: [customers], write: write(customers, { columns: [col('customers', 'name')] }) }), ctx('writer'));
  assert.equal(bad.verdict, 'deny');
  assert.match(bad.error!.message, /no update privilege on column shop\.customers\.name/);
});

test('dynamic-sql, unresolved, raw, tenant, unknown users', () => {
  assert.deepEqual(decide(facts({ kind: 'prepare', dynamic: [{ kind: 'prepare-from-variable' }] }), ctx('dba')).rules, ['dynamic-sql']);
  assert.equal(decide(facts({ kind: 'call', dynamic: [{ kind: 'call', name: 'shop.refresh_stats' }] }), ctx('dba')).verdict, 'allow');
  assert.equal(decide(facts({ kind: 'call', dynamic: [{ kind: 'call', name: 'shop.drop_all' }] }), ctx('dba')).verdict, 'deny');
  const un = facts({ unresolved: { code: 'UNPARSED_STATEMENT', message: 'syntax error at "FRM"' } });
  const d = decide(un, ctx('analyst'));
  assert.deepEqual(d.rules, ['unparsed-statement']);
  assert.equal(d.error?.sqlstate, '42601');
  const raw = decide(un, ctx('rawuser'));
  assert.equal(raw.verdict, 'allow');
  assert.equal(raw.raw, true);
  const t = decide(facts({}), ctx('outsider', 'shop_pg'));
  assert.equal(t.error?.code, 'TENANT_MISMATCH');
  assert.equal(decide(facts({}), ctx('mallory')).error?.code, 'AUTH_FAILED');
  assert.equal(decide(facts({}), ctx('gone')).error?.code, 'AUTH_FAILED');
});

test('change-approval on prod: DDL always, DML by estimated rows', () => {
  const prod = shopPolicy({ environment: 'prod' });
  const ddl = facts({ kind: 'ddl', verb: 'alter_table', ddlTargets: [table('orders')] });
  const d = decide(ddl, { policy: prod, user: 'dba', instance: 'shop_mysql' });
  assert.equal(d.verdict, 'needs-approval');
  assert.match(d.error!.message, /flow 'prod-ddl'.*ticket.*\[rule change-approval\]$/);
  // It must not send the user to a console or API this build does not serve.
  assert.doesNotMatch(d.error!.message, /console|\/api\//);
  assert.match(d.error!.message, /does not have yet/);
  const upd = facts({ kind: 'update', verb: 'update', write: write(table('orders'), { columns: [col('orders', 'status')] }) });
  assert.equal(decide(upd, { policy: prod, user: 'writer', instance: 'shop_mysql', estimatedRows: 10 }).verdict, 'allow');
  assert.equal(decide(upd, { policy: prod, user: 'writer', instance: 'shop_mysql', estimatedRows: 5000 }).verdict, 'needs-approval');
  assert.equal(decide(upd, { policy: prod, user: 'writer', instance: 'shop_mysql' }).verdict, 'needs-approval', 'unknown estimate counts as big');
  assert.equal(decide(upd, { policy: prod, user: 'writer', instance: 'shop_mysql', approved: true }).verdict, 'allow');
});

test('limits merge default < policy < instance < user, and big tables are listed', () => {
  const d = decide(facts({ tablesRead: [table('orders')], outputsOf: [col('orders', 'id')] }), { ...ctx('dba'), tableRows: () => 5_000_000 });
  assert.equal(d.directives.maxRows, 100000);
  assert.equal(d.directives.timeoutMs, 300000);
  assert.deepEqual(d.directives.bigTables, [{ schema: 'shop', table: 'orders', rows: 5_000_000 }]);
  const a = decide(facts({ tablesRead: [table('orders')], outputsOf: [col('orders', 'id')] }), ctx('analyst'));
  assert.equal(a.directives.maxRows, 3000);
});

test('whole-row reads: need a table-wide grant, and refuse masked/labelled tables', () => {
  const pgc = table('customers', 'postgres');
  const d = decide(facts({ dialect: 'postgres', tablesRead: [pgc], wholeRows: [pgc] }), ctx('analyst', 'shop_pg'));
  assert.equal(d.verdict, 'deny');
  const s = decide(facts({ dialect: 'postgres', tablesRead: [pgc], wholeRows: [pgc] }), ctx('support', 'shop_pg'));
  assert.equal(s.verdict, 'deny');
  assert.ok(s.rules.includes('masking'));
  const o = table('orders', 'postgres');
  assert.equal(decide(facts({ dialect: 'postgres', tablesRead: [o], wholeRows: [o] }), ctx('analyst', 'shop_pg')).verdict, 'allow');
  // with catalog columns the whole row is expanded column by column
  const e = decide(facts({ dialect: 'postgres', tablesRead: [pgc], wholeRows: [pgc] }), { ...ctx('analyst', 'shop_pg'), tableColumns: () => ['id', 'name'] });
  assert.equal(e.verdict, 'allow');
});

test('view label and system catalogs', () => {
  const v = table('v_contacts');
  const d = decide(facts({ tablesRead: [v], outputsOf: [col('v_contacts', 'name')] }), ctx('analyst'));
  assert.equal(d.verdict, 'allow', 'explicit grant on the view overrides its label');
  const n = decide(facts({ tablesRead: [v], outputsOf: [col('v_contacts', 'name')] }), ctx('nobody'));
  assert.equal(n.verdict, 'deny');
  const sys = { database: 'shop', schema: 'information_schema', table: 'columns' };
  assert.equal(decide(facts({ tablesRead: [sys], outputsOf: [{ ...sys, column: 'column_name' }] }), ctx('nobody')).verdict, 'allow');
  const shadow = { database: 'shop', schema: 'pg_catalog', table: 'pg_authid' };
  assert.equal(decide(facts({ dialect: 'postgres', tablesRead: [shadow], outputsOf: [{ ...shadow, column: 'rolpassword' }] }), ctx('nobody', 'shop_pg')).verdict, 'deny');
});

test('label-no-read-up: grant without clearance; untrusted writes above clearance; trusted writes', () => {
  const d = decide(facts({ tablesRead: [customers], outputsOf: [col('customers', 'phone')] }), ctx('auditor'));
  assert.equal(d.verdict, 'allow');
  const hi = decide(facts({ tablesRead: [customers], outputsOf: [col('customers', 'id')], reads: [{ column: col('customers', 'id_card'), place: 'where' }] }), ctx('auditor'));
  assert.deepEqual(hi.rules, ['label-no-read-up']);
  assert.equal(hi.error?.message, 'sqlgate: column shop.customers.id_card (label 3) is above your clearance 2 (read in WHERE) [rule label-no-read-up]');
  const upd = facts({ kind: 'update', verb: 'update', tablesRead: [customers], reads: [{ column: col('customers', 'id'), place: 'where' }], write: write(customers, { columns: [col('customers', 'email')] }) });
  assert.deepEqual(decide(upd, ctx('writer')).rules, ['label-no-read-up']);
  assert.equal(decide(upd, ctx('dba')).verdict, 'allow');
});

test('untracked-setting: settings that change how text is read or who runs it are refused', () => {
  const set = (name: string, value: string | undefined) => facts({ kind: 'set', verb: 'set', sessionChange: { kind: 'setting', name, value } });
  for (const [n, v] of [['role', 'postgres'], ['session_authorization', 'x'], ['sql_mode', 'ANSI_QUOTES,STRICT_TRANS_TABLES'], ['sql_mode', 'ansi'],
    ['@@session.sql_mode', 'NO_BACKSLASH_ESCAPES'], ['names', 'gbk'], ['client_encoding', 'SJIS'], ['standard_conforming_strings', 'off']] as const) {
    const d = decide(set(n, v), ctx('dba'));
    assert.deepEqual(d.rules, ['untracked-setting'], `${n}=${v}`);
    assert.equal(d.error?.code, 'UNTRACKED_SETTING');
  }
  for (const [n, v] of [['sql_mode', 'STRICT_TRANS_TABLES'], ['names', 'utf8mb4'], ['client_encoding', 'UTF8'], ['application_name', 'x']] as const) {
    assert.equal(decide(set(n, v), ctx('analyst')).verdict, 'allow', `${n}=${v}`);
  }
});

test('untracked-setting: every assignment is judged, by its value and its scope', () => {
  const assign = (...settings: SettingChange[]) => facts({ kind: 'set', verb: 'set', settings });
  const session = (name: string, value: SettingValue): SettingChange => ({ name, scope: 'session', value });
  const constant = (text: string, quoted = true): SettingValue => ({ kind: 'constant', text, quoted });
  const refused = (f: StatementFacts, user: string, why: RegExp) => {
    const d = decide(f, ctx(user));
    assert.deepEqual(d.rules, ['untracked-setting'], JSON.stringify(f.settings));
    assert.match(d.error!.message, why);
  };
  // A harmless first assignment hides nothing behind it.
  refused(assign(session('autocommit', constant('1', false)), session('sql_mode', constant('ANSI_QUOTES'))), 'dba', /quotes and backslashes/);
  // Composite modes that include ANSI_QUOTES, operator modes, a bit mask, unknown names.
  for (const [v, why] of [['ORACLE', /quotes/], ['mssql', /quotes/], ['POSTGRESQL', /quotes/], ['PIPES_AS_CONCAT', /operators/],
    ['IGNORE_SPACE', /function names/], ['4', /not a mode sqlgate knows/], ['STRICT_TRANS_TABLES,NOSUCH', /not a mode/]] as const) {
    refused(assign(session('sql_mode', constant(v, v !== '4'))), 'dba', why);
  }
  refused(assign(session('sql_mode', { kind: 'expression', text: "0x414E5349" })), 'dba', /expression/);
  refused(assign(session('sql_mode', { kind: 'default' })), 'dba', /DEFAULT/);
  refused(assign(session('sql_mode', { kind: 'extends-current', literals: [',NO_BACKSLASH_ESCAPES'] })), 'dba', /backslashes/);
  refused(assign(session('names', { kind: 'expression', text: '@cs' })), 'dba', /must be named/);
  refused(assign(session('password', { kind: 'expression', text: '…' })), 'dba', /own database account/);
  refused(assign(session('default role', constant('ALL', false))), 'dba', /another database identity/);
  // Reaching past the session needs a user who could read everything anyway.
  refused(assign(session('time_zone', constant('+00:00')), { name: 'max_connections', scope: 'global', value: constant('1', false) }), 'analyst', /every session/);
  refused(assign(session('sql_log_bin', constant('0', false))), 'analyst', /logs or replicates/);
  refused(assign(session('password for', { kind: 'expression', text: '…' })), 'writer', /database account/);
  refused(facts({ dialect: 'postgres', kind: 'set', verb: 'set', settings: [session('pgaudit.log', constant('none'))] }), 'analyst', /logs or replicates/);
  assert.equal(decide(assign({ name: 'max_connections', scope: 'global', value: constant('500', false) }), ctx('dba')).verdict, 'allow');
  assert.equal(decide(assign(session('sql_log_bin', constant('0', false))), ctx('dba')).verdict, 'allow');
  // What ORMs and drivers send.
  for (const v of [constant('ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'),
    constant('TRADITIONAL', false), constant(''), { kind: 'extends-current', literals: [',STRICT_ALL_TABLES', ',NO_AUTO_VALUE_ON_ZERO'] },
    { kind: 'extends-current', literals: ['STRICT_TRANS_TABLES', ''] }] as SettingValue[]) {
    assert.equal(decide(assign(session('autocommit', constant('1', false)), session('sql_mode', v)), ctx('analyst')).verdict, 'allow', JSON.stringify(v));
  }
  assert.equal(decide(facts({ dialect: 'postgres', kind: 'set', verb: 'reset', settings: [session('client_encoding', { kind: 'default' })] }), ctx('analyst')).verdict, 'allow');
});
