/**
 * The governance engine's face towards the doors. The MySQL and PostgreSQL
 * endpoints, the console and the ticket runner hold a `Gate` and nothing else
 * from `governance/`.
 */
import type { AuditEvent } from './audit/event.js';
import type { Decision, Judgement, SessionContext } from './decision.js';
import type { Instance, Policy, Verifiers } from '../rules/policy-schema.js';
import type { DailyQuota } from './quota/daily-quota.js';

/** How sqlgate reaches an upstream instance with its service account. */
export interface UpstreamTarget {
  readonly instance: string;
  readonly protocol: 'mysql' | 'postgres';
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Read from the environment at connect time; never logged. */
  readonly password: string | undefined;
  readonly database: string | undefined;
  /** undefined: plain TCP. */
  readonly tls: UpstreamTls | undefined;
}

/** TLS towards an upstream, with how its certificate is checked. */
export interface UpstreamTls {
  /** Path of a PEM file of trusted CAs; undefined: Node's bundled public CAs. */
  readonly ca: string | undefined;
  /** full: chain and name; ca: chain only; none: not checked. */
  readonly verify: 'full' | 'ca' | 'none';
  /** The name the certificate must carry; undefined: the host. */
  readonly servername: string | undefined;
}

/** The policy's `tls` of an instance as an UpstreamTls (`true` is full verification). */
export function upstreamTls(tls: Instance['tls']): UpstreamTls | undefined {
  if (tls === false) return undefined;
  if (tls === true) return { ca: undefined, verify: 'full', servername: undefined };
  return { ca: tls.ca, verify: tls.verify, servername: tls.servername };
}

export interface Gate {
  /** This node's id in audit records (the policy's node_id, with a worker suffix in a cluster). */
  readonly node?: string;
  /** The policy in force now (reloads swap it atomically). */
  policy(): Policy;
  /**
   * Connection-level checks in order: client IP against the global and
   * instance allow lists; then, once the user is known, tenant isolation,
   * the user's allow list, disabled users. Throws SqlgateError
   * (IP_NOT_ALLOWED, TENANT_MISMATCH, AUTH_FAILED).
   */
  checkAddress(instance: string, clientIp: string, user?: string): void;
  /** The stored verifiers of a user, or undefined for an unknown user. */
  verifiers(user: string): Verifiers | undefined;
  /** Judge every statement of one client message before any of it runs. */
  judge(session: SessionContext, sql: string): Promise<Judgement>;
  /**
   * The same judgement without waiting, when everything it needs is at hand
   * (the catalog loaded and fresh); undefined means: call `judge`. The doors'
   * hot path: a statement judged this way costs no turn of the event loop.
   */
  judgeNow?(session: SessionContext, sql: string): Judgement | undefined;
  /** Write one audit record; throws AUDIT_UNAVAILABLE when the sink has failed. */
  audit(event: AuditEvent): void;
  /**
   * Writes audit records still waiting for the end of this event-loop turn
   * (group commit) now: a door calls it before it hands a result to the
   * client, so that the record is in the file first. Never throws.
   */
  auditBarrier?(): void;
  /**
   * A statement ran to completion upstream (no error). After DDL the gate
   * reloads the catalog, so the next statement sees the new table or column
   * rather than being refused as unknown (or judged on the old columns).
   */
  executed?(session: SessionContext, decision: Decision): void;
  upstream(instance: string): UpstreamTarget;
  /**
   * Daily query and row quotas shared through the control store (across
   * sessions and nodes). Absent only where no store is configured (unit
   * tests); then the endpoints do not charge quotas.
   */
  readonly quota?: DailyQuota;
}
