/**
 * tenant-isolation: a user of one tenant never reaches another tenant's
 * instances, whatever their grants say.
 */
import { result, type RuleInput, type RuleResult } from './rule.js';

export const id = 'tenant-isolation';

export function check({ principal }: Pick<RuleInput, 'principal'>): RuleResult {
  const r = result();
  const ut = principal.definition.tenant;
  const it = principal.instance.tenant;
  if (ut !== it) {
    const text = `user ${principal.user} (tenant ${ut}) may not use instance ${principal.instanceName} of another tenant`;
    r.refusals.push({ rule: id, code: 'TENANT_MISMATCH', text });
    r.outcomes.push({ rule: id, outcome: 'deny', detail: text });
  } else {
    r.outcomes.push({ rule: id, outcome: 'allow', detail: `tenant ${ut}` });
  }
  return r;
}
