import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pgDigest } from '../../../governance/analyze/pg-digest.js';
import { analyze, analyzeCached, clearAnalysisCache } from '../../../governance/analyze/analyze.js';
import { pgCatalog } from './fixtures.js';
import { SHOP_TEMPLATES, analysisSharingHolds, decisionSharingHolds, literalPairs } from './digest-properties.js';

const ctx = { dialect: 'postgres' as const, catalog: pgCatalog, database: 'shop', searchPath: ['public'] };
const dig = (s: string) => pgDigest(s)?.digest;
const same = (a: string, b: string) => {
  assert.ok(dig(a) !== undefined, `no digest for ${a}`);
  assert.equal(dig(a), dig(b), `${a} / ${b}`);
};
const differ = (a: string, b: string) => assert.notEqual(dig(a) ?? `exact:${a}`, dig(b) ?? `exact:${b}`, `${a} / ${b}`);
const none = (s: string) => assert.equal(pgDigest(s), undefined, s);

test('each literal form becomes a placeholder', () => {
  same("SELECT id FROM customers WHERE name = 'a'", "SELECT id FROM customers WHERE name = 'it''s'");
  same("SELECT 'a\\' FROM customers", "SELECT 'b' FROM customers"); // standard_conforming_strings: \ is plain
  same("SELECT E'a\\'b' FROM t", "SELECT e'\\\\' FROM t");
  same("SELECT E'it''s\\n' FROM t", "SELECT E'x' FROM t");
  same("SELECT U&'d\\0061t' FROM t", "SELECT u&'x' FROM t");
  same("SELECT B'1010', X'1F' FROM t", "SELECT b'', x'ffff' FROM t");
  same("SELECT N'abc' FROM t", "SELECT n'' FROM t");
  same('SELECT $$a\'b$$ FROM t', "SELECT $tag$ $$ ' $x$ $tag$ FROM t");
  same('SELECT 1, 2.5, 1e10, .5, 3.e-2 FROM t', 'SELECT 99, 0.0, 2.5E+3, 0.25, 1.5 FROM t');
  same('SELECT id FROM t LIMIT 10 OFFSET 5', 'SELECT id FROM t LIMIT 20 OFFSET 0');
  // Literal classes stay apart.
  differ("SELECT '1' FROM t", 'SELECT 1 FROM t');
  differ('SELECT 1 FROM t', 'SELECT 1.0 FROM t');
  differ("SELECT E'x' FROM t", "SELECT 'x' FROM t");
  differ("SELECT B'1' FROM t", "SELECT X'1' FROM t");
  differ('SELECT $$x$$ FROM t', "SELECT 'x' FROM t");
});

test('identifiers, keywords, operators and parameters stay in the shape', () => {
  same('SELECT Phone FROM Customers', 'select phone from customers');
  differ('SELECT "Phone" FROM t', 'SELECT "phone" FROM t');
  differ('SELECT "a""b" FROM t', 'SELECT "a""c" FROM t');
  differ('SELECT \u00c9 FROM t', 'SELECT \u00e9 FROM t'); // only ASCII letters fold
  differ('SELECT t1 FROM t', 'SELECT t2 FROM t');
  differ('SELECT x1e5 FROM t', 'SELECT x1e6 FROM t');
  differ('SELECT a$1 FROM t', 'SELECT a$2 FROM t');
  differ('SELECT a$$b FROM t', 'SELECT a$$c FROM t'); // `$` continues a name: no dollar quote
  differ('SELECT $1 FROM t', 'SELECT $2 FROM t');
  differ('SELECT $1 FROM t', 'SELECT 1 FROM t');
  differ('SELECT a FROM t WHERE TRUE', 'SELECT a FROM t WHERE FALSE');
  differ('SELECT a FROM t WHERE a IS NULL', 'SELECT a FROM t WHERE a IS NOT NULL');
  differ('SELECT a::int FROM t', 'SELECT a: :int FROM t');
  differ('SELECT a.b FROM t', 'SELECT a..b FROM t');
  differ('SELECT a - -1 FROM t', 'SELECT a - 1 FROM t');
  same('SELECT a - 1 FROM t', 'SELECT a -2 FROM t');
  same('SELECT a-1 FROM t', 'SELECT a - 7 FROM t');
  differ('SELECT a +- 1 FROM t', 'SELECT a + - 1 FROM t');
  differ('SELECT a ? b FROM t', "SELECT a 'x' b FROM t");
  differ('SELECT a FROM t WHERE x = 1', 'SELECT a FROM t WHERE y = 1');
  differ('SELECT a FROM t1 WHERE x = 1', 'SELECT a FROM t2 WHERE x = 1');
});

