/**
 * The shape every rule module shares. A rule is a pure function of the
 * statement's facts, the principal and a little context; it answers with
 * outcomes for the trace and, when it refuses, the error the client sees.
 */
import type { ErrorCode } from '../governance/errors.js';
import type { StatementFacts, TableId, WriteFacts, WriteKind } from '../governance/facts.js';
import type { MaskDirective, RuleOutcome } from '../governance/decision.js';
import type { Principal } from './principal.js';

/** What a rule may know besides facts and principal; all supplied by the engine. */
export interface RuleContext {
  /** Estimated rows the statement changes (change-approval); undefined when unknown. */
  readonly estimatedRows?: number | undefined;
  /** Row estimate of a table from the catalog (full-scan-guard), undefined when unknown. */
  readonly tableRows?: ((table: TableId) => number | undefined) | undefined;
  /** Column names of a table from the catalog (whole-row reads), undefined when unknown. */
  readonly tableColumns?: ((table: TableId) => readonly string[] | undefined) | undefined;
  /** The change already went through approval (ticket execution). */
  readonly approved?: boolean | undefined;
}

/** A refusal: the first one in rule order becomes the client's error. */
export interface Refusal {
  readonly rule: string;
  readonly code: ErrorCode;
  /** Without the `sqlgate:` prefix and rule suffix; the engine adds them. */
  readonly text: string;
}

export interface RuleResult {
  readonly outcomes: RuleOutcome[];
  readonly refusals: Refusal[];
  readonly masks?: MaskDirective[];
  /** Rule ids skipped by a hint on this statement. */
  readonly skipped?: string[];
  /** needs-approval answer (change-approval only). */
  readonly approval?: Refusal;
}

export interface RuleInput {
  readonly facts: StatementFacts;
  readonly principal: Principal;
  readonly context: RuleContext;
}

export function result(): { outcomes: RuleOutcome[]; refusals: Refusal[] } {
  return { outcomes: [], refusals: [] };
}

/** True when the statement carries `/*+ sqlgate:skip(rule) *\/` for this rule. */
export function hasSkipHint(facts: StatementFacts, rule: string): boolean {
  return facts.hints.some((h) => h.name === 'skip' && h.args.includes(rule));
}

/**
 * The kind of change a statement makes: its main write's own kind, which
 * EXPLAIN ANALYZE and data-modifying CTEs hide behind the statement's kind.
 */
export function writeKind(facts: StatementFacts): WriteKind | undefined {
  return facts.write?.kind;
}

/**
 * Every write a statement makes: a data-modifying CTE, a multi-table UPDATE
 * or DELETE, or PREPARE text writes more than `write` shows, and each needs
 * its own checks.
 */
export function allWrites(facts: StatementFacts): readonly WriteFacts[] {
  return facts.writes ?? (facts.write ? [facts.write] : []);
}
