/**
 * The full-scan guard against real MariaDB and PostgreSQL planners: a 20,000
 * row table with an indexed column `k` and an unindexed one `u`, analysed,
 * threshold 10,000. Each suite runs once per dialect.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { FullScanGuard, fullScanError, type BigTable, type ExplainFn } from '../../../governance/plan/full-scan-guard.js';
import { SqlgateError } from '../../../governance/errors.js';
import type { Dialect } from '../../../governance/facts.js';
import { createMysqlDatabase, createPgDatabase, serverInfo, type TempDatabase } from '../../helpers/db.js';

const THRESHOLD = 10_000;

const MYSQL_SETUP = `
  CREATE TABLE big (id INT PRIMARY KEY, k INT, u INT, s VARCHAR(20), KEY k_idx (k)) ENGINE=InnoDB;
  INSERT INTO big SELECT seq, seq % 1000, seq % 777, 'x' FROM seq_1_to_20000;
  CREATE TABLE small (id INT PRIMARY KEY, v INT) ENGINE=InnoDB;
  INSERT INTO small SELECT seq, seq FROM seq_1_to_50;
  ANALYZE TABLE big, small;`;

const PG_SETUP = `
  CREATE TABLE big (id int PRIMARY KEY, k int, u int, s text);
  CREATE INDEX big_k_idx ON big (k);
  INSERT INTO big SELECT g, g % 1000, g % 777, 'x' FROM generate_series(1, 20000) g;
  CREATE TABLE small (id int PRIMARY KEY, v int);
  INSERT INTO small SELECT g, g FROM generate_series(1, 50) g;
  CREATE SCHEMA other;
  CREATE TABLE other.big (id int PRIMARY KEY, u int);
  INSERT INTO other.big SELECT g, g FROM generate_series(1, 30) g;
  ANALYZE big; ANALYZE small; ANALYZE other.big;`;

interface Dialectal {
  readonly dialect: Dialect;
  readonly schema: string;
  open(): Promise<{ db: TempDatabase; explain: ExplainFn; query(sql: string): Promise<unknown[]>; close(): Promise<void> }>;
}

const DIALECTS: readonly Dialectal[] = [
  {
    dialect: 'mysql', schema: '',
    async open() {
      const db = await createMysqlDatabase('plan', MYSQL_SETUP);
      const s = serverInfo(db.url);
      // One statement per call: the guard's callback contract.
      const conn = await mysql.createConnection({ host: s.host, port: s.port, user: s.user, password: s.password, database: db.name });
      const query = async (sql: string) => (await conn.query(sql))[0] as unknown[];
      return { db, explain: query, query, close: async () => { await conn.end(); await db.drop(); } };
    },
  },
  {
    dialect: 'postgres', schema: 'public',
    async open() {
      const db = await createPgDatabase('plan', PG_SETUP);
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      const query = async (sql: string) => (await client.query({ text: sql, queryMode: 'extended' } as pg.QueryConfig)).rows as unknown[];
      return { db, explain: query, query, close: async () => { await client.end(); await db.drop(); } };
    },
  },
];

for (const d of DIALECTS) {
  describe(`full-scan guard (${d.dialect})`, () => {
    let ctx: Awaited<ReturnType<Dialectal['open']>>;
    let big: BigTable;
    before(async () => {
      ctx = await d.open();
      big = { schema: d.dialect === 'mysql' ? ctx.db.name : 'public', table: 'big', rows: 20_000 };
    });
    after(async () => { await ctx?.close(); });

    const check = (guard: FullScanGuard, sql: string, tables: BigTable[] = [big], explain: ExplainFn = ctx.explain) =>
      guard.check(d.dialect, sql, `fp:${sql}`, tables, explain, THRESHOLD);

    const refused = [
      ['an unindexed filter', 'SELECT * FROM big WHERE u = 5'],
      ['no filter at all', 'SELECT id, s FROM big'],
      ['an alias', 'SELECT * FROM big AS b WHERE b.u = 5'],
      ['a function over the indexed column', 'SELECT * FROM big WHERE k + 0 = 5'],
      ['OR with an unindexed column', 'SELECT * FROM big WHERE k = 5 OR u = 3'],
      ['a comment pretending an index condition', 'SELECT /* WHERE k = 5 */ * FROM big WHERE u = 5 -- k = 5'],
      ['an IN subquery', 'SELECT * FROM small WHERE v IN (SELECT u FROM big WHERE u < 3)'],
      ['an EXISTS subquery', 'SELECT 1 FROM small WHERE EXISTS (SELECT 1 FROM big WHERE big.u = small.v + 1000)'],
      ['a scalar subquery', 'SELECT (SELECT max(s) FROM big WHERE u = 3) AS m'],
      ['a CTE', 'WITH x AS (SELECT u, count(*) AS c FROM big GROUP BY u) SELECT * FROM x WHERE c > 1'],
      ['a derived table', 'SELECT * FROM (SELECT u FROM big) AS d WHERE d.u = 2'],
      ['the second UNION branch', 'SELECT * FROM big WHERE id = 1 UNION SELECT * FROM big WHERE u = 3'],
      ['a join scanning the big side', 'SELECT * FROM small JOIN big ON big.u = small.v'],
      ['an UPDATE with an unindexed WHERE', "UPDATE big SET s = 'y' WHERE u = 5"],
      ['a DELETE with an unindexed WHERE', 'DELETE FROM big WHERE u = 6'],
      ['a trailing terminator', 'SELECT * FROM big WHERE u = 5;'],
      ...(d.dialect === 'mysql' ? [['a whole-index walk', 'SELECT count(*) FROM big'] as const] : []),
    ] as const;
    for (const [what, sql] of refused) {
      test(`refuses ${what}`, async () => {
        const v = await check(new FullScanGuard(), sql);
        assert.equal(v.ok, false, sql);
        // MySQL plans name the alias, not the table.
        if (!v.ok) assert.match(v.table, d.dialect === 'mysql' && /\bbig\s+(AS\s+)?b\b/.test(sql) ? /^b$/ : /big/);
      });
    }

    const allowed = [
      ['an indexed lookup', 'SELECT * FROM big WHERE k = 5'],
      ['a primary-key lookup', 'SELECT * FROM big WHERE id = 42'],
      ['an indexed lookup under an alias', 'SELECT b.s FROM big b WHERE b.k IN (1, 2, 3)'],
      ['an indexed lookup in a subquery', 'SELECT * FROM small WHERE v IN (SELECT u FROM big WHERE k = 7)'],
      // PostgreSQL picks a merge join over big's k index here; it stops when small runs out.
      ['a join reaching the big table through its index', 'SELECT * FROM small JOIN big ON big.k = small.v WHERE small.id < 4'],
      ['an UPDATE by index', "UPDATE big SET s = 'z' WHERE k = 9"],
      ['a full scan of a small table', 'SELECT * FROM small WHERE v = 3'],
      ['the first rows in index order', 'SELECT * FROM big ORDER BY k LIMIT 10'],
      ['an index range', 'SELECT * FROM big WHERE k BETWEEN 3 AND 5'],
    ] as const;
    for (const [what, sql] of allowed) {
      test(`allows ${what}`, async () => {
        assert.deepEqual(await check(new FullScanGuard(), sql), { ok: true }, sql);
      });
    }

    test('EXPLAIN did not run the UPDATE or DELETE', async () => {
      const rows = await ctx.query("SELECT count(*) AS n FROM big WHERE s <> 'x' OR u IN (5, 6)");
      const n = Number(Object.values(rows[0] as object)[0]);
      assert.equal(n, 2 * Math.floor(20_000 / 777) + 2, 'rows with u = 5 or 6, all still there and unchanged');
      const changed = await ctx.query("SELECT count(*) AS n FROM big WHERE s <> 'x'");
      assert.equal(Number(Object.values(changed[0] as object)[0]), 0);
    });

    test('a statement touching no big table is never explained', async () => {
      const guard = new FullScanGuard();
      const never: ExplainFn = async () => { throw new Error('explain must not be called'); };
      assert.deepEqual(await check(guard, 'SELECT * FROM small', [], never), { ok: true });
      assert.equal(guard.explains, 0);
    });

    test('verdicts are cached by fingerprint and big-table set; concurrent checks share one EXPLAIN', async () => {
      const guard = new FullScanGuard();
      let calls = 0;
      const counting: ExplainFn = (sql) => { calls++; return ctx.explain(sql); };
      const sql = 'SELECT * FROM big WHERE u = 5';
      const first = await Promise.all([1, 2, 3].map(() => guard.check(d.dialect, sql, 'fp-u', [big], counting, THRESHOLD)));
      assert.ok(first.every((v) => !v.ok));
      assert.equal(calls, 1);
      // Same shape, other literal: the cached verdict answers.
      assert.equal((await guard.check(d.dialect, 'SELECT * FROM big WHERE u = 6', 'fp-u', [big], counting, THRESHOLD)).ok, false);
      assert.equal(calls, 1);
      // Same fingerprint but the name resolved elsewhere: checked again.
      const elsewhere = { ...big, schema: big.schema + '_x' };
      await guard.check(d.dialect, sql, 'fp-u', [elsewhere], counting, THRESHOLD);
      assert.equal(calls, 2);
      guard.clear();
      await guard.check(d.dialect, sql, 'fp-u', [big], counting, THRESHOLD);
      assert.equal(calls, 3);
    });

    test('an EXPLAIN that fails refuses the statement and is not cached', async () => {
      const guard = new FullScanGuard();
      const v = await check(guard, 'SELECT * FROM big WHERE no_such_column = 1');
      assert.equal(v.ok, false);
      if (!v.ok) assert.match(v.reason, /could not be checked/);
      const broken: ExplainFn = async () => { throw new Error('connection lost'); };
      assert.equal((await guard.check(d.dialect, 'SELECT * FROM big WHERE k = 1', 'fp-k', [big], broken, THRESHOLD)).ok, false);
      assert.deepEqual(await guard.check(d.dialect, 'SELECT * FROM big WHERE k = 1', 'fp-k', [big], ctx.explain, THRESHOLD), { ok: true });
    });

    test('the refusal becomes FULL_SCAN_REFUSED naming the table and the rule', async () => {
      const v = await check(new FullScanGuard(), 'SELECT * FROM big WHERE u = 5');
      assert.equal(v.ok, false);
      if (v.ok) return;
      const e = fullScanError(v);
      assert.ok(e instanceof SqlgateError);
      assert.equal(e.code, 'FULL_SCAN_REFUSED');
      assert.equal(e.sqlstate, '54000');
      assert.equal(e.rule, 'full-scan-guard');
      assert.match(e.message, /big.*\[rule full-scan-guard\]$/);
    });
  });
}