test('comments: quotes inside are ignored, nesting is followed, hints stay', () => {
  same("SELECT a -- it's\nFROM t WHERE b = 1", 'SELECT a FROM t WHERE b = 2');
  same("SELECT a /* it's /* nested ' */ still */ FROM t", 'SELECT a FROM t');
  same("SELECT a--1\nFROM t", 'SELECT a FROM t');
  differ('SELECT a --1\n, 2 FROM t', 'SELECT a - 1, 2 FROM t');
  differ('SELECT a +/* x */- 1 FROM t', 'SELECT a +- 1 FROM t');
  differ('SELECT a /*+ sqlgate:skip(x) */ FROM t', 'SELECT a /*+ sqlgate:skip(y) */ FROM t');
  differ('SELECT a /*+ sqlgate:skip(x) */ FROM t', 'SELECT a FROM t');
  same("SELECT '/*' FROM t", "SELECT '--' FROM t");
  same('SELECT $$ /* $$ FROM t', 'SELECT $$ -- $$ FROM t');
});

test('positions in ORDER BY / GROUP BY / DISTINCT ON stay as written', () => {
  differ('SELECT id, phone FROM customers ORDER BY 1', 'SELECT id, phone FROM customers ORDER BY 2');
  differ('SELECT id, phone FROM customers GROUP BY 1, 2', 'SELECT id, phone FROM customers GROUP BY 1, 3');
  differ('SELECT DISTINCT ON (1) id FROM customers', 'SELECT DISTINCT ON (2) id FROM customers');
  differ('SELECT string_agg(a, \'x\' ORDER BY 1) FROM t', 'SELECT string_agg(a, \'x\' ORDER BY 2) FROM t');
  differ('SELECT id, phone FROM customers ORDER BY id IS DISTINCT FROM 1, 1', 'SELECT id, phone FROM customers ORDER BY id IS DISTINCT FROM 1, 2');
  differ('SELECT id, phone FROM customers GROUP BY id IS NOT DISTINCT FROM 1, 1', 'SELECT id, phone FROM customers GROUP BY id IS NOT DISTINCT FROM 1, 2');
  differ('SELECT id, phone, row_number() OVER (PARTITION BY 1) FROM customers', 'SELECT id, phone, row_number() OVER (PARTITION BY 2) FROM customers');
  same('SELECT DISTINCT ON (1) id FROM customers WHERE id = 5', 'SELECT DISTINCT ON (1) id FROM customers WHERE id = 6');
  same('SELECT id FROM customers ORDER BY 1 LIMIT 5', 'SELECT id FROM customers ORDER BY 1 LIMIT 9');
  same('SELECT id FROM customers GROUP BY 1 HAVING count(*) > 5', 'SELECT id FROM customers GROUP BY 1 HAVING count(*) > 6');
  same("SELECT id FROM customers ORDER BY 1, 'a'", "SELECT id FROM customers ORDER BY 1, 'b'");
  same('SELECT (SELECT 1 FROM t ORDER BY 1) = 2 FROM t', 'SELECT (SELECT 1 FROM t ORDER BY 1) = 3 FROM t');
});

test('names keep every code unit, lone surrogates included, and long statements digest like short ones', () => {
  // The digest is decoded from a buffer of code units: a decoder that
  // replaced lone surrogates would let two different names share a shape.
  differ('SELECT \ud800 FROM t', 'SELECT \ud801 FROM t');
  differ('SELECT "\udc00" FROM t', 'SELECT "\udc01" FROM t');
  same('SELECT \ud83d\ude00 FROM t WHERE a = 1', 'SELECT \ud83d\ude00 FROM t WHERE a = 2');
  // Past the reused buffer (a statement of its own) and growing it; a short one after each still digests right.
  for (const count of [20_000, 3_000]) {
    const long = (v: number) => `SELECT ${Array.from({ length: count }, (_, i) => `c${i} + ${v}`).join(', ')} FROM t`;
    same(long(1), long(2));
    differ(long(1), `${long(1)}, x`);
    assert.equal(dig('SELECT A FROM t WHERE b = 1'), 'select\na\nfrom\nt\nwhere\nb\n=\n?int');
  }
});

