/**
 * Masks are applied by output position, so the analysis must count and
 * order result columns exactly as the server does. Each query runs on the
 * real server and its result columns are compared with the analysis.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMysqlDatabase, createPgDatabase, mysqlConnect, pgConnect } from '../../helpers/db.js';
import { loadMysqlCatalog, loadPgCatalog } from '../../../governance/catalog/catalog.js';
import { analyze, initAnalysis } from '../../../governance/analyze/analyze.js';

await initAnalysis();

const SETUP = `
  CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(20), phone VARCHAR(20), note VARCHAR(20), gone INT);
  ALTER TABLE customers DROP COLUMN gone;
  CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT, total INT, note VARCHAR(20));
  CREATE VIEW v_contacts AS SELECT c.id, c.phone AS contact FROM customers c;`;

const COMMON = [
  'SELECT * FROM customers',
  'SELECT * FROM customers JOIN orders USING (id)',
  'SELECT * FROM customers c JOIN orders o ON o.customer_id = c.id',
  'SELECT o.*, c.phone, c.* FROM orders o JOIN customers c ON c.id = o.customer_id',
  'SELECT * FROM orders o, customers c JOIN orders o2 USING (id)',
  'SELECT * FROM (SELECT phone AS p, id FROM customers) d',
  'WITH w AS (SELECT id, phone FROM customers) SELECT * FROM w',
  'SELECT * FROM v_contacts',
  'SELECT id, phone FROM customers UNION SELECT id, note FROM orders',
  'SELECT phone, (SELECT count(*) FROM orders) FROM customers',
  'SELECT * FROM customers LEFT JOIN orders ON orders.customer_id = customers.id',
];
const PG_ONLY = [
  'SELECT (c).*, c.phone FROM customers c',
  "SELECT * FROM jsonb_each('{}'::jsonb) j, customers c",
  'SELECT * FROM generate_series(1, 2) g, customers',
  'SELECT * FROM customers NATURAL JOIN orders',
  'SELECT * FROM customers c(a, b)',
];

test('PostgreSQL: analysed outputs match the server column for column', async () => {
  const db = await createPgDatabase('outputs', SETUP.replace(/INT/g, 'int'));
  const c = await pgConnect(db.url);
  try {
    const cat = await loadPgCatalog(c);
    for (const sql of [...COMMON, ...PG_ONLY]) {
      const f = analyze(sql, { dialect: 'postgres', catalog: cat, database: db.name, searchPath: ['public'] })[0];
      assert.equal(f.unresolved, undefined, `${sql}: ${f.unresolved?.message}`);
      const r = await c.query(`SELECT * FROM (${sql}) q LIMIT 0`).catch(() => c.query(`${sql} LIMIT 0`));
      assert.deepEqual(f.outputs.map((o) => o.name), r.fields.map((x) => x.name), sql);
      // Where the server names a bare output's table and column (RowDescription), it is ours.
      f.outputs.forEach((o, i) => {
        const field = r.fields[i];
        if (!field.tableID || o.sources.length !== 1 || !o.sources[0].bare) return;
        const src = o.sources[0].column;
        const t = cat.lookup(undefined, src.schema, src.table);
        // Columns selected from a view are reported as the view's own: lineage goes on to the base column.
        const reported = cat.tables().find((x) => x.oid === field.tableID);
        if (reported?.kind === 'view') {
          assert.ok(f.tablesRead.some((x) => x.table === reported.name && x.schema === reported.schema), `${sql} #${i} view listed`);
          return;
        }
        assert.equal(field.tableID, t?.oid, `${sql} #${i} table`);
        assert.equal(field.columnID, t?.columns.find((x) => x.name === src.column)?.ordinal, `${sql} #${i} column`);
      });
    }
  } finally {
    await c.end();
    await db.drop();
  }
});

test('MariaDB: analysed outputs match the server column for column', async () => {
  const db = await createMysqlDatabase('outputs', SETUP);
  const c = await mysqlConnect(db.url);
  try {
    const cat = await loadMysqlCatalog(c, [db.name]);
    for (const sql of COMMON) {
      const f = analyze(sql, { dialect: 'mysql', catalog: cat, database: db.name, searchPath: [] })[0];
      assert.equal(f.unresolved, undefined, `${sql}: ${f.unresolved?.message}`);
      const [, fields] = await c.query(`${sql} LIMIT 0`);
      const names = (fields as { name: string }[]).map((x) => x.name);
      assert.equal(f.outputs.length, names.length, sql);
      // Plain columns carry the server's name; expressions are named by their text there.
      f.outputs.forEach((o, i) => { if (o.sources.length === 1 && o.sources[0].bare && o.name !== '?column?') assert.equal(o.name.toLowerCase(), names[i].toLowerCase(), `${sql} #${i}`); });
    }
  } finally {
    await c.end();
    await db.drop();
  }
});
