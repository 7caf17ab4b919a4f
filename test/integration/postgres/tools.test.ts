/**
 * PostgreSQL's own tools through sqlgate, with the real gate: pg_dump run by
 * a user allowed everything, and psql's catalog commands (\d, \du) by a user
 * with grants on one table only, and what JDBC's metadata reads. Each reads the system catalogs in ways a
 * hand-written test would not (system columns, set-returning catalog
 * helpers, views over pg_authid).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPgDatabase, type TempDatabase } from '../../helpers/db.js';
import { pgLiveGate } from '../../helpers/live-gate.js';
import { initAnalysis } from '../../../governance/analyze/analyze.js';
import { policySchema } from '../../../rules/policy-schema.js';
import { pgThrough, psqlResult, startEndpoint, testPolicy, type Endpoint } from './setup.js';

let db: TempDatabase;
let ep: Endpoint;

before(async () => {
  await initAnalysis();
  db = await createPgDatabase('tools', "CREATE TABLE items (id int PRIMARY KEY, name text, secret text); INSERT INTO items VALUES (1, 'one', 's1'), (2, 'two', 's2')");
  const base = testPolicy(db.name);
  const policy = policySchema.parse({
    ...base,
    users: { alice: { ...base.users.alice, roles: ['admin'] }, bob: { password: base.users.alice.password, roles: ['reader'] } },
    roles: {
      admin: {
        grants: [{ privileges: ['all'] }], procedures: ['*'],
        statement_kinds: ['select', 'insert', 'update', 'delete', 'ddl', 'set', 'show', 'transaction', 'copy', 'lock', 'explain', 'prepare', 'execute', 'deallocate'],
      },
      reader: { grants: [{ database: db.name, table: 'items', columns: ['id', 'name'], privileges: ['select'] }] },
    },
  });
  ep = await startEndpoint(pgLiveGate(policy));
});
after(async () => {
  await ep?.close();
  await db?.drop();
});

test('pg_dump through sqlgate dumps the schema and the rows', async () => {
  const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile('pg_dump', [ep.url('alice', db.name)], { encoding: 'utf8', env: { ...process.env, PGSSLMODE: 'disable' }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /CREATE TABLE public\.items/);
  assert.match(out.stdout, /COPY public\.items \(id, name, secret\) FROM stdin;\n1\tone\ts1\n2\ttwo\ts2\n\\\./);
});

test('psql \\d and \\du for a user with grants on two columns of one table; the hidden column stays hidden', async () => {
  const url = ep.url('bob', db.name);
  const d = await psqlResult(url, ['-c', '\\d items']);
  assert.equal(d.status, 0, d.stderr);
  assert.match(d.stdout, /^id\|integer\|\|not null\|$/m);
  const du = await psqlResult(url, ['-c', '\\du']);
  assert.equal(du.status, 0, du.stderr);
  assert.match(du.stdout, /postgres\|/);
  const secret = await psqlResult(url, ['-c', 'SELECT secret FROM items']);
  assert.notEqual(secret.status, 0);
  assert.match(secret.stderr, /items\.secret/);
});

test('pg_settings for a user with grants on one table: JDBC foreign-key metadata and psql \\dconfig', async () => {
  // pgjdbc's getImportedKeys reads max_index_keys here first; pg_settings is the same values SHOW ALL gives.
  const c = await pgThrough(ep.url('bob', db.name));
  try {
    assert.deepEqual((await c.query("SELECT setting FROM pg_catalog.pg_settings WHERE name='max_index_keys'")).rows, [{ setting: '32' }]);
  } finally {
    await c.end();
  }
  const dconfig = await psqlResult(ep.url('bob', db.name), ['-c', '\\dconfig max_index_keys']);
  assert.equal(dconfig.status, 0, dconfig.stderr);
  assert.match(dconfig.stdout, /max_index_keys\|32/);
});

test("Sequelize's describeTable (sync alter) for a user with grants on one table: statistics views are counters, readable", async () => {
  const describeTable = `SELECT pk.constraint_type as "Constraint",c.column_name as "Field", c.column_default as "Default",c.is_nullable as "Null", (CASE WHEN c.udt_name = 'hstore' THEN c.udt_name ELSE c.data_type END) || (CASE WHEN c.character_maximum_length IS NOT NULL THEN '(' || c.character_maximum_length || ')' ELSE '' END) as "Type", (SELECT array_agg(e.enumlabel) FROM pg_catalog.pg_type t JOIN pg_catalog.pg_enum e ON t.oid=e.enumtypid WHERE t.typname=c.udt_name) AS "special", (SELECT pgd.description FROM pg_catalog.pg_statio_all_tables AS st INNER JOIN pg_catalog.pg_description pgd on (pgd.objoid=st.relid) WHERE c.ordinal_position=pgd.objsubid AND c.table_name=st.relname) AS "Comment" FROM information_schema.columns c LEFT JOIN (SELECT tc.table_schema, tc.table_name, cu.column_name, tc.constraint_type FROM information_schema.TABLE_CONSTRAINTS tc JOIN information_schema.KEY_COLUMN_USAGE  cu ON tc.table_schema=cu.table_schema and tc.table_name=cu.table_name and tc.constraint_name=cu.constraint_name and tc.constraint_type='PRIMARY KEY') pk ON pk.table_schema=c.table_schema AND pk.table_name=c.table_name AND pk.column_name=c.column_name WHERE c.table_name = 'items' AND c.table_schema = 'public'`;
  const c = await pgThrough(ep.url('bob', db.name));
  try {
    const rows = (await c.query(describeTable)).rows as { Field: string; Constraint: string | null }[];
    assert.deepEqual(rows.map((r) => [r.Field, r.Constraint]), [['id', 'PRIMARY KEY'], ['name', null], ['secret', null]]);
    assert.equal((await c.query('SELECT n_live_tup >= 0 AS ok FROM pg_stat_user_tables WHERE relname = $1', ['items'])).rows[0].ok, true);
    await assert.rejects(c.query('SELECT query FROM pg_stat_activity'), /pg_stat_activity|pg_stat_get_activity/);
  } finally {
    await c.end();
  }
});
