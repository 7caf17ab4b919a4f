/**
 * Governance micro-benchmark: µs per decision for each dialect on a realistic
 * statement mix — analysis cache miss (parse + resolve + rules), cache hit
 * (cached facts and decision, the steady state of an application repeating
 * its statement shapes), new literals (shapes shared through the digest) and
 * the rules alone (decide() on ready facts, uncached). CPU time (user+sys) is
 * printed beside wall time: on a shared machine it is the stable figure.
 *
 * A miss is measured twice, because its cost depends on how warm the
 * parser's code is and both cases occur in a running proxy:
 * - "early": the first analyses of the process, as after a start;
 * - "warm": after a second of misses, as in a burst of new statement shapes.
 * After a quiet spell of cache hits a miss costs in between, nearer the
 * early figure: V8 drops compiled JavaScript that has not run for a while
 * (a parser warmed by 4,000 parses was back at its first speed after 40 s
 * without parsing), while libpg-query's WebAssembly stays compiled.
 * The targets are judged on the worse of the two.
 *
 * Every timed loop is preceded by an untimed run of the same path for
 * WARM_MS: it settles V8's heap limits and lets background marking of the
 * previous path's garbage finish, which would otherwise be billed to this
 * path. (A forced full GC before each loop did the latter but shrank the
 * heap limits, so the next 2,000 misses paid for growing them back: 150 µs
 * against 65 µs per PostgreSQL miss.) Prints a table; no asserts.
 * Run: npm run build && node dist/bench/governance.js
 */
import { performance } from 'node:perf_hooks';
import * as analysis from '../governance/analyze/analyze.js';
import { judge } from '../governance/engine/judge.js';
import { decide } from '../governance/engine/decide.js';
import type { SessionContext } from '../governance/decision.js';
import type { Dialect } from '../governance/facts.js';
import { shopPolicy } from '../test/security/policy-fixture.js';
import { shopCatalog } from '../test/security/corpus-runner.js';

const MIX: Record<Dialect, string[]> = {
  mysql: [
    'SELECT id, name, city FROM customers WHERE id = 42',
    "SELECT c.name, o.amount, o.status FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.created_at > '2024-01-01' ORDER BY o.amount DESC LIMIT 50",
    'SELECT status, COUNT(*), SUM(amount) FROM orders GROUP BY status HAVING SUM(amount) > 100',
    'SELECT name, phone, id_card FROM customers WHERE city = ? LIMIT 20',
    "SELECT * FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE city = 'Paris')",
    'WITH big AS (SELECT customer_id, SUM(amount) AS total FROM orders GROUP BY customer_id) SELECT c.name, b.total FROM big b JOIN customers c ON c.id = b.customer_id',
    "UPDATE orders SET status = 'shipped' WHERE id = 7",
    "INSERT INTO orders (id, customer_id, amount, status) VALUES (1, 2, 3.5, 'new')",
    'DELETE FROM orders WHERE id = 9',
    "SELECT id FROM customers WHERE phone LIKE '138%'",
  ],
  postgres: [
    'SELECT id, name, city FROM customers WHERE id = $1',
    "SELECT c.name, o.amount, o.status FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.created_at > '2024-01-01' ORDER BY o.amount DESC LIMIT 50",
    'SELECT status, count(*), sum(amount) FROM orders GROUP BY status HAVING sum(amount) > 100',
    'SELECT name, phone, id_card FROM customers WHERE city = $1 LIMIT 20',
    "SELECT * FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE city = 'Paris')",
    'WITH big AS (SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id) SELECT c.name, b.total FROM big b JOIN customers c ON c.id = b.customer_id',
    "UPDATE orders SET status = 'shipped' WHERE id = 7",
    "INSERT INTO orders (id, customer_id, amount, status) VALUES (1, 2, 3.5, 'new')",
    'DELETE FROM orders WHERE id = 9',
    'SELECT to_jsonb(c) FROM customers c',
  ],
};

const USERS = ['analyst', 'support', 'writer', 'dba'];

/** Untimed run of a path before it is timed (see the header). */
const WARM_MS = 500;
/** How long misses run before the "warm" figures. */
const JIT_WARM_MS = 1000;

/** Runs `fn` untimed for at least `ms`. */
async function runFor(ms: number, fn: (i: number) => Promise<unknown> | unknown): Promise<void> {
  const until = performance.now() + ms;
  for (let i = 0; performance.now() < until; i++) await fn(i);
}

