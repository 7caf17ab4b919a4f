/**
 * MySQL statements that differ only in literals share one analysis through
 * their digest (lexer.ts). That is safe only if the analysis never depends
 * on a literal's value: so for statements built around every MySQL literal
 * form, in the places where a literal can change what a statement means
 * (positions in ORDER BY / GROUP BY, string aliases, LIMIT, INTERVAL,
 * introducers, hex and bit values, VALUES tuples, IN lists, comments), the
 * analysis found through the digest must deep-equal a fresh one. Where
 * node-sql-parser misreads a literal the server reads (1e3, .5, DEFAULT),
 * the text it parses spells it the way it reads (lexer.ts, joinTokens):
 * otherwise a statement was refused alone but allowed after its twin.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { analyze, analyzeCached, clearAnalysisCache } from '../../../governance/analyze/analyze.js';
import { SHOP_TEMPLATES, analysisSharingHolds, decisionSharingHolds, literalPairs } from './digest-properties.js';
import { myCatalog, pgCatalog } from './fixtures.js';

const ctx = { dialect: 'mysql' as const, catalog: myCatalog, database: 'shop', searchPath: [] };

const templates = [
  'SELECT phone FROM customers WHERE id = § AND name = §',
  'SELECT c FROM sbtest1 WHERE id=§',
  'DELETE FROM orders WHERE § = §',
  'DELETE FROM orders WHERE id = § OR §',
  'DELETE FROM orders WHERE id + § = id + § LIMIT §',
  'UPDATE orders SET note = § WHERE id = § LIMIT §',
  'UPDATE orders SET total = total - § WHERE note = CONCAT(note, §) AND §',
  'SELECT id, phone FROM customers ORDER BY § LIMIT §, §',
  'SELECT id, phone FROM customers ORDER BY § LIMIT § OFFSET §',
  'SELECT id, phone FROM customers GROUP BY id, § HAVING count(*) > §',
  'SELECT id, phone FROM customers GROUP BY § WITH ROLLUP',
  'SELECT id, phone FROM customers ORDER BY id IS NULL, § DESC, §',
  'INSERT INTO orders (id, note) VALUES (§, §), (§, §) ON DUPLICATE KEY UPDATE note = §',
  'INSERT INTO orders (id, note) VALUES (§, §)',
  'REPLACE INTO orders (id, total) VALUES (§, §), (§, §), (§, §)',
  'SELECT id FROM customers WHERE phone IN (§, §, §)',
  'SELECT § FROM customers',
  'SELECT phone § FROM customers',
  'SELECT phone AS § FROM customers',
  'SELECT id, § AS x, phone FROM customers',
  'SELECT CASE WHEN id > § THEN phone ELSE § END AS x FROM customers',
  'SELECT id FROM customers WHERE §',
  'SELECT § + id, phone FROM customers c',
  'SELECT id FROM orders WHERE note > NOW() - INTERVAL § DAY AND § AND id = ?',
  'SELECT id FROM customers /* § */ WHERE id = § -- §\n',
  'SELECT id FROM customers # §\n WHERE id = §',
  'SELECT c.phone, (SELECT max(total) FROM orders o WHERE o.customer_id = c.id AND o.total > §) FROM customers c WHERE c.id = §',
  'SELECT contact FROM v_contacts WHERE id = § UNION ALL SELECT note FROM orders WHERE total = §',
  'SELECT id FROM customers WHERE § = § ORDER BY §, §',
  'SELECT id FROM customers WHERE name LIKE § ESCAPE § AND note REGEXP §',
  'SELECT id FROM customers WHERE name = § COLLATE utf8mb4_bin',
  'SELECT `Id`, `Secret` FROM `Mixed` WHERE `Id` = §',
  'SELECT id, phone FROM customers WHERE id BETWEEN § AND § ORDER BY § LIMIT §',
  'SELECT § FROM customers; DELETE FROM orders WHERE id = §; SELECT phone FROM customers ORDER BY §',
  'UPDATE orders SET note = § WHERE id = §; SELECT id, § FROM orders LIMIT §',
];

