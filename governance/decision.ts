/**
 * What the governance engine answers, and what it needs to know about who is
 * asking. Every door (MySQL/PostgreSQL endpoints, console, tickets) speaks to
 * the engine only through these types, so the same statement gets the same
 * decision whichever door it came through.
 */
import type { ErrorCode } from './errors.js';
import type { Dialect, StatementFacts } from './facts.js';
import type { Catalog } from './catalog/catalog.js';

/** Who is asking, from where, on what: fixed for a session except `database`/`searchPath`/`transactionCatalog`. */
export interface SessionContext {
  readonly user: string;
  readonly clientIp: string;
  readonly instance: string;
  readonly dialect: Dialect;
  /** Current database (MySQL `USE`, PostgreSQL connection database). */
  database: string | undefined;
  /** PostgreSQL search_path, resolved (`"$user"` already substituted). */
  searchPath: readonly string[];
  readonly door: 'mysql' | 'postgres' | 'console' | 'ticket';
  readonly sessionId: string;
  /**
   * PostgreSQL, after DDL inside the open transaction: the catalog as that
   * transaction sees it (read over the session's own connection), judged
   * against instead of the shared one until the transaction ends.
   */
  transactionCatalog?: Catalog | undefined;
}

export type MaskKind = 'partial' | 'hash' | 'alias' | 'null';

/** How to mask one output position. */
export interface MaskDirective {
  /** 0-based output column index. */
  readonly index: number;
  readonly kind: MaskKind;
  readonly keepFirst: number;
  readonly keepLast: number;
  readonly maskChar: string;
  readonly alias: string;
  /** The base column, to cross-check against the wire's own provenance. */
  readonly column: { readonly database: string; readonly schema: string; readonly table: string; readonly column: string };
  /**
   * PostgreSQL: the base column's relation OID and attribute number from the
   * catalog, checked against the RowDescription the server sends; a masked
   * output the server attributes elsewhere is never sent.
   */
  readonly origin?: { readonly tableOid: number; readonly attnum: number };
  readonly rule: string;
}

/** What an endpoint must enforce while the statement runs. */
export interface Directives {
  readonly masks: readonly MaskDirective[];
  /** Rows to forward at most, or undefined for no cap. */
  readonly maxRows: number | undefined;
  readonly maxResultBytes: number | undefined;
  readonly timeoutMs: number | undefined;
  /** Daily quotas to charge against (undefined = unlimited). */
  readonly maxRowsPerDay: number | undefined;
  readonly maxQueriesPerDay: number | undefined;
  /** Check the plan for unindexed scans of tables larger than this. */
  readonly fullScanMaxRows: number | undefined;
  /** Tables estimated above fullScanMaxRows, which the plan check must look at. */
  readonly bigTables: readonly { readonly schema: string; readonly table: string; readonly rows: number }[];
  /**
   * Integrity errors print whole rows or keys (PostgreSQL: "Failing row
   * contains (…)", "Key (a, b)=(…) already exists"), columns the user may
   * not read included: the endpoint hides those values unless the user
   * could read everything anyway. Absent: hide.
   */
  readonly showErrorRows?: boolean;
}

export type Verdict = 'allow' | 'deny' | 'needs-approval';

/** One rule's contribution to a decision, for the audit and `sqlgate explain`. */
export interface RuleOutcome {
  readonly rule: string;
  readonly outcome: 'allow' | 'deny' | 'mask' | 'cut' | 'skip' | 'needs-approval' | 'info';
  readonly detail: string;
}

/** The engine's answer for one statement. */
export interface Decision {
  readonly verdict: Verdict;
  /** Ids of the rules that decided (deny: the denying rules; allow: those that shaped it). */
  readonly rules: readonly string[];
  /** For deny / needs-approval: what the client sees. */
  readonly error: { readonly code: ErrorCode; readonly message: string; readonly sqlstate: string; readonly errno: number } | undefined;
  readonly directives: Directives;
  readonly trace: readonly RuleOutcome[];
  /** Hints that skipped a check: audited. */
  readonly skipped: readonly string[];
  readonly facts: StatementFacts;
}

/** The engine's answer for a whole client message (possibly several statements). */
export interface Judgement {
  /** deny if any statement is denied: then none of them runs. */
  readonly verdict: Verdict;
  readonly statements: readonly Decision[];
  /** The first refusal, if any. */
  readonly refusal: Decision | undefined;
  /** Raw passthrough: not analysed, audited as such. */
  readonly raw: boolean;
}