test('anything unsure gives no digest', () => {
  none("SELECT 'abc FROM t");
  none("SELECT E'abc\\' FROM t");
  none('SELECT "abc FROM t');
  none('SELECT $$abc FROM t');
  none('SELECT $a$abc$b$ FROM t');
  none('SELECT a /* unterminated');
  none("SELECT U&'d!0061t' UESCAPE '!' FROM t");
  none('SELECT U&"d!0061t" UESCAPE \'!\' FROM t');
  none("SELECT 'a'\n'b' FROM t"); // continued string
  none("SELECT 'a' /* */ 'b' FROM t");
  none('SELECT 1abc FROM t');
  none('SELECT 0x1F FROM t');
  none('SELECT 1_000 FROM t');
  none('SELECT 1e FROM t');
  none('SELECT $1a FROM t');
  none('SELECT $ FROM t');
  none('SELECT 1; SELECT 2');
  none('SELECT 1; -- trailing');
  none('SELECT a\\b FROM t');
  none('SELECT 1\v');
  none('');
  none(' ; ');
  assert.equal(pgDigest('  SELECT 1 ;  ')?.text, 'SELECT 1');
});

test('the digest cache: a later statement with new literals reuses the analysis with its own text', () => {
  clearAnalysisCache();
  const a = analyzeCached('SELECT phone FROM customers WHERE id = 12345;', ctx)[0];
  const b = analyzeCached("SELECT phone FROM customers WHERE id = 777", ctx)[0];
  assert.equal(b.outputs, a.outputs, 'shared through the digest');
  assert.equal(b.text, 'SELECT phone FROM customers WHERE id = 777');
  assert.deepEqual(b, analyze('SELECT phone FROM customers WHERE id = 777', ctx)[0]);
  // Another context never shares.
  const hr = analyzeCached('SELECT * FROM customers WHERE id = 1', { ...ctx, searchPath: ['hr', 'public'] })[0];
  const pub = analyzeCached('SELECT * FROM customers WHERE id = 2', ctx)[0];
  assert.deepEqual(hr.outputs.map((o) => o.name), ['id', 'ssn']);
  assert.equal(pub.outputs.length, 5);
  // Literal-carrying statements are never shared.
  const e1 = analyzeCached("EXPLAIN (ANALYZE 'false') DELETE FROM orders", ctx)[0];
  const e2 = analyzeCached("EXPLAIN (ANALYZE 'true') DELETE FROM orders", ctx)[0];
  assert.notEqual(e1.verb, e2.verb);
  assert.deepEqual(analyzeCached("SET search_path = 'hr'", ctx)[0].sessionChange, { kind: 'search-path', schemas: ['hr'], local: false });
  assert.deepEqual(analyzeCached("SET search_path = 'public'", ctx)[0].sessionChange, { kind: 'search-path', schemas: ['public'], local: false });
  // set_config alone is a SET though its kind is select: its literals are its meaning.
  analyzeCached("SELECT set_config('app.tenant', 'a', false)", ctx);
  assert.deepEqual(analyzeCached("SELECT set_config('standard_conforming_strings', 'off', false)", ctx)[0].settings,
    [{ name: 'standard_conforming_strings', scope: 'session', value: { kind: 'constant', text: 'off', quoted: true } }]);
  analyzeCached("SELECT pg_catalog.set_config('search_path', 'hr', false)", ctx);
  assert.deepEqual(analyzeCached("SELECT pg_catalog.set_config('search_path', '', false)", ctx)[0].sessionChange, { kind: 'search-path', schemas: [], local: false });
  const d1 = analyzeCached('DO $$ BEGIN NULL; END $$', ctx)[0];
  const d2 = analyzeCached("DO $$ BEGIN EXECUTE 'SELECT 1'; END $$", ctx)[0];
  assert.notDeepEqual(d1.dynamic, d2.dynamic);
  // ORDER BY positions are not literals.
  const o1 = analyzeCached('SELECT id, phone FROM customers ORDER BY 1 LIMIT 5', ctx)[0];
  const o2 = analyzeCached('SELECT id, phone FROM customers ORDER BY 2 LIMIT 9', ctx)[0];
  assert.ok(o2.reads.some((r) => r.column.column === 'phone'));
  assert.ok(!o1.reads.some((r) => r.column.column === 'phone'));
});

