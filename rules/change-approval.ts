/**
 * change-approval: a change (DML or DDL) that matches an approval flow of the
 * policy — by change type, the instance's environment, the instance and the
 * estimated affected rows — must go through a change ticket. The first
 * matching flow in policy order decides. When the caller has no estimate the
 * flow's row threshold counts as met: an unknown size is not a small one.
 */
import type { ApprovalFlow, Policy } from './policy-schema.js';
import type { StatementFacts } from '../governance/facts.js';
import { allWrites, result, type RuleInput, type RuleResult } from './rule.js';

export const id = 'change-approval';

export type ChangeType = 'dml' | 'ddl' | 'other';

/** The change type of a statement, or undefined when it changes nothing. */
export function changeType(facts: StatementFacts): ChangeType | undefined {
  const writes = allWrites(facts);
  if (writes.some((w) => w.kind === 'truncate') || facts.kind === 'ddl') return 'ddl';
  if (writes.length > 0) return 'dml';
  if (facts.kind === 'grant' || facts.kind === 'load_data' || (facts.kind === 'copy' && facts.dynamic.some((d) => d.kind === 'copy-from-file'))) return 'other';
  return undefined;
}

export function matchingFlow(flows: readonly ApprovalFlow[], type: ChangeType, environment: string, instance: string, rows: number | undefined): ApprovalFlow | undefined {
  return flows.find((f) => {
    const w = f.when;
    if (w.change_types && !w.change_types.includes(type)) return false;
    if (w.environments && !w.environments.includes(environment as 'dev')) return false;
    if (w.instances && !w.instances.includes(instance)) return false;
    if (w.min_rows !== undefined && rows !== undefined && rows < w.min_rows) return false;
    return true;
  });
}

export function check({ facts, principal, context }: RuleInput, policy: Pick<Policy, 'approvals'>): RuleResult {
  const r = result();
  const type = changeType(facts);
  if (!type) {
    r.outcomes.push({ rule: id, outcome: 'allow', detail: 'not a change' });
    return r;
  }
  const env = principal.instance.environment;
  const flow = matchingFlow(policy.approvals, type, env, principal.instanceName, context.estimatedRows);
  const rows = context.estimatedRows === undefined ? 'unknown' : String(context.estimatedRows);
  if (!flow) {
    r.outcomes.push({ rule: id, outcome: 'allow', detail: `${type} change on ${env} instance ${principal.instanceName} (est. rows ${rows}): no approval flow applies` });
    return r;
  }
  const stages = flow.stages.map((s) => s.roles.join('|')).join(' → ');
  if (context.approved) {
    r.outcomes.push({ rule: id, outcome: 'allow', detail: `approved through flow '${flow.name}' (${stages})` });
    return r;
  }
  const text = `this ${type.toUpperCase()} change on ${env} instance ${principal.instanceName} (estimated rows ${rows}) needs approval by flow '${flow.name}' ` +
    `(stages: ${stages}); approved changes run as change tickets, which this sqlgate build does not have yet (README → Status), ` +
    'so it cannot run through sqlgate: ask an administrator of the policy';
  r.outcomes.push({ rule: id, outcome: 'needs-approval', detail: `flow '${flow.name}', stages ${stages}, est. rows ${rows}` });
  return { outcomes: r.outcomes, refusals: r.refusals, approval: { rule: id, code: 'NEEDS_APPROVAL', text } };
}
