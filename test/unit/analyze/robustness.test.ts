import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { run } from './fixtures.js';

const FRAGMENTS = ['SELECT', 'FROM', 'WHERE', 'customers', 'orders', 'phone', '*', ',', '(', ')', "'", '"', '`', ';', '/*', '*/', '/*!', '/*M!', '--', '#', '\n',
  '$$', 'AND', 'OR', '=', '1', 'WITH', 'AS', 'UNION', 'JOIN', 'ON', 'USING', 'DELETE', 'UPDATE', 'SET', 'INSERT', 'INTO', 'VALUES', 'PREPARE', 'EXECUTE',
  '@x', ':=', 'c', '.', 'id', 'LATERAL', 'RETURNING', 'EXPLAIN', 'ANALYZE', 'CALL', 'DO', 'COPY', 'TO', 'STDOUT', '\\', 'E', 'N', 'x', '0x', "''"];

test('analysis never throws and always answers, for any text (both dialects)', () => {
  const text = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 25 }).map((a) => a.join(' ')),
    fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 25 }).map((a) => a.join('')),
  );
  fc.assert(fc.property(text, fc.constantFrom('postgres' as const, 'mysql' as const), (sql, dialect) => {
    const facts = run(dialect, sql);
    assert.ok(facts.length >= 1);
    for (const f of facts) {
      assert.equal(f.dialect, dialect);
      if (f.unresolved === undefined) assert.ok(Array.isArray(f.outputs));
    }
  }), { numRuns: 400 });
});

test('PREPARE text cannot nest forever', () => {
  let sql = 'SELECT 1';
  for (let i = 0; i < 8; i++) sql = `PREPARE s${i} FROM '${sql.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const f = run('mysql', sql)[0];
  assert.equal(f.unresolved?.code, 'UNPARSED_STATEMENT');
});

test('MySQL digest sharing: a shared analysis equals a fresh one, whatever the literals', async () => {
  const { analyze, analyzeCached, clearAnalysisCache } = await import('../../../governance/analyze/analyze.js');
  const { myCatalog } = await import('./fixtures.js');
  const ctx = { dialect: 'mysql' as const, catalog: myCatalog, database: 'shop', searchPath: [] };
  const templates = [
    'SELECT phone FROM customers WHERE id = $ AND name = $',
    'DELETE FROM orders WHERE $ = $',
    'DELETE FROM orders WHERE id = $ OR $',
    'UPDATE orders SET note = $ WHERE id = $ LIMIT $',
    'SELECT id, phone AS $ FROM customers ORDER BY $ LIMIT $',
    'INSERT INTO orders (id, note) VALUES ($, $), ($, $)',
    'SELECT id FROM customers WHERE phone IN ($, $, $) GROUP BY $',
    'SELECT $ FROM customers',
    "SELECT CASE WHEN id > $ THEN phone ELSE $ END FROM customers",
    'SELECT id FROM customers WHERE $',
    'SELECT $ + id, phone $ FROM customers LIMIT $, $',
    'SELECT id FROM orders WHERE note > DATE_SUB(NOW(), INTERVAL $ DAY) AND $ AND id = $',
    'DELETE FROM orders WHERE id = $ AND NOT $ ORDER BY $ LIMIT $',
    'SET @a = $, @b = $',
    "SELECT id FROM customers WHERE name LIKE $ ESCAPE $ OR phone REGEXP $",
    'SELECT id FROM customers /*+ sqlgate:skip(no-unqualified-dml) */ WHERE id = $',
    'SELECT id FROM customers WHERE (id, $) IN (($, $))',
    'SELECT id, phone FROM customers ORDER BY id IS NULL, $ LIMIT $',
    'SELECT id, phone FROM customers GROUP BY (id), $ ORDER BY $',
  ];
  const literal = fc.oneof(fc.integer({ min: -3, max: 5 }).map(String), fc.string({ maxLength: 6 }).map((x) => `'${x.replace(/[\\']/g, '')}'`), fc.constantFrom('TRUE', 'FALSE', 'NULL', '0x1F', '1.5e3', '1.5', "X'1F'", "N'a'", '0b101'));
  const strip = (f: object[]) => JSON.stringify(f.map((x) => ({ ...x, text: '' })));
  fc.assert(fc.property(fc.constantFrom(...templates), fc.array(literal, { minLength: 6, maxLength: 6 }), fc.array(literal, { minLength: 6, maxLength: 6 }), (t, a, b) => {
    const fill = (vals: string[]) => { let i = 0; return t.replace(/\$/g, () => vals[i++]); };
    clearAnalysisCache();
    analyzeCached(fill(a), ctx);
    const shared = analyzeCached(fill(b), ctx);
    assert.equal(strip(shared), strip(analyze(fill(b), ctx)), `${fill(a)} / ${fill(b)}`);
  }), { numRuns: 300 });
});