test('PostgreSQL digest sharing: a shared analysis deep-equals a fresh one, whatever the literals', () => {
  const templates = [
    'SELECT phone FROM customers WHERE id = § AND name = §',
    'SELECT abalance FROM pgbench_accounts WHERE aid = §;',
    'DELETE FROM orders WHERE § = §',
    'DELETE FROM orders WHERE id = § OR §',
    'DELETE FROM orders WHERE id + § = id + §',
    'UPDATE orders SET note = § WHERE id = § RETURNING id, §',
    'UPDATE orders SET total = total - § WHERE note = note || § AND §',
    'SELECT id, phone FROM customers ORDER BY § LIMIT § OFFSET §',
    'SELECT id, phone FROM customers GROUP BY id, § HAVING count(*) > §',
    'SELECT DISTINCT ON (§) id, phone FROM customers',
    'INSERT INTO orders (id, note) VALUES (§, §), (§, §) ON CONFLICT (id) DO UPDATE SET note = §',
    'SELECT id FROM customers WHERE phone IN (§, §, §)',
    'SELECT § FROM customers',
    'SELECT CASE WHEN id > § THEN phone ELSE § END AS x FROM customers',
    'SELECT id FROM customers WHERE §',
    'SELECT § + id, phone FROM customers c',
    'SELECT id FROM orders WHERE note::date > now() - interval § AND § AND id = $1',
    'SELECT id FROM customers /*+ sqlgate:skip(no-unqualified-dml) */ WHERE id = §',
    'SELECT id FROM customers -- note §\n WHERE id = § /* § */',
    'SELECT c.phone, (SELECT max(total) FROM orders o WHERE o.customer_id = c.id AND o.total > §) FROM customers c WHERE c.id = §',
    'WITH x AS (SELECT id, phone FROM customers WHERE id < §) SELECT phone FROM x ORDER BY §',
    'SELECT contact FROM v_contacts WHERE id = § UNION ALL SELECT note FROM orders WHERE total = §',
    'SELECT id, row_number() OVER (PARTITION BY § ORDER BY §) FROM customers',
    'SELECT id FROM customers WHERE § = § ORDER BY §, §',
    'SELECT Id, "Secret" FROM "Mixed" WHERE "Id" = §',
    'SELECT id, phone FROM customers ORDER BY id IS DISTINCT FROM §, § LIMIT §',
    'SELECT id, phone, name FROM customers GROUP BY id, § ORDER BY § DESC NULLS LAST, § FETCH FIRST § ROWS ONLY',
  ];
  const plain = fc.string({ maxLength: 6 }).map((x) => x.replace(/\\/g, '\\\\'));
  const families = [
    fc.integer({ min: -3, max: 5 }).map(String),
    fc.constantFrom('2.5', '1e3', '.5', '3.', '-0.0', '12345678901234567890', '1.5E-2'),
    plain.map((x) => `'${x.replace(/'/g, "''")}'`),
    plain.map((x) => `E'${x.replace(/'/g, "\\'")}'`),
    plain.map((x) => `$$${x.replace(/\$/g, '')}$$`),
    plain.map((x) => `$q$${x.replace(/\$/g, '')}$q$`),
    fc.constantFrom("B'1010'", "X'1F'", "U&'d\\0061t'", "N'n'", "'1 day'", "'2020-01-01'::date", "''"),
    fc.constantFrom('TRUE', 'FALSE', 'NULL', 'phone', '$2'),
  ];
  analysisSharingHolds(ctx, templates, literalPairs(families), 400, 30);
});

test('the engine shares the decision of a shared analysis, each with its own text', async () => {
  const { judge } = await import('../../../governance/engine/judge.js');
  const { shopPolicy } = await import('../../security/policy-fixture.js');
  const { shopCatalog } = await import('../../security/corpus-runner.js');
  const policy = shopPolicy();
  const catalog = shopCatalog('postgres');
  const session = (user: string) => ({ user, clientIp: '127.0.0.1', instance: 'shop_pg', dialect: 'postgres' as const, database: 'shop', searchPath: ['public'], door: 'postgres' as const, sessionId: 't' });
  clearAnalysisCache();
  for (const user of ['analyst', 'support']) {
    for (const [sql, other] of [['SELECT phone FROM customers WHERE id = 1', 'SELECT phone FROM customers WHERE id = 2'], ['SELECT name FROM customers WHERE id = 3', "SELECT name FROM customers WHERE id = 4"]]) {
      const a = await judge(session(user), sql, { policy, analyze: analyzeCached, catalogFor: () => catalog });
      const b = await judge(session(user), other, { policy, analyze: analyzeCached, catalogFor: () => catalog });
      const fresh = await judge(session(user), other, { policy, analyze, catalogFor: () => catalog });
      assert.equal(b.statements[0].facts.text, other);
      assert.equal(a.statements[0].facts.text, sql);
      assert.deepEqual(b, fresh, `${user}: ${other}`);
    }
  }
});

