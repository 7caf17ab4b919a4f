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
