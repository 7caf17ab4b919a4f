/**
 * The plan reader on EXPLAIN output captured from MariaDB 10.11 and
 * PostgreSQL 15 (the integration suite runs the real servers), plus MySQL 8's
 * JSON spelling of the examined-rows estimate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainStatement, readPlan } from '../../../governance/plan/plan-scans.js';

const mariaRow = (plan: unknown) => ({ EXPLAIN: JSON.stringify(plan, null, 2) });
const table = (name: string, access: string, rows?: number, extra: object = {}) =>
  ({ table: { table_name: name, access_type: access, ...(rows === undefined ? {} : { rows }), ...extra } });

test('explainStatement asks for JSON and drops a trailing terminator', () => {
  assert.equal(explainStatement('mysql', 'SELECT 1 ; \n'), 'EXPLAIN FORMAT=JSON SELECT 1');
  assert.equal(explainStatement('postgres', 'SELECT 1;'), 'EXPLAIN (FORMAT JSON, VERBOSE) SELECT 1');
});

test('MariaDB: full table and full index scans are found at any depth; lookups are not scans', () => {
  const plan = { query_block: { select_id: 1, nested_loop: [
    table('small', 'ALL', 50),
    table('<subquery2>', 'eq_ref', 1, { materialized: { unique: 1, query_block: { select_id: 2, nested_loop: [table('big', 'ALL', 19874)] } } }),
    table('b', 'ref', 20, { key: 'k_idx' }),
    table('c', 'index', 19874, { key: 'k_idx' }),
    table('h', 'hash_ALL', 5000),
  ] } };
  const r = readPlan('mysql', [mariaRow(plan)]);
  assert.deepEqual(r, { readable: true, scans: [
    { name: 'small', schema: undefined, rows: 50, via: 'table' },
    { name: 'big', schema: undefined, rows: 19874, via: 'table' },
    { name: 'c', schema: undefined, rows: 19874, via: 'index' },
    { name: 'h', schema: undefined, rows: 5000, via: 'table' },
  ] });
});

test('MariaDB: union branches and derived tables are walked', () => {
  const plan = { query_block: { union_result: { table_name: '<union1,2>', access_type: 'ALL', query_specifications: [
    { query_block: { select_id: 1, nested_loop: [table('big', 'const', 1)] } },
    { query_block: { select_id: 2, operation: 'UNION', nested_loop: [table('<derived3>', 'ALL', 19874, {
      materialized: { query_block: { select_id: 3, filesort: { temporary_table: { nested_loop: [table('big', 'ALL', 19874)] } } } } })] } },
  ] } } };
  const r = readPlan('mysql', [mariaRow(plan)]);
  assert.ok(r.readable);
  assert.deepEqual(r.scans.map((s) => s.name), ['<union1,2>', '<derived3>', 'big']);
});

test('MariaDB: an impossible WHERE is a readable plan with no scans', () => {
  assert.deepEqual(readPlan('mysql', [mariaRow({ query_block: { select_id: 1, table: { message: 'Impossible WHERE' } } })]),
    { readable: true, scans: [] });
});

test('MySQL 8: rows_examined_per_scan is the size estimate', () => {
  const plan = { query_block: { select_id: 1, table: { table_name: 'b', access_type: 'ALL', rows_examined_per_scan: 120000, rows_produced_per_join: 10 } } };
  const r = readPlan('mysql', [{ EXPLAIN: JSON.stringify(plan) }]);
  assert.deepEqual(r, { readable: true, scans: [{ name: 'b', schema: undefined, rows: 120000, via: 'table' }] });
});

test('PostgreSQL: Seq Scans at any depth (a LIMIT above does not excuse them), with schema', () => {
  const rows = [{ 'QUERY PLAN': [{ Plan: { 'Node Type': 'Result', Plans: [
    { 'Node Type': 'Seq Scan', 'Parent Relationship': 'InitPlan', 'Relation Name': 'big', Schema: 'public', Alias: 'x' },
    { 'Node Type': 'Bitmap Heap Scan', 'Relation Name': 'big', Schema: 'public', Plans: [{ 'Node Type': 'Bitmap Index Scan', 'Index Name': 'big_k_idx' }] },
    { 'Node Type': 'Index Scan', 'Relation Name': 'other', Schema: 's', 'Index Cond': '(id = 1)' },
    { 'Node Type': 'Merge Join', Plans: [{ 'Node Type': 'Index Scan', 'Relation Name': 'ordered', Schema: 's' },
      { 'Node Type': 'Limit', Plans: [{ 'Node Type': 'Seq Scan', 'Relation Name': 'limited', Schema: 's' }] }] },
  ] } }] }];
  assert.deepEqual(readPlan('postgres', rows), { readable: true, scans: [
    { name: 'big', schema: 'public', rows: undefined, via: 'table' },
    { name: 'limited', schema: 's', rows: undefined, via: 'table' },
  ] });
});

test('PostgreSQL: a plan delivered as JSON text is read too', () => {
  const rows = [{ 'QUERY PLAN': JSON.stringify([{ Plan: { 'Node Type': 'Seq Scan', 'Relation Name': 'big' } }]) }];
  assert.deepEqual(readPlan('postgres', rows), { readable: true, scans: [{ name: 'big', schema: undefined, rows: undefined, via: 'table' }] });
});

test('output that is not a plan is unreadable (the guard then refuses)', () => {
  assert.equal(readPlan('mysql', []).readable, false);
  assert.equal(readPlan('mysql', [{ EXPLAIN: 'not json' }]).readable, false);
  assert.equal(readPlan('mysql', [{ id: 1, select_type: 'SIMPLE', table: 'big', type: 'ALL' }]).readable, false);
  assert.equal(readPlan('postgres', [{ 'QUERY PLAN': 'Seq Scan on big  (cost=0.00..359.00 rows=26 width=12)' }]).readable, false);
});
