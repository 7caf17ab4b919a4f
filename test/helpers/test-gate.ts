/**
 * A deliberately simple `Gate` for protocol-level tests of the endpoints,
 * used until (and beside) the real engine: it refuses statements matching
 * given patterns and records audit events in memory. It is a stand-in for
 * our own governance engine, never for a database.
 */
import { ERROR_CODES, SqlgateError, type ErrorCode } from '../../governance/errors.js';
import type { AuditEvent } from '../../governance/audit/event.js';
import type { Decision, Directives, Judgement, SessionContext } from '../../governance/decision.js';
import type { StatementFacts } from '../../governance/facts.js';
import { upstreamTls, type Gate, type UpstreamTarget } from '../../governance/gate.js';
import type { Policy, Verifiers } from '../../rules/policy-schema.js';

export interface TestGateOptions {
  readonly policy: Policy;
  /** Statements matching any pattern are refused with the given code. */
  readonly deny?: readonly { readonly pattern: RegExp; readonly code: ErrorCode; readonly rule: string; readonly message: string }[];
  /** Client IPs allowed; undefined = all. */
  readonly allowIps?: readonly string[];
}

const NO_DIRECTIVES: Directives = {
  masks: [], maxRows: undefined, maxResultBytes: undefined, timeoutMs: undefined,
  maxRowsPerDay: undefined, maxQueriesPerDay: undefined, fullScanMaxRows: undefined, bigTables: [],
};

function facts(text: string, session: SessionContext): StatementFacts {
  return {
    dialect: session.dialect, kind: 'other', verb: 'other', text, fingerprint: text, tablesRead: [], outputs: [],
    reads: [], wholeRows: [], write: undefined, ddlTargets: [], dynamic: [], hints: [], sessionChange: undefined,
    unresolved: undefined,
  };
}

export class TestGate implements Gate {
  readonly events: AuditEvent[] = [];
  private readonly opts: TestGateOptions;

  constructor(opts: TestGateOptions) {
    this.opts = opts;
  }

  policy(): Policy {
    return this.opts.policy;
  }

  checkAddress(_instance: string, clientIp: string, user?: string): void {
    const ip = clientIp.replace(/^::ffff:/, '');
    if (this.opts.allowIps && !this.opts.allowIps.includes(ip)) {
      throw new SqlgateError('IP_NOT_ALLOWED', `sqlgate: host '${ip}' is not allowed to connect [rule ip-allow-list]`, { rule: 'ip-allow-list' });
    }
    if (user !== undefined && this.opts.policy.users[user]?.disabled) {
      throw new SqlgateError('AUTH_FAILED', `sqlgate: user '${user}' is disabled`);
    }
  }

  verifiers(user: string): Verifiers | undefined {
    return this.opts.policy.users[user]?.password;
  }

  async judge(session: SessionContext, sql: string): Promise<Judgement> {
    const statements: Decision[] = sql.split(';').map((s) => s.trim()).filter(Boolean).map((text) => {
      const hit = this.opts.deny?.find((d) => d.pattern.test(text));
      const error = hit
        ? { code: hit.code, message: hit.message, sqlstate: ERROR_CODES[hit.code].sqlstate, errno: ERROR_CODES[hit.code].errno }
        : undefined;
      return {
        verdict: hit ? 'deny' : 'allow', rules: hit ? [hit.rule] : [], error, directives: NO_DIRECTIVES,
        trace: [], skipped: [], facts: facts(text, session),
      } satisfies Decision;
    });
    const refusal = statements.find((d) => d.verdict === 'deny');
    return { verdict: refusal ? 'deny' : 'allow', statements, refusal, raw: false };
  }

  audit(event: AuditEvent): void {
    this.events.push(event);
  }

  /** How many records had been made when a door last called the barrier (wrote the turn's records out). */
  flushed = 0;

  auditBarrier(): void {
    this.flushed = this.events.length;
  }

  upstream(instance: string): UpstreamTarget {
    const i = this.opts.policy.instances[instance];
    if (!i) throw new SqlgateError('INTERNAL', `unknown instance ${instance}`);
    return {
      instance, protocol: i.protocol, host: i.host, port: i.port, user: i.user,
      password: i.password_env ? process.env[i.password_env] : undefined, database: i.database, tls: upstreamTls(i.tls),
    };
  }
}
