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
import { createPgDatabase, pgConnect, pgUrl, withDatabase, type TempDatabase } from '../../helpers/db.js';
import { createGate } from '../../../governance/gate-impl.js';
import { initAnalysis } from '../../../governance/analyze/analyze.js';
import { loadPgCatalog } from '../../../governance/catalog/catalog.js';
import { CatalogProvider } from '../../../governance/catalog/provider.js';
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
  const catalogs = new CatalogProvider(async (database) => {
    const c = await pgConnect(withDatabase(pgUrl(), database ?? 'postgres'));
    try { return await loadPgCatalog(c); } finally { await c.end(); }
  });
  ep = await startEndpoint(createGate({ policy: () => policy, audit: { write() {} }, catalogFor: (_i, d) => catalogs.get(d), refreshCatalog: (_i, d) => catalogs.refresh(d) }));
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
