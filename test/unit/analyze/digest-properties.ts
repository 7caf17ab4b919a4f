/**
 * The properties both dialects' digest caches must have, as fast-check
 * checks: statements that share a digest (the same template filled with two
 * sets of literals) get, through the cache, exactly the analysis and the
 * decision a fresh look would give.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { analyze, analyzeCached, clearAnalysisCache } from '../../../governance/analyze/analyze.js';
import type { AnalyzeContext } from '../../../governance/analyze/analyze.js';
import type { Dialect } from '../../../governance/facts.js';

/** A template's `§` filled with the first or the second literal of each pair. */
export function filler(template: string, pairs: readonly (readonly [string, string])[]): (k: 0 | 1) => string {
  return (k) => { let i = 0; return template.replace(/§/g, () => pairs[i++][k]); };
}

/** Mostly two values of one literal form (the same shape), sometimes of any two. */
export function literalPairs(families: readonly fc.Arbitrary<string>[]): fc.Arbitrary<[string, string]> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.oneof(...families.map((f) => fc.tuple(f, f))) },
    { weight: 1, arbitrary: fc.tuple(fc.oneof(...families), fc.oneof(...families)) },
  );
}

/**
 * The analysis found through the digest deep-equals a fresh one; at least
 * `minShared` runs must really have gone through the digest.
 */
export function analysisSharingHolds(ctx: AnalyzeContext, templates: readonly string[], pair: fc.Arbitrary<[string, string]>, numRuns: number, minShared: number): void {
  let shared = 0;
  // Templates are filled twice: the second text finds the shape the first stored.
  fc.assert(fc.property(fc.constantFrom(...templates), fc.array(pair, { minLength: 8, maxLength: 8 }), (t, pairs) => {
    const fill = filler(t, pairs);
    clearAnalysisCache();
    const first = analyzeCached(fill(0), ctx);
    const second = analyzeCached(fill(1), ctx);
    if (fill(0) !== fill(1) && second[0]?.outputs === first[0]?.outputs && second[0]?.outputs.length) shared++;
    assert.deepEqual(second, analyze(fill(1), ctx), `${fill(0)} / ${fill(1)}`);
  }), { numRuns });
  assert.ok(shared > minShared, `only ${shared} runs went through the digest`);
}

/**
 * The decision of a statement whose digest twin was judged first, for the
 * same shop-policy user or another, equals a fresh decision.
 */
export async function decisionSharingHolds(dialect: Dialect, templates: readonly string[], pair: fc.Arbitrary<[string, string]>, numRuns: number): Promise<void> {
  const { judge } = await import('../../../governance/engine/judge.js');
  const { shopPolicy } = await import('../../security/policy-fixture.js');
  const { shopCatalog } = await import('../../security/corpus-runner.js');
  const policy = shopPolicy();
  const catalog = shopCatalog(dialect);
  const users = ['analyst', 'support', 'dba', 'writer', 'auditor'];
  const session = (user: string) => ({
    user, clientIp: '127.0.0.1', instance: dialect === 'mysql' ? 'shop_mysql' : 'shop_pg', dialect, database: 'shop',
    searchPath: dialect === 'mysql' ? [] : ['public'], door: dialect, sessionId: `t-${user}`,
  });
  await fc.assert(fc.asyncProperty(fc.constantFrom(...templates), fc.constantFrom(...users), fc.constantFrom(...users), fc.array(pair, { minLength: 8, maxLength: 8 }), async (t, first, second, pairs) => {
    const fill = filler(t, pairs);
    clearAnalysisCache();
    await judge(session(first), fill(0), { policy, analyze: analyzeCached, catalogFor: () => catalog });
    const shared = await judge(session(second), fill(1), { policy, analyze: analyzeCached, catalogFor: () => catalog });
    const fresh = await judge(session(second), fill(1), { policy, analyze, catalogFor: () => catalog });
    assert.deepEqual(shared, fresh, `${first} then ${second}: ${fill(0)} / ${fill(1)}`);
  }), { numRuns });
}

/** Statements over the shop schema (test/security) where a literal can change what a decision sees. */
export const SHOP_TEMPLATES = [
  'SELECT id, name, phone FROM customers WHERE id = § ORDER BY § LIMIT §',
  'SELECT name, email AS § FROM customers WHERE city = §',
  'SELECT id_card FROM customers WHERE id IN (§, §, §)',
  'SELECT c.name, o.amount FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.amount > § GROUP BY §',
  'DELETE FROM orders WHERE § = §',
  'DELETE FROM orders WHERE id + § = id + §',
  'INSERT INTO orders (id, customer_id, amount, status) VALUES (§, §, §, §), (§, §, §, §)',
  'SELECT card_number FROM payments WHERE order_id = §',
] as const;
