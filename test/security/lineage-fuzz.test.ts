/**
 * Generated attacks: a protected column (phone, label 2, masked for support;
 * id_card, label 3) behind random chains of wrappers (functions, CASE,
 * arithmetic, concatenation, scalar subqueries, parentheses), under random
 * spellings (aliases, qualification, quoting, case), in random places
 * (select list, WHERE, ORDER BY, GROUP BY, HAVING, JOIN, derived table, CTE,
 * IN (SELECT), EXISTS, UNION). Whatever the combination:
 *   - analyst (no grant on either) is refused;
 *   - support sees the value only masked, and only when it reaches the client
 *     as a bare column; anywhere else it is refused;
 *   - auditor (clearance 2, no masks) may read id_card nowhere; where auditor
 *     is refused phone (the parser fails on a valid statement: fail closed),
 *     the statement is printed as over-blocked rather than failed.
 * Seeded, so a failure reproduces; the counter-example is printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Dialect } from '../../governance/facts.js';
import { judge } from '../../governance/engine/judge.js';
import * as analysis from '../../governance/analyze/analyze.js';
import { shopCatalog } from './corpus-runner.js';
import { shopPolicy } from './policy-fixture.js';

type Wrap = (x: string, d: Dialect) => string;

const WRAPPERS: readonly Wrap[] = [
  (x) => `UPPER(${x})`,
  (x, d) => (d === 'mysql' ? `CONCAT(${x}, '')` : `${x} || ''`),
  (x) => `COALESCE(${x}, 'a')`,
  (x) => `CASE WHEN ${x} = '1' THEN 'y' ELSE 'n' END`,
  (x) => `SUBSTRING(${x}, 1, 2)`,
  (x) => `LENGTH(${x})`,
  (x) => `(${x})`,
  (x) => `LOWER(TRIM(${x}))`,
  (x, d) => (d === 'mysql' ? `(${x} + 0)` : `(${x}::text)`),
  (x) => `(SELECT ${x})`,
  (x) => `REPLACE(${x}, '1', '2')`,
];

/** Wrappers that leave the value unchanged: the output stays bare. */
const TRANSPARENT = new Set([6]);

function spell(column: string, form: number, d: Dialect): string {
  switch (form % 5) {
    case 0: return column;
    case 1: return `c.${column}`;
    case 2: return d === 'mysql' ? `\`${column}\`` : `"${column}"`;
    case 3: return column.toUpperCase();
    default: return d === 'mysql' ? `c.\`${column}\`` : `c."${column}"`;
  }
}

interface Place { readonly sql: (e: string) => string; readonly maskable: boolean }

const PLACES: readonly Place[] = [
  { sql: (e) => `SELECT ${e} AS v FROM customers c`, maskable: true },
  { sql: (e) => `SELECT id FROM customers c WHERE ${e} = '1'`, maskable: false },
  { sql: (e) => `SELECT id FROM customers c ORDER BY ${e}`, maskable: false },
  { sql: (e) => `SELECT count(*) FROM customers c GROUP BY ${e}`, maskable: false },
  { sql: (e) => `SELECT count(*) FROM customers c GROUP BY id HAVING MAX(${e}) > '1'`, maskable: false },
  { sql: (e) => `SELECT o.id FROM orders o JOIN customers c ON ${e} = o.status`, maskable: false },
  { sql: (e) => `SELECT v FROM (SELECT ${e} AS v FROM customers c) t`, maskable: true },
  { sql: (e) => `WITH t AS (SELECT ${e} AS v FROM customers c) SELECT v FROM t`, maskable: true },
  { sql: (e) => `SELECT id FROM orders WHERE status IN (SELECT ${e} FROM customers c)`, maskable: false },
  { sql: (e) => `SELECT o.id FROM orders o WHERE EXISTS (SELECT 1 FROM customers c WHERE ${e} LIKE '1%')`, maskable: false },
  { sql: (e) => `SELECT name FROM customers UNION ALL SELECT ${e} FROM customers c`, maskable: true },
  { sql: (e) => `SELECT id, ${e} FROM customers c WHERE id = 1`, maskable: true },
];

const attackArb = fc.record({
  column: fc.constantFrom('phone', 'id_card'),
  form: fc.nat(4),
  wraps: fc.array(fc.nat(WRAPPERS.length - 1), { maxLength: 3 }),
  place: fc.nat(PLACES.length - 1),
});

async function check(dialect: Dialect, runs: number, seed: number): Promise<void> {
  const overBlocked = new Set<string>();
  await analysis.initAnalysis();
  const catalog = shopCatalog(dialect);
  const policy = shopPolicy();
  const session = (user: string) => ({
    user, clientIp: '127.0.0.1', instance: dialect === 'mysql' ? 'shop_mysql' : 'shop_pg', dialect, database: 'shop',
    searchPath: dialect === 'postgres' ? ['public'] : [], door: dialect, sessionId: 'fuzz',
  } as const);
  await fc.assert(fc.asyncProperty(attackArb, async (a) => {
    let e = spell(a.column, a.form, dialect);
    for (const w of a.wraps) e = WRAPPERS[w](e, dialect);
    const place = PLACES[a.place];
    const sql = place.sql(e);
    const bare = a.wraps.every((w) => TRANSPARENT.has(w)) && place.maskable;
    const run = (user: string) => judge(session(user), sql, { policy, analyze: analysis.analyzeCached, catalogFor: () => catalog });
    const an = await run('analyst');
    assert.equal(an.verdict, 'deny', `analyst allowed: ${sql}`);
    const su = await run('support');
    if (bare) {
      // masked (or refused: both keep the value hidden)
      if (su.verdict === 'allow') assert.ok(su.statements.some((d) => d.directives.masks.length > 0), `support unmasked: ${sql}`);
    } else {
      assert.equal(su.verdict, 'deny', `support allowed ${a.column} outside a bare output: ${sql}`);
    }
    const au = await run('auditor');
    if (a.column === 'id_card') assert.equal(au.verdict, 'deny', `auditor read id_card: ${sql}`);
    else if (au.verdict !== 'allow') overBlocked.add(`${sql}  →  ${au.refusal?.error?.message}`);
  }), { numRuns: runs, seed });
  // Refusing what is allowed is not a leak: listed for the analysis to improve, not failed.
  if (overBlocked.size) console.log(`# ${dialect}: ${overBlocked.size} generated statements over-blocked for auditor:\n${[...overBlocked].map((x) => '#   ' + x).join('\n')}`);
}

// FUZZ_SEED / FUZZ_RUNS explore further; the defaults keep the suite reproducible and quick.
const SEED = Number(process.env.FUZZ_SEED ?? 20261122);
const SCALE = Number(process.env.FUZZ_RUNS ?? 1);

test('generated attacks on lineage (MySQL)', async () => {
  await check('mysql', 150 * SCALE, SEED);
});

test('generated attacks on lineage (PostgreSQL)', async () => {
  await check('postgres', 300 * SCALE, SEED);
});
