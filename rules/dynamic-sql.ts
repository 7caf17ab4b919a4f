/**
 * dynamic-sql: text the analysis cannot see before it runs (PREPARE FROM a
 * variable, DO blocks, dynamic EXECUTE), procedures and functions the policy
 * does not list, and server-side file I/O. Each could carry any statement
 * past the other rules, so they are refused unless the policy allows them.
 */
import type { DynamicFacts } from '../governance/facts.js';
import type { Principal } from './principal.js';
import { result, type RuleInput, type RuleResult } from './rule.js';

export const id = 'dynamic-sql';

const FILE_IO = new Set(['load-data', 'copy-from-file', 'copy-to-file', 'copy-program', 'into-outfile', 'file-function']);

function globMatch(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 'i');
  return re.test(value);
}

/** A procedure pattern `db.proc` matches `db.proc`; `proc` matches it in any database. */
export function procedureAllowed(principal: Principal, name: string | undefined): boolean {
  if (!name) return false;
  const bare = name.includes('.') ? name.slice(name.lastIndexOf('.') + 1) : name;
  return principal.procedures.some((p) => (p.includes('.') ? globMatch(p, name) : globMatch(p, bare)));
}

function verdict(d: DynamicFacts, principal: Principal): string | undefined {
  switch (d.kind) {
    case 'prepare-from-text':
    case 'set-variable-from-query':
      return undefined; // the text / query is analysed as well
    case 'prepare-from-variable':
      return 'PREPARE from a variable hides the statement from analysis';
    case 'execute-dynamic':
      return 'EXECUTE of dynamic text hides the statement from analysis';
    case 'do-block':
      return 'DO blocks run code sqlgate cannot analyse';
    case 'call':
      return procedureAllowed(principal, d.name) ? undefined : `procedure ${d.name ?? '(unknown)'} is not in your roles' procedures`;
    case 'untrusted-function':
      return procedureAllowed(principal, d.name) ? undefined : `function ${d.name ?? '(unknown)'} is not known to be safe`;
    default:
      if (FILE_IO.has(d.kind)) return principal.fileIo ? undefined : `server file access (${d.kind}${d.name ? ' ' + d.name : ''}) is not allowed for your roles`;
      return `${d.kind} is not understood`;
  }
}

export function check({ facts, principal }: RuleInput): RuleResult {
  const r = result();
  for (const d of facts.dynamic) {
    const why = verdict(d, principal);
    if (why) {
      r.refusals.push({ rule: id, code: 'DYNAMIC_SQL_DENIED', text: why });
      r.outcomes.push({ rule: id, outcome: 'deny', detail: `${d.kind}${d.name ? ' ' + d.name : ''}: ${why}` });
    } else {
      r.outcomes.push({ rule: id, outcome: 'allow', detail: `${d.kind}${d.name ? ' ' + d.name : ''} allowed` });
    }
  }
  if (facts.dynamic.length === 0) r.outcomes.push({ rule: id, outcome: 'allow', detail: 'no dynamic SQL' });
  return r;
}
