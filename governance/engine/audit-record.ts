/**
 * One audit record per statement from the engine's decision, the same for
 * every door, so that the audit says the same thing about the same
 * statement whichever way it came (door parity). The endpoint adds what only
 * it knows: how long it ran, rows returned/affected, whether rows were cut.
 */
import type { AuditEvent } from '../audit/event.js';
import type { Decision, SessionContext } from '../decision.js';

export interface RunOutcome {
  readonly time?: string;
  readonly durationMs?: number;
  readonly rowsReturned?: number;
  readonly rowsAffected?: number;
  /** Rows dropped by the row cap. */
  readonly cutRows?: number;
  /** The upstream failed the statement: its error. */
  readonly failed?: { readonly code: string; readonly message: string };
  /** Statement text actually forwarded, when it differs from the decision's. */
  readonly sql?: string;
}

/** The audit record of one judged statement. `raw`: forwarded unanalysed (raw passthrough). */
export function auditRecord(node: string, session: SessionContext, decision: Decision, outcome: RunOutcome = {}, raw = false): AuditEvent {
  const f = decision.facts;
  const masks = decision.directives.masks;
  const verdict: AuditEvent['decision'] =
    decision.verdict === 'deny' ? 'refused'
      : decision.verdict === 'needs-approval' ? 'needs-approval'
        : outcome.failed ? 'failed'
          : raw ? 'raw'
            : outcome.cutRows ? 'cut'
              : masks.length ? 'masked' : 'allowed';
  const rules = [...decision.rules];
  if (outcome.cutRows && !rules.includes('row-cap')) rules.push('row-cap');
  const detail: Record<string, unknown> = {};
  if (masks.length) detail.masked = masks.map((m) => ({ index: m.index, column: `${m.column.schema}.${m.column.table}.${m.column.column}`, kind: m.kind }));
  if (decision.skipped.length) detail.skipped = decision.skipped;
  if (outcome.cutRows) detail.cutRows = outcome.cutRows;
  if (raw) detail.raw = true;
  if (f.kind) detail.kind = f.kind;
  const error = decision.error ? { code: decision.error.code, message: decision.error.message } : outcome.failed;
  return {
    time: outcome.time ?? new Date().toISOString(),
    node,
    session: session.sessionId,
    user: session.user,
    clientIp: session.clientIp,
    door: session.door,
    type: 'statement',
    instance: session.instance,
    database: session.database,
    sql: outcome.sql ?? f.text,
    fingerprint: f.fingerprint || undefined,
    decision: verdict,
    rules,
    durationMs: outcome.durationMs,
    rowsReturned: outcome.rowsReturned,
    rowsAffected: outcome.rowsAffected,
    error,
    detail,
  };
}
