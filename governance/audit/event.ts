/**
 * One audit record per statement (allowed, refused or failed upstream) and
 * per login attempt and console/ticket operation. Written as JSON lines by
 * `audit/log.ts`, each carrying the hash of the record before it.
 * Never put a password, verifier or key in any field.
 */
export interface AuditEvent {
  /** ISO-8601 time the statement arrived. */
  readonly time: string;
  readonly node: string;
  readonly session: string;
  readonly user: string | undefined;
  readonly clientIp: string;
  readonly door: 'mysql' | 'postgres' | 'console' | 'ticket' | 'cli';
  /** What happened: a statement, a login attempt, or an operation (console/ticket). */
  readonly type: 'statement' | 'login' | 'operation';
  readonly instance: string | undefined;
  readonly database: string | undefined;
  /** The statement text (literals included: it is what ran). */
  readonly sql: string | undefined;
  readonly fingerprint: string | undefined;
  /** allowed | refused | masked | cut | needs-approval | failed | raw */
  readonly decision: 'allowed' | 'refused' | 'masked' | 'cut' | 'needs-approval' | 'failed' | 'raw';
  /** Rule ids that shaped the decision. */
  readonly rules: readonly string[];
  readonly durationMs: number | undefined;
  readonly rowsReturned: number | undefined;
  readonly rowsAffected: number | undefined;
  /** Error code and message returned to the client, if any. */
  readonly error: { readonly code: string; readonly message: string } | undefined;
  /** Operation name for console/ticket records (e.g. ticket.approve). */
  readonly operation?: string;
  /** Free-form, secret-free extras (masked columns, cut count, skipped checks). */
  readonly detail?: Readonly<Record<string, unknown>>;
}

let lastMs = -1;
let lastIso = '';

/**
 * The ISO-8601 form of a time in milliseconds (default: now), as audit
 * records carry it. `toISOString` costs ~0.5 µs, and a busy node stamps many
 * records within the same millisecond: the last one is remembered.
 */
export function isoTime(ms: number = Date.now()): string {
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastIso;
}
