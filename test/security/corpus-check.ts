/** Runs a dialect's corpus, prints known failures, returns what the test asserts. */
import type { Dialect } from '../../governance/facts.js';
import { failureKey, runCases } from './corpus-runner.js';
import type { CorpusCase } from './corpus-types.js';

export interface CorpusSummary {
  readonly statements: number;
  readonly adversarial: number;
  readonly judgements: number;
  readonly unexpected: string[];
  readonly nowPassing: string[];
}

export async function checkCorpus(dialect: Dialect, cases: readonly CorpusCase[], known: ReadonlyMap<string, string>): Promise<CorpusSummary> {
  const results = await runCases(dialect, cases);
  const unexpected: string[] = [];
  const nowPassing: string[] = [];
  const knownSeen: string[] = [];
  for (const r of results) {
    const key = failureKey(r.case.sql, r.user);
    if (known.has(key)) {
      if (r.ok) nowPassing.push(key);
      else knownSeen.push(`  KNOWN FAILURE [${r.user}] ${r.case.sql}\n      expected ${r.expected}, got ${r.actual}${r.message ? ` (${r.message})` : ''} — ${known.get(key)}`);
      continue;
    }
    if (!r.ok) unexpected.push(`[${r.user}] ${r.case.sql} — expected ${r.expected}, got ${r.actual}${r.message ? ` (${r.message})` : ''}${r.case.note ? ` — ${r.case.note}` : ''}`);
  }
  const adversarial = cases.filter((c) => c.adversarial).length;
  console.log(`# corpus ${dialect}: ${cases.length} statements (${adversarial} adversarial), ${results.length} judgements, ` +
    `${results.length - unexpected.length - knownSeen.length} as expected, ${knownSeen.length} known failures, ${unexpected.length} unexpected`);
  if (knownSeen.length) console.log(knownSeen.join('\n'));
  return { statements: cases.length, adversarial, judgements: results.length, unexpected, nowPassing };
}
