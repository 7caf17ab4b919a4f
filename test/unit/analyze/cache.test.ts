import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeCached, clearAnalysisCache } from '../../../governance/analyze/analyze.js';
import { catalogFromTables, withVersion } from '../../../governance/catalog/catalog.js';
import { pgCatalog, myCatalog } from './fixtures.js';

test('the same text and context hits the cache', () => {
  clearAnalysisCache();
  const ctx = { dialect: 'postgres' as const, catalog: pgCatalog, database: 'shop', searchPath: ['public'] };
  const a = analyzeCached('SELECT phone FROM customers', ctx);
  assert.equal(analyzeCached('SELECT phone FROM customers', { ...ctx }), a);
});

test('different texts, literals, databases, search paths, dialects and catalog versions never share an entry', () => {
  clearAnalysisCache();
  const pg = { dialect: 'postgres' as const, catalog: pgCatalog, database: 'shop', searchPath: ['public'] };
  const base = analyzeCached('SELECT * FROM customers', pg);
  assert.equal(base[0].outputs.length, 5);
  const hr = analyzeCached('SELECT * FROM customers', { ...pg, searchPath: ['hr', 'public'] });
  assert.deepEqual(hr[0].outputs.map((o) => o.name), ['id', 'ssn']);
  assert.notEqual(analyzeCached('SELECT id FROM customers', pg), base);
  // Blanks or a `;` around the statement do not make another statement: the text is the parser's cut.
  assert.equal(analyzeCached('SELECT * FROM customers ;', pg)[0].text, 'SELECT * FROM customers');
  const d1 = analyzeCached('DELETE FROM orders WHERE 1=1', pg)[0];
  const d2 = analyzeCached('DELETE FROM orders WHERE 1=2', pg)[0];
  assert.equal(d1.text, 'DELETE FROM orders WHERE 1=1');
  assert.equal(d2.text, 'DELETE FROM orders WHERE 1=2');
  const my = { dialect: 'mysql' as const, catalog: myCatalog, database: 'shop', searchPath: [] };
  assert.equal(analyzeCached('SELECT * FROM customers', my)[0].dialect, 'mysql');
  assert.deepEqual(analyzeCached('SELECT * FROM customers', { ...my, database: 'hr' })[0].outputs.map((o) => o.name), ['id', 'ssn']);
  // A refreshed catalog (new version) and a different catalog object are new keys.
  const v2 = withVersion(pgCatalog, pgCatalog.version + 1);
  assert.notEqual(analyzeCached('SELECT * FROM customers', { ...pg, catalog: v2 }), base);
  const other = catalogFromTables('postgres', [{ database: 'shop', name: 'customers', columns: ['id'] }]);
  assert.equal(analyzeCached('SELECT * FROM customers', { ...pg, catalog: other })[0].outputs.length, 1);
});

test('MySQL statements differing only in literals share one analysis, with their own text', () => {
  clearAnalysisCache();
  const my = { dialect: 'mysql' as const, catalog: myCatalog, database: 'shop', searchPath: [] };
  const a = analyzeCached("SELECT phone FROM customers WHERE id = 1 AND name = 'x'", my)[0];
  const b = analyzeCached("select phone from customers where id = 2 and name = 'y'", my)[0];
  assert.equal(b.text, "select phone from customers where id = 2 and name = 'y'");
  assert.equal(b.outputs, a.outputs, 'shared through the digest');
  // Aliases given as strings name outputs: they stay in the shape.
  assert.equal(analyzeCached("SELECT phone AS 'p1' FROM customers", my)[0].outputs[0].name, 'p1');
  assert.equal(analyzeCached("SELECT phone AS 'p2' FROM customers", my)[0].outputs[0].name, 'p2');
  assert.equal(analyzeCached("SELECT phone 'p3' FROM customers", my)[0].outputs[0].name, 'p3');
  // Literal-carrying statements are never shared.
  const p1 = analyzeCached("PREPARE s FROM 'SELECT id FROM orders'", my)[0];
  const p2 = analyzeCached("PREPARE s FROM 'SELECT phone FROM customers'", my)[0];
  assert.notDeepEqual(p1.outputs.map((o) => o.name), p2.outputs.map((o) => o.name));
  assert.deepEqual(analyzeCached("SET sql_mode = 'ANSI_QUOTES'", my)[0].sessionChange, { kind: 'setting', name: 'sql_mode', value: 'ANSI_QUOTES' });
  assert.deepEqual(analyzeCached("SET sql_mode = ''", my)[0].sessionChange, { kind: 'setting', name: 'sql_mode', value: '' });
  // Same shape, different outcome never happens for constant predicates: both are always true.
  const d1 = analyzeCached('DELETE FROM orders WHERE 1 = 1', my)[0];
  const d2 = analyzeCached('DELETE FROM orders WHERE 1 = 2', my)[0];
  assert.equal(d1.write?.alwaysTrue, true);
  assert.equal(d2.write?.alwaysTrue, true);
  assert.equal(d2.text, 'DELETE FROM orders WHERE 1 = 2');
  // TRUE/FALSE are keywords, not literals: different shapes.
  assert.notEqual(analyzeCached('DELETE FROM orders WHERE FALSE', my)[0].fingerprint, d1.fingerprint);
  // An executable comment whose execution depends on the version is never shared.
  const e1 = analyzeCached('DELETE FROM orders /*!40000 WHERE id = 1 */', my)[0];
  const e2 = analyzeCached('DELETE FROM orders /*!99999 WHERE id = 2 */', my)[0];
  assert.equal(e1.write?.hasWhere, true);
  assert.equal(e2.write?.hasWhere, false);
});

test('ORDER BY positions stay in the MySQL digest', () => {
  clearAnalysisCache();
  const my = { dialect: 'mysql' as const, catalog: myCatalog, database: 'shop', searchPath: [] };
  const a = analyzeCached('SELECT id, phone FROM customers ORDER BY 1 LIMIT 5', my)[0];
  const b = analyzeCached('SELECT id, phone FROM customers ORDER BY 2 LIMIT 9', my)[0];
  assert.notEqual(a.fingerprint, b.fingerprint);
  assert.ok(b.reads.some((r) => r.column.column === 'phone'));
  assert.ok(!a.reads.some((r) => r.column.column === 'phone'));
  assert.equal(analyzeCached('SELECT id FROM customers ORDER BY 1 LIMIT 7', my)[0].fingerprint, 'SELECT id FROM customers ORDER BY 1 LIMIT ?');
  // Positions after an item that is itself an expression are still positions.
  for (const [clause, more] of [['ORDER BY id IS NULL,', ''], ['GROUP BY (id),', ''], ['ORDER BY id DESC,', ' LIMIT 3'], ['GROUP BY id IS NOT NULL,', ' WITH ROLLUP']]) {
    clearAnalysisCache();
    const one = analyzeCached(`SELECT id, phone FROM customers ${clause} 1${more}`, my)[0];
    const two = analyzeCached(`SELECT id, phone FROM customers ${clause} 2${more}`, my)[0];
    assert.ok(two.reads.some((r) => r.column.column === 'phone'), `${clause} 2`);
    assert.ok(!one.reads.some((r) => r.column.column === 'phone'), `${clause} 1`);
  }
});
