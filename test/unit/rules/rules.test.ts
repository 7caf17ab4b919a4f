import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveLimits } from '../../../rules/limits.js';
import { DEFAULT_LIMITS } from '../../../rules/policy-schema.js';
import { matchingFlow, changeType } from '../../../rules/change-approval.js';
import { writeKind } from '../../../rules/rule.js';
import { RULES } from '../../../rules/catalogue.js';
import { freelyReadable } from '../../../rules/system-objects.js';
import { facts, table, write } from '../engine/facts-builder.js';

test('effectiveLimits: later layers win field by field', () => {
  const l = effectiveLimits({ max_rows_per_query: 10 }, { statement_timeout_ms: 5 }, { max_rows_per_query: 20 }, undefined);
  assert.equal(l.max_rows_per_query, 20);
  assert.equal(l.statement_timeout_ms, 5);
  assert.equal(l.max_rows_per_day, DEFAULT_LIMITS.max_rows_per_day);
});

test('matchingFlow: first flow matching type, environment, instance and rows', () => {
  const flows = [
    { name: 'a', when: { change_types: ['ddl' as const] }, stages: [{ roles: ['x'] }] },
    { name: 'b', when: { environments: ['prod' as const], min_rows: 100 }, stages: [{ roles: ['x'] }] },
  ];
  assert.equal(matchingFlow(flows, 'ddl', 'dev', 'i', 0)?.name, 'a');
  assert.equal(matchingFlow(flows, 'dml', 'dev', 'i', 1000), undefined);
  assert.equal(matchingFlow(flows, 'dml', 'prod', 'i', 99), undefined);
  assert.equal(matchingFlow(flows, 'dml', 'prod', 'i', 100)?.name, 'b');
  assert.equal(matchingFlow(flows, 'dml', 'prod', 'i', undefined)?.name, 'b');
});

test('writeKind looks through EXPLAIN ANALYZE and CTEs', () => {
  const t = table('orders');
  assert.equal(writeKind(facts({ kind: 'explain', verb: 'explain_analyze_delete', write: write(t) })), 'delete');
  assert.equal(writeKind(facts({ kind: 'select', verb: 'select', write: write(t) })), 'delete');
  assert.equal(writeKind(facts({ kind: 'ddl', verb: 'truncate', write: write(t, { truncate: true }) })), 'truncate');
  assert.equal(changeType(facts({ kind: 'ddl', verb: 'truncate', write: write(t, { truncate: true }) })), 'ddl');
  assert.equal(changeType(facts({ kind: 'select' })), undefined);
});

test('catalogue names every rule id the engine emits', () => {
  for (const id of ['column-acl', 'label-no-read-up', 'masking', 'no-unqualified-dml', 'statement-kinds', 'dynamic-sql', 'change-approval',
    'row-cap', 'daily-row-quota', 'daily-query-quota', 'statement-timeout', 'full-scan-guard', 'ip-allow-list', 'tenant-isolation',
    'unparsed-statement', 'unresolved-column', 'unresolved-table', 'untracked-setting']) {
    assert.ok(RULES[id], id);
  }
});

test('system catalogs: metadata readable, secrets not', () => {
  assert.ok(freelyReadable('postgres', { database: 'd', schema: 'pg_catalog', table: 'pg_class' }));
  assert.ok(!freelyReadable('postgres', { database: 'd', schema: 'pg_catalog', table: 'pg_authid' }));
  // pg_roles' columns of pg_authid are public; the password hash is not.
  assert.ok(freelyReadable('postgres', { database: 'd', schema: 'pg_catalog', table: 'pg_authid', column: 'rolname' }));
  assert.ok(!freelyReadable('postgres', { database: 'd', schema: 'pg_catalog', table: 'pg_authid', column: 'rolpassword' }));
  assert.ok(!freelyReadable('postgres', { database: 'd', schema: 'pg_catalog', table: 'pg_authid', column: 'RolPassword' }));
  assert.ok(!freelyReadable('postgres', { database: 'd', schema: 'pg_catalog', table: 'pg_shadow', column: 'usename' }));
  assert.ok(!freelyReadable('postgres', { database: 'd', schema: 'pg_catalog', table: 'pg_statistic' }));
  assert.ok(freelyReadable('mysql', { database: 'information_schema', schema: 'information_schema', table: 'COLUMNS' }));
  assert.ok(!freelyReadable('mysql', { database: 'mysql', schema: 'mysql', table: 'user' }));
  assert.ok(!freelyReadable('mysql', { database: 'performance_schema', schema: 'performance_schema', table: 'events_statements_history' }));
});
