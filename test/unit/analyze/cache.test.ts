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
  assert.notEqual(analyzeCached('SELECT * FROM customers ', pg), base);
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