test("equal digests mean equal token streams for the server's own scanner, apart from literal values", async () => {
  const { scanSync } = await import('libpg-query');
  const LITERAL_TOKENS = new Set([260, 261, 262, 263, 264, 266]); // FCONST SCONST USCONST BCONST XCONST ICONST
  const stream = (sql: string) => scanSync(sql).tokens
    .filter((t: { tokenName: string; text: string }) => t.tokenName !== 'SQL_COMMENT' && !(t.tokenName === 'C_COMMENT' && !t.text.startsWith('/*+')))
    .map((t: { tokenType: number; text: string }) => LITERAL_TOKENS.has(t.tokenType) ? `L${t.tokenType}` : `${t.tokenType}:${/^(u&)?"/i.test(t.text) ? t.text : t.text.replace(/[A-Z]/g, (c) => c.toLowerCase())}`);
  // Pieces that make lexing tricky when glued together with or without spaces.
  const piece = fc.constantFrom('SELECT', 'a', 'A', 'FROM', 't', ',', '(', ')', '--', '\n', '/*', '*/', '/*+ sqlgate:skip(x) */', '$$', '$1', '$a$', 'E', 'e',
    "'", '"', 'U&', 'B', 'X', 'N', '-', '+', '=', '::', ':', '.', '..', 'ORDER BY', 'GROUP BY', 'LIMIT', 'IS DISTINCT FROM', '1', '2', '\\', '§', '§', '§', '§', ';', ' ');
  const families = [
    fc.integer({ min: 0, max: 99 }).map(String),
    fc.constantFrom('2.5', '1e3', '.5', '3.'),
    fc.array(fc.constantFrom('a', '\\', "''", ' ', '"', '$$', '--', '/*'), { maxLength: 4 }).map((x) => `'${x.join('')}'`),
    fc.array(fc.constantFrom('a', "\\'", '\\\\', "''", ' ', '"', '$$'), { maxLength: 4 }).map((x) => `E'${x.join('')}'`),
    fc.string({ maxLength: 4 }).map((x) => `$$${x.replace(/\$/g, '')}$$`),
    fc.constantFrom("B'1'", "B''", "X'1F'", "X'AB'"),
  ];
  let compared = 0;
  fc.assert(fc.property(fc.array(piece, { maxLength: 14 }), fc.boolean(), fc.array(fc.oneof(...families.map((f) => fc.tuple(f, f))), { minLength: 14, maxLength: 14 }), (pieces, spaced, pairs) => {
    const fill = (k: 0 | 1) => { let i = 0; return pieces.map((p) => (p === '§' ? pairs[i++][k] : p)).join(spaced ? ' ' : ''); };
    const a = fill(0);
    const b = fill(1);
    const da = pgDigest(a);
    if (!da || da.digest !== pgDigest(b)?.digest) return;
    compared++;
    let sa: string[] | undefined;
    let sb: string[] | undefined;
    try { sa = stream(a); } catch { /* unscannable */ }
    try { sb = stream(b); } catch { /* unscannable */ }
    assert.deepEqual(sa, sb, `${JSON.stringify(a)} / ${JSON.stringify(b)}`);
    clearAnalysisCache();
    analyzeCached(a, ctx);
    assert.deepEqual(analyzeCached(b, ctx), analyze(b, ctx), `${JSON.stringify(a)} / ${JSON.stringify(b)}`);
  }), { numRuns: 1500 });
  assert.ok(compared > 100, `only ${compared} pairs shared a digest`);
});

test('PostgreSQL: a decision found through the digest equals a fresh one, whoever the twin was first judged for', async () => {
  const values = fc.oneof(
    fc.integer({ min: -2, max: 4 }).map(String),
    fc.constantFrom('2.5', "'x'", "''", "E'y'", '$$z$$', "'1 day'::interval", 'TRUE', 'NULL', 'DEFAULT', 'phone', '"phone"', '$1'),
  );
  await decisionSharingHolds('postgres', [...SHOP_TEMPLATES, 'UPDATE orders SET status = § WHERE id = § RETURNING §', 'SELECT DISTINCT ON (§) city, name FROM customers ORDER BY §, name'],
    fc.tuple(values, values), 300);
});