/** Wall and CPU (user+sys) µs per call, after `warmMs` of the same calls untimed. */
async function time(iterations: number, fn: (i: number) => Promise<unknown> | unknown, warmMs = WARM_MS): Promise<[number, number]> {
  await runFor(warmMs, fn);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) await fn(i);
  const wall = ((performance.now() - t0) * 1000) / iterations;
  const c = process.cpuUsage(c0);
  return [wall, (c.user + c.system) / iterations];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const init = (analysis as Record<string, unknown>).initAnalysis;
  if (typeof init === 'function') await (init as () => Promise<void>)();
  const policy = shopPolicy();
  const rows: string[][] = [];
  for (const dialect of ['mysql', 'postgres'] as const) {
    const catalog = shopCatalog(dialect);
    const mix = MIX[dialect];
    const session = (user: string): SessionContext => ({
      user, clientIp: '127.0.0.1', instance: dialect === 'mysql' ? 'shop_mysql' : 'shop_pg', dialect,
      database: 'shop', searchPath: dialect === 'postgres' ? ['public'] : [], door: dialect, sessionId: 'bench',
    });
    const sessions = USERS.map(session);
    const ctx = { dialect, catalog, database: 'shop', searchPath: sessions[0].searchPath };
    const missN = dialect === 'mysql' ? 600 : 2000;
    const hitN = 20000;
    const miss: [number, number][] = [];
    const hit: [number, number][] = [];
    const rules: [number, number][] = [];
    const fresh: [number, number][] = [];
    let k = 1000;
    const factsList = mix.map((sql) => analysis.analyze(sql, ctx));
    const missFn = (i: number) => judge(sessions[i % sessions.length], mix[i % mix.length], { policy, analyze: analysis.analyze, catalogFor: () => catalog });
    // early: the process's first misses of this dialect (PostgreSQL runs
    // second, so its resolution and rules code is warm already), one round
    const early = await time(missN, missFn, 0);
    // then misses until the parser's code is warm, for the other figures
    await runFor(JIT_WARM_MS, missFn);
    for (let round = 0; round < 3; round++) {
      // miss: uncached analysis + rules, as the first sight of a statement shape, in a burst of them
      miss.push(await time(missN, missFn));
      // hit: cached facts, the steady state of an application repeating its statements
      hit.push(await time(hitN, (i) => judge(sessions[i % sessions.length], mix[i % mix.length], { policy, analyze: analysis.analyzeCached, catalogFor: () => catalog })));
      // new literals: the same shapes with a new value each time ($n parameters
      // stay), as pgbench -S sends them; analysis is shared through the digest.
      fresh.push(await time(hitN / 4, (i) => judge(sessions[i % sessions.length], mix[i % mix.length].replace(/(?<!\$)\b\d+\b/g, String(++k)), { policy, analyze: analysis.analyzeCached, catalogFor: () => catalog })));
      rules.push(await time(hitN, (i) => {
        const s = sessions[i % sessions.length];
        for (const f of factsList[i % mix.length]) decide(f, { policy, user: s.user, instance: s.instance });
      }));
    }
    const row = (path: string, xs: [number, number][], n: number) =>
      rows.push([dialect, path, median(xs.map((x) => x[1])).toFixed(1), median(xs.map((x) => x[0])).toFixed(1), String(n * xs.length)]);
    row('miss, early: analyse + rules', [early], missN);
    row('miss, warm: analyse + rules', miss, missN);
    row('hit: cached analysis and decision', hit, hitN);
    row('new literals: shared analysis + rules', fresh, hitN / 4);
    row('rules only: decide() on ready facts', rules, hitN);
    // Big statements, each in a shape not seen before (one more `+ 0`): the
    // time the event loop is held, in which the proxy serves nobody else.
    const ids = Array.from({ length: 100_000 }, (_, i) => i + 1).join(',');
    const tuples = Array.from({ length: 15_000 }, (_, i) => `(${i + 1},${i + 1},${((i + 1) / 100).toFixed(2)},'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx','2024-01-01')`).join(',\n');
    const upsert = dialect === 'mysql' ? 'ON DUPLICATE KEY UPDATE amount = amount' : 'ON CONFLICT (id) DO UPDATE SET amount = orders.amount';
    const big: [string, (i: number) => string][] = [
      [`big statement, new shape: IN list of 100,000 (${Math.round(ids.length / 1024)} KB)`, (i) => `SELECT id + ${'0 + '.repeat(i)}0 FROM orders WHERE id IN (${ids})`],
      [`big statement, new shape: INSERT of 15,000 rows (${Math.round(tuples.length / 1024)} KB)`,
        (i) => `INSERT INTO orders (id, customer_id, amount, status, created_at) VALUES\n${tuples}\n${upsert}${' + 0'.repeat(i + 1)}`],
    ];
    for (const [path, text] of big) {
      row(path, [await time(3, (i) => judge(sessions[0], text(i), { policy, analyze: analysis.analyzeCached, catalogFor: () => catalog }), 0)], 3);
    }
  }
  const head = ['dialect', 'path', 'CPU µs/decision', 'wall µs/decision', 'decisions'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log(`governance decisions, ${MIX.mysql.length}-statement mix per dialect, users ${USERS.join('/')}, node ${process.version}; median of 3 rounds (early misses: one round)`);
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

await main();
