/**
 * The Gate the doors hold (governance/gate.ts), built on the engine: address
 * and identity checks at connection time, judge() per client message, the
 * audit sink, and the upstream targets with their service accounts.
 *
 * The policy is read per call (`current()`), so a reload applies to the next
 * statement of every live session; compiled allow lists and principals are
 * cached per policy object, so a reload also invalidates them.
 */
import type { AuditEvent } from './audit/event.js';
import type { Decision, SessionContext } from './decision.js';
import { upstreamTls, type Gate, type UpstreamTarget } from './gate.js';
import { SqlgateError, ruleMessage } from './errors.js';
import type { Policy, Verifiers } from '../rules/policy-schema.js';
import type { Catalog } from './catalog/catalog.js';
import type { StatementFacts } from './facts.js';
import { parseAllowList, type AllowList } from './policy/ip-allow.js';
import { analyzeCached } from './analyze/analyze.js';
import { judge, judgeNow, type Analyzer, type EngineJudgement } from './engine/judge.js';
import type { DailyQuota } from './quota/daily-quota.js';

/** Where the gate reads the policy: a function, or a PolicyHolder-like object. */
export type PolicySource = (() => Policy) | { current(): Policy };

export interface GateOptions {
  readonly policy: PolicySource;
  readonly audit: { write(event: AuditEvent): void; writePending?(): void };
  /** The catalog of an instance (and database, for PostgreSQL). */
  readonly catalogFor: (instance: string, database: string | undefined) => Promise<Catalog>;
  /** Node id for audit records (defaults to the policy's node_id or the host name). */
  readonly node?: string;
  /** Daily quotas over the control store; endpoints charge statements and rows to it. */
  readonly quota?: DailyQuota;
  /** Analysis; defaults to the cached analysis of governance/analyze. */
  readonly analyze?: Analyzer<Catalog>;
  /**
   * Reloads a catalog now (liveCatalogs' refresh): after DDL that ran through
   * this node, and, at most once per CATALOG_RETRY_MS per catalog, when a
   * statement is refused for a table or column the catalog does not know
   * (DDL made elsewhere). Without it catalogs follow their TTL only.
   */
  readonly refreshCatalog?: (instance: string, database: string | undefined) => Promise<Catalog>;
  /** Affected-row estimate for change-approval; default: the target table's catalog estimate. */
  readonly estimate?: (session: SessionContext, facts: StatementFacts, catalog: Catalog) => number | undefined | Promise<number | undefined>;
}

/** Options for one judgement beyond the Gate interface (ticket execution). */
export interface JudgeExtras {
  /** The change was approved through a ticket: change-approval passes. */
  readonly approved?: boolean;
  /** An affected-row estimate measured by the caller (ticket dry run). */
  readonly estimatedRows?: number;
}

/** Refusals for names the catalog does not know (rules/fail-closed.ts). */
const UNKNOWN_NAME_RULES = new Set(['unresolved-table', 'unresolved-column']);
/** Least time between two reloads of one catalog for unknown names. */
export const CATALOG_RETRY_MS = 1000;

export interface EngineGate extends Gate {
  judge(session: SessionContext, sql: string, extras?: JudgeExtras): Promise<EngineJudgement>;
  /** One judgement, without the reload-and-retry for unknown names. */
  judgeOnce(session: SessionContext, sql: string, extras?: JudgeExtras): Promise<EngineJudgement>;
  judgeNow(session: SessionContext, sql: string): EngineJudgement | undefined;
  readonly node: string;
}

/** With no global list in the policy, only loopback may connect (a new deployment's default). */
export const DEFAULT_GLOBAL_ALLOW = '127.0.0.1, ::1';

interface CompiledLists {
  readonly global: AllowList;
  readonly instances: Map<string, AllowList>;
  readonly users: Map<string, AllowList>;
}

const listCache = new WeakMap<Policy, CompiledLists>();

function listsFor(policy: Policy): CompiledLists {
  let l = listCache.get(policy);
  if (!l) {
    l = { global: parseAllowList(policy.ip_allow ?? DEFAULT_GLOBAL_ALLOW), instances: new Map(), users: new Map() };
    listCache.set(policy, l);
  }
  return l;
}

