/**
 * unparsed-statement / unresolved-column / unresolved-table /
 * untracked-setting: what the analysis could not understand is refused
 * (DESIGN.md decision 1), unless an administrator gave the user raw
 * passthrough — then it is let through and audited as raw.
 */
import type { Unresolved } from '../governance/facts.js';
import { result, type RuleInput, type RuleResult } from './rule.js';

export const UNPARSED = 'unparsed-statement';
export const UNRESOLVED_COLUMN = 'unresolved-column';
export const UNRESOLVED_TABLE = 'unresolved-table';
export const UNTRACKED_SETTING = 'untracked-setting';

export function ruleFor(code: Unresolved['code']): string {
  switch (code) {
    case 'UNPARSED_STATEMENT': return UNPARSED;
    case 'UNRESOLVED_COLUMN': return UNRESOLVED_COLUMN;
    case 'UNRESOLVED_TABLE': return UNRESOLVED_TABLE;
    case 'UNTRACKED_SETTING': return UNTRACKED_SETTING;
  }
}

const CLEAN: RuleResult & { raw: boolean } = { outcomes: [], refusals: [], raw: false };

/** `raw` is true when the statement is let through unanalysed. */
export function check({ facts, principal }: Pick<RuleInput, 'facts' | 'principal'>): RuleResult & { raw: boolean } {
  const u = facts.unresolved;
  if (!u) return CLEAN;
  const r = result();
  const rule = ruleFor(u.code);
  if (principal.definition.raw_passthrough) {
    r.outcomes.push({ rule, outcome: 'allow', detail: `raw passthrough for ${principal.user}: ${u.message}` });
    return { outcomes: r.outcomes, refusals: r.refusals, raw: true };
  }
  const text = u.code === 'UNTRACKED_SETTING' ? u.message : `${u.message}; statements sqlgate cannot ${u.code === 'UNPARSED_STATEMENT' ? 'parse' : 'resolve'} are refused`;
  r.refusals.push({ rule, code: u.code, text });
  r.outcomes.push({ rule, outcome: 'deny', detail: u.message });
  return { outcomes: r.outcomes, refusals: r.refusals, raw: false };
}
