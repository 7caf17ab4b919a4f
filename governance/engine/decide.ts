/**
 * decide(facts, context) → Decision: runs every rule over one statement's
 * facts, in a fixed order, and keeps every rule's outcome in the trace. The
 * first refusal becomes the client's error; any refusal denies.
 */
import type { Decision, Directives, RuleOutcome } from '../decision.js';
import { ERROR_CODES, ruleMessage, type ErrorCode } from '../errors.js';
import type { StatementFacts, TableId } from '../facts.js';
import type { Policy } from '../../rules/policy-schema.js';
import type { Principal } from '../../rules/principal.js';
import type { Refusal, RuleContext, RuleResult } from '../../rules/rule.js';
import * as tenant from '../../rules/tenant-isolation.js';
import * as failClosed from '../../rules/fail-closed.js';
import * as kinds from '../../rules/statement-kinds.js';
import * as settings from '../../rules/session-settings.js';
import * as dynamicSql from '../../rules/dynamic-sql.js';
import * as columnAcl from '../../rules/column-acl.js';
import * as label from '../../rules/label-no-read-up.js';
import * as masking from '../../rules/masking.js';
import * as dml from '../../rules/no-unqualified-dml.js';
import * as approval from '../../rules/change-approval.js';
import { directives as limitDirectives } from '../../rules/limits.js';
import { principalFor } from './index.js';

export interface DecideContext extends RuleContext {
  readonly policy: Policy;
  readonly user: string;
  readonly instance: string;
}

/** A decision plus whether the statement goes through unanalysed (raw passthrough). */
export interface EngineDecision extends Decision {
  readonly raw: boolean;
}

const NO_DIRECTIVES: Directives = {
  masks: [], maxRows: undefined, maxResultBytes: undefined, timeoutMs: undefined,
  maxRowsPerDay: undefined, maxQueriesPerDay: undefined, fullScanMaxRows: undefined, bigTables: [],
};

function errorOf(r: Refusal): Decision['error'] {
  const spec = ERROR_CODES[r.code as ErrorCode];
  return { code: r.code, message: ruleMessage(r.text, r.rule), sqlstate: spec.sqlstate, errno: spec.errno };
}

/** A refusal decided before any rule could look at the statement (unknown user or instance). */
export function refuse(facts: StatementFacts, code: ErrorCode, text: string, rule?: string): EngineDecision {
  const refusal: Refusal = { rule: rule ?? '', code, text };
  return {
    verdict: 'deny', rules: rule ? [rule] : [], error: { ...errorOf(refusal)!, message: ruleMessage(text, rule) },
    directives: NO_DIRECTIVES, trace: [{ rule: rule ?? 'identity', outcome: 'deny', detail: text }], skipped: [], facts, raw: false,
  };
}

function unique(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}

export function decide(facts: StatementFacts, context: DecideContext): EngineDecision {
  const principal: Principal | undefined = principalFor(context.policy, context.user, context.instance);
  if (!principal) {
    if (!context.policy.instances[context.instance]) return refuse(facts, 'UPSTREAM_UNAVAILABLE', `unknown instance ${context.instance}`);
    return refuse(facts, 'AUTH_FAILED', `unknown user ${context.user}`);
  }
  if (principal.definition.disabled) return refuse(facts, 'AUTH_FAILED', `user ${context.user} is disabled`);

  const trace: RuleOutcome[] = [];
  const refusals: Refusal[] = [];
  const skipped: string[] = [];
  const take = (r: RuleResult) => {
    for (const o of r.outcomes) trace.push(o);
    for (const x of r.refusals) refusals.push(x);
    if (r.skipped) for (const x of r.skipped) skipped.push(x);
  };
  const input = { facts, principal, context };

  take(tenant.check(input));
  const fc = failClosed.check(input);
  take(fc);
  if (facts.unresolved) {
    // The facts are incomplete: no other rule can judge them.
    const verdict = refusals.length ? 'deny' : 'allow';
    return {
      verdict, rules: unique(refusals.length ? refusals.map((r) => r.rule) : trace.map((t) => t.rule)),
      error: refusals.length ? errorOf(refusals[0]) : undefined,
      directives: refusals.length ? NO_DIRECTIVES : limitDirectives(input, []).directives,
      trace, skipped, facts, raw: fc.raw,
    };
  }
  take(kinds.check(input));
  take(settings.check(input));
  take(dynamicSql.check(input));
  take(columnAcl.check(input));
  take(label.check(input));
  const m = masking.check(input);
  take(m);
  take(dml.check(input));
  const ap = approval.check(input, context.policy);
  take(ap);
  const lim = limitDirectives(input, m.masks ?? []);
  take(lim);

  if (refusals.length > 0) {
    return { verdict: 'deny', rules: unique(refusals.map((r) => r.rule)), error: errorOf(refusals[0]), directives: lim.directives, trace, skipped, facts, raw: false };
  }
  if (ap.approval) {
    return { verdict: 'needs-approval', rules: [approval.id], error: errorOf(ap.approval), directives: lim.directives, trace, skipped, facts, raw: false };
  }
  const shaping = [...(lim.directives.masks.length ? [masking.id] : []), ...skipped];
  return { verdict: 'allow', rules: unique(shaping), error: undefined, directives: lim.directives, trace, skipped, facts, raw: false };
}

/** Row estimates and column lists from a catalog, for the rule context. */
export interface CatalogView {
  tableRows(t: TableId): number | undefined;
  tableColumns(t: TableId): readonly string[] | undefined;
}