function cached(map: Map<string, AllowList>, key: string, value: string | readonly string[] | undefined): AllowList {
  let l = map.get(key);
  if (!l) map.set(key, (l = parseAllowList(value ?? [])));
  return l;
}

function refusedMessage(session: SessionContext, sql: string, code: 'UPSTREAM_UNAVAILABLE' | 'INTERNAL', text: string): EngineJudgement {
  const facts: StatementFacts = {
    dialect: session.dialect, kind: 'other', verb: 'unjudged', text: sql, fingerprint: '', tablesRead: [], outputs: [], reads: [],
    wholeRows: [], write: undefined, ddlTargets: [], dynamic: [], hints: [], sessionChange: undefined, unresolved: undefined,
  };
  const err = new SqlgateError(code, ruleMessage(text));
  const d = {
    verdict: 'deny' as const, rules: [], error: { code, message: err.message, sqlstate: err.sqlstate, errno: err.errno },
    directives: { masks: [], maxRows: undefined, maxResultBytes: undefined, timeoutMs: undefined, maxRowsPerDay: undefined, maxQueriesPerDay: undefined, fullScanMaxRows: undefined, bigTables: [] },
    trace: [{ rule: 'engine', outcome: 'deny' as const, detail: text }], skipped: [], facts, raw: false,
  };
  return { verdict: 'deny', statements: [d], refusal: d, raw: false };
}

/** The session's own view of its database's schema, while its transaction has one. */
function ownCatalog(session: SessionContext, database: string | undefined): Catalog | undefined {
  return session.transactionCatalog !== undefined && database === session.database ? session.transactionCatalog : undefined;
}