const plain = fc.string({ maxLength: 6 });
const families = [
  fc.integer({ min: -3, max: 5 }).map(String),
  fc.constantFrom('2.5', '1e3', '1E+3', '2e-3', '.5', '.5e1', '3.', '0.', '00012', '-0.0', '12345678901234567890', '1.5E-2', '0e0'),
  plain.map((x) => `'${x.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`),
  plain.map((x) => `"${x.replace(/\\/g, '\\\\').replace(/"/g, '""')}"`),
  plain.map((x) => `'${x.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`),
  fc.constantFrom("_utf8mb4'x'", "_latin1'y'", "N'n'", "n'm'", "X'1F'", "x'41'", '0x1F', '0X1f', "B'1010'", "b'01'", '0b101', "''", '""'),
  fc.constantFrom('TRUE', 'FALSE', 'NULL', 'phone', '?', 'DEFAULT'),
];
const pair = literalPairs(families);

test('what node-sql-parser misreads (1e3, .5, the DEFAULT value) is analysed as the server reads it', () => {
  for (const sql of ['SELECT id FROM customers WHERE id = 1e3', 'SELECT 2E-3 FROM customers', 'SELECT id FROM customers WHERE phone IN (.5, 1)',
    "SELECT id FROM customers WHERE id = .5 AND name = ''", 'INSERT INTO orders (id, total) VALUES (1, DEFAULT), (2, default)',
    'INSERT INTO orders SET id = 1, total = DEFAULT', 'UPDATE orders SET total = DEFAULT WHERE id = 1',
    'INSERT INTO orders (id, total) VALUES (1, 2) ON DUPLICATE KEY UPDATE total = DEFAULT']) {
    const f = analyze(sql, ctx)[0];
    assert.equal(f.unresolved, undefined, `${sql}: ${JSON.stringify(f.unresolved)}`);
    assert.equal(f.text, sql, 'the statement keeps its own text');
  }
  // Still read as written: a quoted `DEFAULT` is a column; beside DEFAULT a column is still
  // seen (here refused, as a bare column in VALUES is); DEFAULT(col) is left to the parser.
  assert.match(analyze('INSERT INTO orders (id, total) VALUES (1, `DEFAULT`)', ctx)[0].unresolved?.message ?? '', /DEFAULT/);
  assert.match(analyze('INSERT INTO orders (id, total) VALUES (1, DEFAULT + customer_id)', ctx)[0].unresolved?.message ?? '', /customer_id/);
  assert.match(analyze('UPDATE orders SET total = DEFAULT + phone WHERE id = 1', ctx)[0].unresolved?.message ?? '', /phone/);
  assert.ok(analyze('UPDATE orders SET total = DEFAULT(note) WHERE id = 1', ctx)[0].reads.some((r) => r.column.column === 'id'));
});

test('a parameter counts as a constant like a literal: id + ? = id + 0 is always true once 0 is bound, whichever twin came first', () => {
  const always = (sql: string, c: typeof ctx | { dialect: 'postgres'; catalog: typeof pgCatalog; database: string; searchPath: string[] } = ctx) => analyze(sql, c)[0].write?.alwaysTrue;
  assert.equal(always('DELETE FROM orders WHERE id + ? = id + 0'), true);
  assert.equal(always('UPDATE orders SET note = ? WHERE ? + id = 0 + id'), true);
  assert.equal(always('DELETE FROM orders WHERE id = ?'), false, 'a real condition stays one');
  assert.equal(always('DELETE FROM orders WHERE id + $1 = id + 0', { dialect: 'postgres', catalog: pgCatalog, database: 'shop', searchPath: ['public'] }), true);
  // The text statement and the prepared one share a digest: neither order lets the tautology through.
  for (const [a, b] of [['DELETE FROM orders WHERE id + ? = id + 0', 'DELETE FROM orders WHERE id + 0 = id + 0'], ['DELETE FROM orders WHERE id + 0 = id + 0', 'DELETE FROM orders WHERE id + ? = id + 0']]) {
    clearAnalysisCache();
    analyzeCached(a, ctx);
    assert.equal(analyzeCached(b, ctx)[0].write?.alwaysTrue, true, `${a} then ${b}`);
  }
});

test('MySQL digest sharing: an analysis found through the digest deep-equals a fresh one, whatever the literals', () => {
  analysisSharingHolds(ctx, templates, pair, 600, 50);
});

test('MySQL: a decision found through the digest equals a fresh one, whoever the twin was first judged for', async () => {
  await decisionSharingHolds('mysql', [...SHOP_TEMPLATES, 'UPDATE orders SET status = § WHERE id = § LIMIT §', 'SELECT city, count(*) FROM customers GROUP BY § HAVING count(*) > §'], pair, 300);
});
