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
// Mostly two values of one literal form (the same shape), sometimes of any two.
const pair = fc.oneof(
  { weight: 3, arbitrary: fc.oneof(...families.map((f) => fc.tuple(f, f))) },
  { weight: 1, arbitrary: fc.tuple(fc.oneof(...families), fc.oneof(...families)) },
);

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
  let sharedRuns = 0;
  // Templates are filled twice: the second text finds the shape the first stored.
  fc.assert(fc.property(fc.constantFrom(...templates), fc.array(pair, { minLength: 8, maxLength: 8 }), (t, pairs) => {
    const fill = (k: 0 | 1) => { let i = 0; return t.replace(/§/g, () => pairs[i++][k]); };
    clearAnalysisCache();
    const first = analyzeCached(fill(0), ctx);
    const second = analyzeCached(fill(1), ctx);
    if (fill(0) !== fill(1) && second[0]?.outputs === first[0]?.outputs && second[0]?.outputs.length) sharedRuns++;
    assert.deepEqual(second, analyze(fill(1), ctx), `${fill(0)} / ${fill(1)}`);
  }), { numRuns: 600 });
  assert.ok(sharedRuns > 50, `only ${sharedRuns} runs went through the digest`);
});

test('MySQL: a decision found through the digest equals a fresh one, whoever the statement was first judged for', async () => {
  const { judge } = await import('../../../governance/engine/judge.js');
  const { shopPolicy } = await import('../../security/policy-fixture.js');
  const { shopCatalog } = await import('../../security/corpus-runner.js');
  const policy = shopPolicy();
  const catalog = shopCatalog('mysql');
  const users = ['analyst', 'support', 'dba', 'writer', 'auditor'];
  const shopTemplates = [
    'SELECT id, name, phone FROM customers WHERE id = § ORDER BY § LIMIT §',
    'SELECT name, email § FROM customers WHERE city = §',
    'SELECT id_card FROM customers WHERE id IN (§, §, §)',
    'SELECT c.name, o.amount FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.amount > § GROUP BY §',
    'UPDATE orders SET status = § WHERE id = § LIMIT §',
    'DELETE FROM orders WHERE § = §',
    'INSERT INTO orders (id, customer_id, amount, status) VALUES (§, §, §, §), (§, §, §, §)',
    'SELECT card_number FROM payments WHERE order_id = §',
    'SELECT city, count(*) FROM customers GROUP BY § HAVING count(*) > §',
  ];
  const session = (user: string) => ({ user, clientIp: '127.0.0.1', instance: 'shop_mysql', dialect: 'mysql' as const, database: 'shop', searchPath: [], door: 'mysql' as const, sessionId: `t-${user}` });
  // The first statement is judged for one user, the second (its digest twin) for the same or another.
  await fc.assert(fc.asyncProperty(fc.constantFrom(...shopTemplates), fc.constantFrom(...users), fc.constantFrom(...users), fc.array(pair, { minLength: 8, maxLength: 8 }), async (t, first, second, pairs) => {
    const fill = (k: 0 | 1) => { let i = 0; return t.replace(/§/g, () => pairs[i++][k]); };
    clearAnalysisCache();
    await judge(session(first), fill(0), { policy, analyze: analyzeCached, catalogFor: () => catalog });
    const shared = await judge(session(second), fill(1), { policy, analyze: analyzeCached, catalogFor: () => catalog });
    const fresh = await judge(session(second), fill(1), { policy, analyze, catalogFor: () => catalog });
    assert.deepEqual(shared, fresh, `${first} then ${second}: ${fill(0)} / ${fill(1)}`);
  }), { numRuns: 300 });
});