describe('full-scan guard (postgres schemas)', () => {
  let db: TempDatabase;
  let client: pg.Client;
  let explain: ExplainFn;
  before(async () => {
    db = await createPgDatabase('planschema', PG_SETUP);
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    explain = async (sql) => (await client.query({ text: sql, queryMode: 'extended' } as pg.QueryConfig)).rows as unknown[];
  });
  after(async () => { await client?.end(); await db?.drop(); });

  test('a same-named small table in another schema is not mistaken for the big one', async () => {
    const guard = new FullScanGuard();
    const bigPublic: BigTable = { schema: 'public', table: 'big', rows: 20_000 };
    assert.deepEqual(await guard.check('postgres', 'SELECT * FROM other.big WHERE u = 5', 'a', [bigPublic], explain, THRESHOLD), { ok: true });
    assert.equal((await guard.check('postgres', 'SELECT * FROM other.big o JOIN public.big p ON p.u = o.u', 'b', [bigPublic], explain, THRESHOLD)).ok, false);
  });

  test('a materialized CTE and a quoted, search-path-resolved name are still caught', async () => {
    const guard = new FullScanGuard();
    const bigPublic: BigTable = { schema: 'public', table: 'big', rows: 20_000 };
    await client.query('SET search_path = other, public');
    try {
      assert.deepEqual(await guard.check('postgres', 'SELECT * FROM "big" WHERE u = 5', 'c', [bigPublic], explain, THRESHOLD), { ok: true },
        'other.big comes first in the search path');
      assert.equal((await guard.check('postgres', 'WITH x AS MATERIALIZED (SELECT * FROM public."big") SELECT * FROM x WHERE k = 5', 'd', [bigPublic], explain, THRESHOLD)).ok, false);
    } finally {
      await client.query('RESET search_path');
    }
  });
});
