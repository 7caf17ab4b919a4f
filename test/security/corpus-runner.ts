/**
 * Runs corpus cases through the real analysis and the engine (judge), on an
 * in-memory catalog of the shop schema, and compares each user's judgement
 * with the expectation. Shared by corpus-mysql.test.ts and
 * corpus-postgres.test.ts.
 */
import * as analysis from '../../governance/analyze/analyze.js';
import { catalogFromTables, type Catalog } from '../../governance/catalog/catalog.js';
import type { SessionContext } from '../../governance/decision.js';
import type { Dialect } from '../../governance/facts.js';
import { judge, judgeNow, type EngineJudgement } from '../../governance/engine/judge.js';
import type { Policy } from '../../rules/policy-schema.js';
import { MYSQL_TABLES, PG_TABLES } from './corpus-schema.js';
import { USERS, type CorpusCase, type UserKey } from './corpus-types.js';
import { shopPolicy } from './policy-fixture.js';

export interface CaseResult {
  readonly case: CorpusCase;
  readonly user: UserKey;
  readonly expected: string;
  readonly actual: string;
  readonly ok: boolean;
  readonly message: string | undefined;
}

/** Awaits the analysis' one-time start-up (the PostgreSQL parser is WebAssembly). */
export async function ready(): Promise<void> {
  const init = (analysis as Record<string, unknown>).initAnalysis;
  if (typeof init === 'function') await (init as () => Promise<void>)();
}

export function shopCatalog(dialect: Dialect): Catalog {
  return dialect === 'mysql'
    ? catalogFromTables('mysql', MYSQL_TABLES)
    : catalogFromTables('postgres', PG_TABLES, { defaultDatabase: 'shop' });
}

/** How a judgement reads in corpus notation. */
export function describe(j: EngineJudgement): string {
  if (j.verdict === 'needs-approval') return 'approval';
  if (j.verdict === 'deny') return `deny:${j.refusal?.rules.join(',')}`;
  const masks = j.statements.flatMap((d) => d.directives.masks.map((m) => m.index));
  return masks.length ? `mask:${masks.join(',')}` : 'allow';
}

/** True when the judgement satisfies one of the expectation's alternatives. */
export function satisfies(expected: string, j: EngineJudgement): boolean {
  return expected.split('|').some((alt) => {
    const [verdict, arg] = alt.split(':') as [string, string | undefined];
    const masks = j.statements.flatMap((d) => d.directives.masks.map((m) => m.index)).sort((a, b) => a - b);
    switch (verdict) {
      case 'allow': return j.verdict === 'allow' && masks.length === 0;
      case 'mask': return j.verdict === 'allow' && masks.join(',') === arg;
      case 'approval': return j.verdict === 'needs-approval';
      case 'deny':
        if (j.verdict !== 'deny') return false;
        if (!arg) return true;
        return j.statements.some((d) => d.verdict === 'deny' && d.rules.includes(arg));
      default: throw new Error(`bad expectation '${alt}'`);
    }
  });
}

export async function runCases(dialect: Dialect, cases: readonly CorpusCase[]): Promise<CaseResult[]> {
  await ready();
  const catalog = shopCatalog(dialect);
  const dev = shopPolicy();
  const prodPolicy = shopPolicy({ environment: 'prod' });
  const out: CaseResult[] = [];
  for (const c of cases) {
    const policy: Policy = c.prod ? prodPolicy : dev;
    for (const [key, expected] of Object.entries(c.expect) as [UserKey, string][]) {
      const session: SessionContext = {
        user: USERS[key], clientIp: '127.0.0.1', instance: dialect === 'mysql' ? 'shop_mysql' : 'shop_pg', dialect,
        database: 'shop', searchPath: dialect === 'postgres' ? ['public'] : [], door: dialect, sessionId: 'corpus',
      };
      const j = await judge(session, c.sql, { policy, analyze: analysis.analyze, catalogFor: () => catalog });
      // The doors' hot path judges without waiting: it must agree with judge() on every case.
      const now = judgeNow(session, c.sql, { policy, analyze: analysis.analyze, catalogNow: () => catalog });
      const agree = now !== undefined && describe(now) === describe(j) && now.statements.length === j.statements.length;
      const ok = satisfies(expected, j) && agree;
      out.push({ case: c, user: key, expected, actual: agree ? describe(j) : `${describe(j)} (judgeNow: ${now ? describe(now) : 'undefined'})`, ok, message: j.refusal?.error?.message });
    }
  }
  return out;
}

/** Key of a case/user pair in a known-failure list. */
export function failureKey(sql: string, user: UserKey): string {
  return `${user} ${sql}`;
}