export function createGate(opts: GateOptions): EngineGate {
  const current: () => Policy = typeof opts.policy === 'function' ? opts.policy : ((h) => () => h.current())(opts.policy);
  const analyze: Analyzer<Catalog> = opts.analyze ?? analyzeCached;
  const node = opts.node ?? current().node_id ?? process.env.HOSTNAME ?? 'sqlgate';
  // Catalog loads that have settled, by the promise catalogFor hands out: a
  // provider returns the same promise while its catalog is fresh, so finding
  // it here means the catalog is at hand and judgeNow need not wait.
  const settled = new WeakMap<Promise<Catalog>, Catalog>();
  const catalogNow = (instance: string, database: string | undefined): Catalog | undefined => {
    const p = opts.catalogFor(instance, database);
    const c = settled.get(p);
    if (c === undefined) p.then((v) => { settled.set(p, v); }, () => undefined);
    return c;
  };

  // When each catalog was last reloaded for an unknown name: a client sending
  // statements on tables that do not exist must not turn into a reload each.
  const retried = new Map<string, number>();
  const retryKey = (session: SessionContext) => `${session.instance}\u0000${session.database ?? ''}`;
  const mayRetry = (session: SessionContext, j: EngineJudgement): boolean =>
    opts.refreshCatalog !== undefined && session.transactionCatalog === undefined && j.refusal !== undefined && j.refusal.rules.some((r) => UNKNOWN_NAME_RULES.has(r))
    && Date.now() - (retried.get(retryKey(session)) ?? 0) >= CATALOG_RETRY_MS;
  /** Sessions that ran DDL since their last transaction statement: their COMMIT reloads again. */
  const ddlSince = new WeakSet<SessionContext>();
  const reload = (instance: string, database: string | undefined): Promise<unknown> =>
    opts.refreshCatalog!(instance, database).catch(() => undefined); // the next catalogFor reports a failed load

  const gate: EngineGate = {
    node,
    policy: current,
    quota: opts.quota,

    checkAddress(instance: string, clientIp: string, user?: string): void {
      const policy = current();
      const lists = listsFor(policy);
      const inst = policy.instances[instance];
      if (!lists.global.matches(clientIp)) {
        throw new SqlgateError('IP_NOT_ALLOWED', ruleMessage(`client address ${clientIp} is not on the allow list`, 'ip-allow-list'), { rule: 'ip-allow-list' });
      }
      if (!inst) throw new SqlgateError('UPSTREAM_UNAVAILABLE', ruleMessage(`unknown instance ${instance}`));
      if (!cached(lists.instances, instance, inst.ip_allow).matches(clientIp)) {
        throw new SqlgateError('IP_NOT_ALLOWED', ruleMessage(`client address ${clientIp} is not on the allow list of instance ${instance}`, 'ip-allow-list'), { rule: 'ip-allow-list' });
      }
      if (user === undefined) return;
      const u = policy.users[user];
      // Unknown and disabled users get the same answer: existence is not disclosed.
      if (!u || u.disabled) throw new SqlgateError('AUTH_FAILED', ruleMessage(`authentication failed for user ${user}`));
      if (u.tenant !== inst.tenant) {
        throw new SqlgateError('TENANT_MISMATCH', ruleMessage(`user ${user} (tenant ${u.tenant}) may not use instance ${instance} of another tenant`, 'tenant-isolation'), { rule: 'tenant-isolation' });
      }
      if (!cached(lists.users, user, u.ip_allow).matches(clientIp)) {
        throw new SqlgateError('IP_NOT_ALLOWED', ruleMessage(`client address ${clientIp} is not on the allow list of user ${user}`, 'ip-allow-list'), { rule: 'ip-allow-list' });
      }
    },

    verifiers(user: string): Verifiers | undefined {
      return current().users[user]?.password;
    },

    async judge(session: SessionContext, sql: string, extras: JudgeExtras = {}): Promise<EngineJudgement> {
      const first = await gate.judgeOnce(session, sql, extras);
      if (!mayRetry(session, first)) return first;
      // Refused for a name the catalog does not know: it may have been created
      // since the catalog was loaded. Reload once and judge again; still unknown
      // is still refused.
      retried.set(retryKey(session), Date.now());
      await reload(session.instance, session.database);
      return gate.judgeOnce(session, sql, extras);
    },

    async judgeOnce(session: SessionContext, sql: string, extras: JudgeExtras = {}): Promise<EngineJudgement> {
      const policy = current();
      try {
        return await judge(session, sql, {
          policy,
          analyze,
          catalogFor: (database) => ownCatalog(session, database) ?? opts.catalogFor(session.instance, database),
          ...(extras.estimatedRows !== undefined ? { estimate: () => extras.estimatedRows }
            : opts.estimate ? { estimate: (f: StatementFacts, c: Catalog) => opts.estimate!(session, f, c) } : {}),
          ...(extras.approved ? { approved: true } : {}),
        });
      } catch (err) {
        // No catalog, no judgement: refuse rather than guess.
        const text = `cannot judge the statement: ${(err as Error).message}`;
        return refusedMessage(session, sql, err instanceof SqlgateError && err.code === 'UPSTREAM_UNAVAILABLE' ? 'UPSTREAM_UNAVAILABLE' : 'INTERNAL', text);
      }
    },

    judgeNow(session: SessionContext, sql: string): EngineJudgement | undefined {
      if (opts.estimate) return undefined;
      try {
        const j = judgeNow(session, sql, { policy: current(), analyze, catalogNow: (database) => ownCatalog(session, database) ?? catalogNow(session.instance, database) });
        // An unknown name that a reload may explain: judge() reloads.
        return j && mayRetry(session, j) ? undefined : j;
      } catch {
        return undefined; // judge() says why
      }
    },

    audit(event: AuditEvent): void {
      opts.audit.write(event);
    },

    executed(session: SessionContext, decision: Decision): void {
      if (!opts.refreshCatalog) return;
      const kind = decision.facts.kind;
      if (kind === 'ddl') {
        // MySQL DDL may name another database than the session's; one MySQL catalog covers them all.
        void reload(session.instance, decision.facts.ddlTargets[0]?.database ?? session.database);
        ddlSince.add(session);
      } else if (kind === 'transaction' && ddlSince.delete(session)) {
        // PostgreSQL DDL inside a transaction is seen by the catalog's own connection only once committed.
        void reload(session.instance, session.database);
      }
    },

    auditBarrier(): void {
      opts.audit.writePending?.();
    },

    upstream(instance: string): UpstreamTarget {
      const inst = current().instances[instance];
      if (!inst) throw new SqlgateError('UPSTREAM_UNAVAILABLE', ruleMessage(`unknown instance ${instance}`));
      return {
        instance, protocol: inst.protocol, host: inst.host, port: inst.port, user: inst.user,
        password: inst.password_env ? process.env[inst.password_env] : undefined,
        database: inst.database, tls: upstreamTls(inst.tls),
      };
    },
  };
  return gate;
}
