/**
 * The policy the security corpus and the engine unit tests run under: a shop
 * with labelled customer data, on one MySQL and one PostgreSQL instance.
 *
 * Users:
 *   analyst  column grants on customers (not phone, id_card), orders, the safe view; clearance 1
 *   support  whole customers table, phone/id_card/email masked; clearance 1
 *   dba      everything, every kind, trusted, clearance 3, may skip no-unqualified-dml
 *   writer   orders read/write, write kinds, clearance 0
 *   auditor  whole customers table, no masks, clearance 2 (phone yes, id_card no)
 *   nobody   no roles at all
 *   developer ddl on everything, orders read/write, customers without phone/id_card and email masked; clearance 1;
 *            may update/delete audit_copy without WHERE
 *   rawuser  analyst + raw passthrough
 *   outsider analyst's roles in another tenant
 */
import { policySchema, type Policy } from '../../rules/policy-schema.js';

const NATIVE = { mysql_native: '*' + 'A'.repeat(40) };

export function shopPolicy(overrides: { environment?: 'dev' | 'test' | 'prod' } = {}): Policy {
  return policySchema.parse({
    version: 1,
    ip_allow: '127.0.0.1, ::1, 10.0.0.0/8',
    instances: {
      shop_mysql: { protocol: 'mysql', port: 3306, user: 'sqlgate', database: 'shop', label_security: true, environment: overrides.environment ?? 'dev', ip_allow: ['127.0.0.1', '10.1.0.0/16', '::1'] },
      shop_pg: { protocol: 'postgres', port: 5432, user: 'sqlgate', database: 'shop', label_security: true, environment: overrides.environment ?? 'dev' },
      acme_pg: { protocol: 'postgres', port: 5432, user: 'sqlgate', tenant: 'acme' },
    },
    users: {
      analyst: { password: NATIVE, roles: ['analyst'], clearance: 1 },
      support: { password: NATIVE, roles: ['support'], clearance: 1 },
      dba: { password: NATIVE, roles: ['dba'], clearance: 3, trusted: true, limits: { max_rows_per_query: 100000 } },
      writer: { password: NATIVE, roles: ['writer'], clearance: 0 },
      auditor: { password: NATIVE, roles: ['auditor'], clearance: 2 },
      nobody: { password: NATIVE },
      developer: { password: NATIVE, roles: ['developer'], clearance: 1 },
      rawuser: { password: NATIVE, roles: ['analyst'], clearance: 1, raw_passthrough: true },
      outsider: { password: NATIVE, roles: ['analyst'], clearance: 1, tenant: 'acme', ip_allow: '192.168.1.0/24' },
      gone: { password: NATIVE, roles: ['analyst'], disabled: true },
    },
    roles: {
      analyst: {
        grants: [
          { table: 'customers', columns: ['id', 'name', 'email', 'city', 'created_at'], privileges: ['select'] },
          { table: 'orders', privileges: ['select'] },
          { table: 'v_customer_city', privileges: ['select'] },
          { table: 'v_contacts', privileges: ['select'] },
        ],
      },
      support: {
        grants: [
          { table: 'customers', privileges: ['select'] },
          { table: 'orders', privileges: ['select'] },
          { table: 'audit_copy', privileges: ['select', 'insert'] },
        ],
        statement_kinds: ['select', 'show', 'explain', 'set', 'use', 'transaction', 'insert'],
      },
      dba: {
        grants: [{ privileges: ['all'] }],
        statement_kinds: ['select', 'insert', 'update', 'delete', 'replace', 'merge', 'ddl', 'grant', 'transaction', 'set', 'show', 'explain', 'call', 'copy', 'load_data', 'prepare', 'execute', 'deallocate', 'lock', 'use'],
        procedures: ['shop.refresh_stats', 'refresh_stats'],
        may_skip: ['no-unqualified-dml', 'full-scan-guard'],
      },
      auditor: {
        grants: [{ table: 'customers', privileges: ['select'] }, { table: 'orders', privileges: ['select'] }],
      },
      developer: {
        grants: [
          { privileges: ['ddl'] },
          { table: 'orders', privileges: ['select', 'insert', 'update', 'delete'] },
          { table: 'audit_copy', privileges: ['select', 'insert', 'update', 'delete'] },
          { table: 'customers', columns: ['id', 'name', 'email', 'city', 'created_at'], privileges: ['select'] },
        ],
        statement_kinds: ['select', 'insert', 'update', 'delete', 'ddl', 'transaction', 'set', 'show', 'use', 'explain'],
        unqualified_dml_tables: [{ table: 'audit_copy' }],
      },
      writer: {
        grants: [
          { table: 'orders', privileges: ['select', 'insert', 'update', 'delete'] },
          { table: 'customers', columns: ['id', 'name'], privileges: ['select'] },
          { table: 'customers', columns: ['city'], privileges: ['select', 'update'] },
          { table: 'customers', columns: ['email'], privileges: ['update'] },
        ],
        statement_kinds: ['select', 'insert', 'update', 'delete', 'transaction', 'set', 'show', 'use', 'explain'],
      },
    },
    labels: [
      { table: 'customers', column: 'email', level: 1 },
      { table: 'customers', column: 'phone', level: 2 },
      { table: 'customers', column: 'id_card', level: 3 },
      { table: 'v_contacts', level: 2 },
    ],
    masking: [
      { table: 'customers', column: 'phone', kind: 'partial', keep_first: 3, keep_last: 4, roles: ['support'] },
      { table: 'customers', column: 'id_card', kind: 'alias', alias: '[hidden]', roles: ['support'] },
      { table: 'customers', column: 'email', kind: 'hash', roles: ['support', 'developer'] },
    ],
    approvals: [
      { name: 'prod-ddl', when: { change_types: ['ddl'], environments: ['prod'] }, stages: [{ roles: ['dba'] }, { roles: ['security'] }] },
      { name: 'prod-big-dml', when: { change_types: ['dml'], environments: ['prod'], min_rows: 1000 }, stages: [{ roles: ['dba'] }] },
    ],
  });
}
