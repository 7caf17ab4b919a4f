import { test } from 'node:test';
import assert from 'node:assert/strict';
import { principalFor } from '../../../governance/engine/index.js';
import { policySchema } from '../../../rules/policy-schema.js';

const NATIVE = { mysql_native: '*' + 'A'.repeat(40) };

const policy = policySchema.parse({
  version: 1,
  instances: {
    my: { protocol: 'mysql', port: 3306, user: 's', label_security: true },
    pg: { protocol: 'postgres', port: 5432, user: 's', label_security: true },
    other: { protocol: 'mysql', port: 3307, user: 's' },
  },
  users: { u: { password: NATIVE, roles: ['r1', 'r2', 'ghost'], clearance: 1 } },
  roles: {
    r1: { grants: [
      { instance: 'my', database: 'shop', table: 'cust*', columns: ['id', 'Name'], privileges: ['select'] },
      { instance: 'pg', schema: 'public', table: 'customers', columns: ['id', 'Name'], privileges: ['select'] },
      { instance: 'my', database: 'shop', table: 'orders', privileges: ['select'] },
    ] },
    r2: { grants: [
      { instance: 'my', database: 'shop', table: 'customers', columns: ['id'], privileges: ['update'] },
      { instance: 'my', database: 'shop', table: 'orders', columns: ['status'], privileges: ['all'] },
    ], statement_kinds: ['update'] },
  },
  labels: [{ table: 'CUSTOMERS', column: 'Phone', level: 2 }, { instance: 'other', table: 'customers', column: 'id', level: 3 }],
  masking: [{ table: 'customers', column: 'PHONE', kind: 'partial', exempt_roles: ['r2'] }, { table: 'customers', column: 'email', kind: 'hash' }],
});

test('grants merge across roles, table grants cover every column, wildcards and per-dialect name rules', () => {
  const my = principalFor(policy, 'u', 'my')!;
  const c = (table: string, column: string) => ({ database: 'shop', schema: 'shop', table, column });
  assert.deepEqual([...my.privileges(c('customers', 'id'))].sort(), ['select', 'update'], 'select from r1 and update from r2 merge');
  assert.deepEqual([...my.privileges(c('customers', 'NAME'))], ['select'], 'MySQL column names are case-insensitive');
  assert.deepEqual([...my.privileges(c('customers_archive', 'id'))], ['select'], 'table wildcard');
  assert.equal(my.privileges(c('customers', 'phone')).size, 0);
  assert.deepEqual([...my.privileges(c('orders', 'added_later'))], ['select'], 'a table grant covers columns added later');
  assert.deepEqual([...my.privileges(c('orders', 'status'))].sort(), ['ddl', 'delete', 'insert', 'select', 'update'], "'all' expands");
  assert.ok(my.wholeTablePrivileges({ database: 'shop', schema: 'shop', table: 'orders' }).has('select'));
  assert.ok(!my.wholeTablePrivileges({ database: 'shop', schema: 'shop', table: 'customers' }).has('select'));
  assert.equal(my.privileges({ ...c('customers', 'id'), database: 'crm', schema: 'crm' }).size, 0, 'other database');
  assert.deepEqual([...my.kinds].sort(), ['deallocate', 'explain', 'select', 'set', 'show', 'transaction', 'update', 'use'], 'r1 has the read-only set, r2 adds update');
  assert.deepEqual(my.roles, ['r1', 'r2'], 'unknown roles are ignored');
  const pg = principalFor(policy, 'u', 'pg')!;
  const p = (column: string) => ({ database: 'shop', schema: 'public', table: 'customers', column });
  assert.deepEqual([...pg.privileges(p('Name'))], ['select']);
  assert.equal(pg.privileges(p('name')).size, 0, 'PostgreSQL names are exact (the analysis already folded them)');
  assert.equal(pg.privileges({ ...p('id'), schema: 'sales' }).size, 0, 'schema matters on PostgreSQL');
});

test('labels and masks match case-insensitively and per instance; exempt roles', () => {
  const my = principalFor(policy, 'u', 'my')!;
  const pg = principalFor(policy, 'u', 'pg')!;
  const other = principalFor(policy, 'u', 'other')!;
  assert.equal(my.columnLabel({ database: 'shop', schema: 'shop', table: 'customers', column: 'phone' }), 2);
  assert.equal(pg.columnLabel({ database: 'shop', schema: 'public', table: 'customers', column: 'phone' }), 2);
  assert.equal(my.columnLabel({ database: 'shop', schema: 'shop', table: 'customers', column: 'id' }), 0);
  assert.equal(other.columnLabel({ database: 'shop', schema: 'shop', table: 'customers', column: 'id' }), 3);
  assert.equal(my.mask({ database: 'shop', schema: 'shop', table: 'customers', column: 'phone' }), undefined, 'r2 is exempt');
  assert.equal(my.mask({ database: 'shop', schema: 'shop', table: 'customers', column: 'EMAIL' })?.kind, 'hash');
  assert.ok(my.masksTable({ database: 'shop', schema: 'shop', table: 'customers' }));
  assert.equal(principalFor(policy, 'u', 'my'), my, 'compiled once per policy object');
  assert.equal(principalFor(policy, 'nobody', 'my'), undefined);
});

test('memoised answers are kept per database, schema, table and column, and stay right after the memo starts over', () => {
  const my = principalFor(policy, 'u', 'my')!;
  const c = (database: string, table: string, column: string) => ({ database, schema: database, table, column });
  // Same column name in other tables and databases: each answer is its own.
  assert.deepEqual([...my.privileges(c('shop', 'customers', 'id'))].sort(), ['select', 'update']);
  assert.deepEqual([...my.privileges(c('shop', 'orders', 'id'))], ['select']);
  assert.equal(my.privileges(c('crm', 'customers', 'id')).size, 0);
  assert.equal(my.columnLabel(c('shop', 'customers', 'phone')), 2);
  assert.equal(my.columnLabel(c('shop', 'orders', 'phone')), 0);
  // Names a statement can make up at will fill the memo past its bound (it starts over), and
  // every answer asked again afterwards is still the policy's.
  for (let i = 0; i < 60_000; i++) {
    assert.equal(my.privileges(c('shop', `made_up_${i}`, 'x')).size, 0);
  }
  assert.deepEqual([...my.privileges(c('shop', 'customers', 'id'))].sort(), ['select', 'update']);
  assert.deepEqual([...my.tablePrivileges({ database: 'shop', schema: 'shop', table: 'customers_archive' })], ['select']);
  assert.equal(my.columnLabel(c('shop', 'customers', 'phone')), 2);
  assert.equal(my.mask(c('shop', 'customers', 'email'))?.kind, 'hash');
});
