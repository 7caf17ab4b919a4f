/**
 * Every failure sqlgate reports has a stable code, a real SQLSTATE and a real
 * MySQL errno, so each door can answer in the client's own protocol
 * (DESIGN.md decision 6). Add a code here rather than reusing a near one.
 */

export interface ErrorSpec {
  /** SQLSTATE for PostgreSQL ErrorResponse and the MySQL ERR packet's state marker. */
  readonly sqlstate: string;
  /** MySQL/MariaDB error number. */
  readonly errno: number;
  /** PostgreSQL severity: FATAL ends the session, ERROR does not. */
  readonly severity: 'ERROR' | 'FATAL';
}

export const ERROR_CODES = {
  /** Table-level privilege missing. */
  TABLE_ACCESS_DENIED: { sqlstate: '42501', errno: 1142, severity: 'ERROR' },
  /** Column-level privilege missing. */
  COLUMN_ACCESS_DENIED: { sqlstate: '42501', errno: 1143, severity: 'ERROR' },
  /** Label above the user's clearance (No-ReadUp). */
  LABEL_NO_READ_UP: { sqlstate: '42501', errno: 1143, severity: 'ERROR' },
  /** Statement kind not allowed for the user's roles. */
  STATEMENT_KIND_DENIED: { sqlstate: '42501', errno: 1227, severity: 'ERROR' },
  /** Dynamic SQL, file I/O, or an unlisted procedure. */
  DYNAMIC_SQL_DENIED: { sqlstate: '42501', errno: 1227, severity: 'ERROR' },
  /** UPDATE/DELETE without a qualifying WHERE, TRUNCATE, always-true predicate. */
  UNQUALIFIED_DML: { sqlstate: '42501', errno: 1175, severity: 'ERROR' },
  /** The change must go through a ticket and be approved. */
  NEEDS_APPROVAL: { sqlstate: '42501', errno: 1227, severity: 'ERROR' },
  /** The statement could not be parsed; fail closed. */
  UNPARSED_STATEMENT: { sqlstate: '42601', errno: 1064, severity: 'ERROR' },
  /** A column reference could not be resolved against the catalog; fail closed. */
  UNRESOLVED_COLUMN: { sqlstate: '42703', errno: 1054, severity: 'ERROR' },
  /** A table reference could not be resolved against the catalog; fail closed. */
  UNRESOLVED_TABLE: { sqlstate: '42P01', errno: 1146, severity: 'ERROR' },
  /** A session setting sqlgate cannot track would change how text is read. */
  UNTRACKED_SETTING: { sqlstate: '0A000', errno: 1235, severity: 'ERROR' },
  /** A feature sqlgate does not support on this door. */
  UNSUPPORTED: { sqlstate: '0A000', errno: 1235, severity: 'ERROR' },
  /** Client address not on an allow list. */
  IP_NOT_ALLOWED: { sqlstate: '28000', errno: 1130, severity: 'FATAL' },
  /** Unknown user or wrong password. */
  AUTH_FAILED: { sqlstate: '28P01', errno: 1045, severity: 'FATAL' },
  /** The user's tenant does not own the instance. */
  TENANT_MISMATCH: { sqlstate: '28000', errno: 1044, severity: 'FATAL' },
  /** Too many connections for this user. */
  TOO_MANY_CONNECTIONS: { sqlstate: '53300', errno: 1203, severity: 'FATAL' },
  /** The client took too long to log in. */
  LOGIN_TIMEOUT: { sqlstate: '08006', errno: 1159, severity: 'FATAL' },
  /** A protocol violation by the client. */
  PROTOCOL_VIOLATION: { sqlstate: '08P01', errno: 1156, severity: 'FATAL' },
  /** Statement ran past its time limit and was cancelled on the database. */
  STATEMENT_TIMEOUT: { sqlstate: '57014', errno: 3024, severity: 'ERROR' },
  /** Query cancelled at the client's request. */
  QUERY_CANCELED: { sqlstate: '57014', errno: 1317, severity: 'ERROR' },
  /** A daily quota is used up. */
  QUOTA_EXCEEDED: { sqlstate: '54000', errno: 1226, severity: 'ERROR' },
  /** A result exceeded the size limit. */
  RESULT_TOO_LARGE: { sqlstate: '54000', errno: 1301, severity: 'ERROR' },
  /** A statement longer than the server accepts (MySQL's max_allowed_packet), refused before it is analysed. */
  STATEMENT_TOO_LARGE: { sqlstate: '08S01', errno: 1153, severity: 'ERROR' },
  /** A full scan of a big table without an index. */
  FULL_SCAN_REFUSED: { sqlstate: '54000', errno: 1235, severity: 'ERROR' },
  /** Wire provenance disagrees with the analysis: refuse rather than guess. */
  PROVENANCE_MISMATCH: { sqlstate: '42501', errno: 1143, severity: 'ERROR' },
  /** The upstream database could not be reached. */
  UPSTREAM_UNAVAILABLE: { sqlstate: '08006', errno: 2003, severity: 'FATAL' },
  /** The audit sink failed: statements are refused rather than run unaudited. */
  AUDIT_UNAVAILABLE: { sqlstate: '58030', errno: 1290, severity: 'ERROR' },
  /** The policy file is invalid. */
  POLICY_INVALID: { sqlstate: 'F0000', errno: 1105, severity: 'ERROR' },
  /** Anything else inside sqlgate. */
  INTERNAL: { sqlstate: 'XX000', errno: 1105, severity: 'ERROR' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The one error class sqlgate throws across module boundaries. */
export class SqlgateError extends Error {
  readonly code: ErrorCode;
  readonly sqlstate: string;
  readonly errno: number;
  readonly severity: 'ERROR' | 'FATAL';
  /** The rule id that produced it, when a rule did. */
  readonly rule: string | undefined;

  constructor(code: ErrorCode, message: string, options: { rule?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SqlgateError';
    this.code = code;
    const spec: ErrorSpec = ERROR_CODES[code];
    this.sqlstate = spec.sqlstate;
    this.errno = spec.errno;
    this.severity = spec.severity;
    this.rule = options.rule;
  }
}

/** Message format clients see: `sqlgate: <what> [rule <id>]`. */
export function ruleMessage(text: string, rule?: string): string {
  return rule ? `sqlgate: ${text} [rule ${rule}]` : `sqlgate: ${text}`;
}
