/**
 * Shared set-up for the MySQL endpoint's integration tests: a policy whose
 * instance is the real MariaDB, a TestGate (or the real engine) and a
 * listener on an ephemeral port, plus a self-signed certificate.
 */
import mysql from 'mysql2/promise';
import { policySchema, type Listener, type Policy } from '../../../rules/policy-schema.js';
import { makeVerifiers } from '../../../governance/auth/verifiers.js';
import { TestGate, type TestGateOptions } from '../../helpers/test-gate.js';
import { mysqlUrl, serverInfo } from '../../helpers/db.js';
import { startMysqlListener, type MysqlListener } from '../../../proxy/mysql/listener.js';
import type { Gate } from '../../../governance/gate.js';
import { newCertificate, type TestCertificate } from '../../helpers/certs.js';

let cert: TestCertificate | undefined;

/** A self-signed certificate for 127.0.0.1 / localhost (made once per process with openssl). */
export function testCertificate(): TestCertificate {
  cert ??= newCertificate();
  return cert;
}

export const PASSWORD = 'p4ss-wörd';

/** Users: `both` has both verifiers, `native` and `sha2` one each; `limited` may hold 1 connection. */
export function testPolicy(over: Partial<{ database: string; upstreamUrl: string; upstreamPort: number; tls: boolean; extraUsers: Record<string, unknown> }> = {}): Policy {
  const s = serverInfo(over.upstreamUrl ?? mysqlUrl());
  if (s.password) process.env.SQLGATE_TEST_MYSQL_PASSWORD = s.password;
  const v = makeVerifiers('any', PASSWORD, { iterations: 1 });
  return policySchema.parse({
    version: 1,
    instances: {
      db1: {
        protocol: 'mysql', host: s.host, port: over.upstreamPort ?? s.port, user: s.user,
        password_env: s.password ? 'SQLGATE_TEST_MYSQL_PASSWORD' : undefined, database: over.database, tls: over.tls ?? false,
      },
    },
    users: {
      both: { password: { mysql_native: v.mysql_native, caching_sha2: v.caching_sha2 } },
      native: { password: { mysql_native: v.mysql_native } },
      sha2: { password: { caching_sha2: v.caching_sha2 } },
      limited: { password: { mysql_native: v.mysql_native }, max_connections: 1 },
      ...over.extraUsers,
    },
  });
}

export interface Endpoint {
  /** The gate in use (the TestGate, or the one passed in). */
  readonly gate: TestGate;
  readonly listener: MysqlListener;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts a listener in front of the real MariaDB with a TestGate. */
export async function startEndpoint(opts: {
  policy?: Policy; deny?: TestGateOptions['deny']; allowIps?: string[]; listener?: Partial<Listener>; tls?: boolean | { cert: Buffer; key: Buffer }; gate?: Gate;
} = {}): Promise<Endpoint> {
  const policy = opts.policy ?? testPolicy();
  const gate = new TestGate({ policy, deny: opts.deny, allowIps: opts.allowIps });
  const listenerCfg: Listener = {
    protocol: 'mysql', listen: '127.0.0.1:0', instance: 'db1', require_tls: false, login_timeout_ms: 10_000, ...opts.listener,
  };
  const listener = await startMysqlListener({
    gate: opts.gate ?? gate, listener: listenerCfg, instance: 'db1', tls: opts.tls === false ? false : opts.tls === true || opts.tls === undefined ? testCertificate() : opts.tls,
  });
  return { gate: (opts.gate as TestGate | undefined) ?? gate, listener, port: listener.address().port, close: () => listener.close() };
}

/** A mysql2 connection through the endpoint. */
export function connect(port: number, opts: mysql.ConnectionOptions = {}): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: '127.0.0.1', port, user: 'both', password: PASSWORD, multipleStatements: true, dateStrings: true,
    supportBigNumbers: true, bigNumberStrings: true, ...opts,
  });
}

/** A raw TCP client that reads MySQL packets, for the protocol-level tests. */
export interface RawClient {
  readonly socket: import('node:net').Socket;
  /** Next packet, or undefined when the server closed the connection. */
  packet(timeoutMs?: number): Promise<{ seq: number; payload: Buffer } | undefined>;
  /** Resolves when the server has closed the connection. */
  closed(): Promise<void>;
}

export async function rawConnect(port: number, first?: Buffer): Promise<RawClient> {
  const { connect: netConnect } = await import('node:net');
  const { PacketFramer } = await import('../../../wire/mysql/packet-reader.js');
  const socket = netConnect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  socket.on('error', () => undefined);
  if (first) socket.write(first);
  const framer = new PacketFramer();
  let ended = false;
  const waiters: (() => void)[] = [];
  const wake = () => { for (const w of waiters.splice(0)) w(); };
  socket.on('data', (c) => { framer.push(c); wake(); });
  socket.on('close', () => { ended = true; wake(); });
  const closedP = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    socket,
    async packet(timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const p = framer.next();
        if (p) return { seq: p.seq, payload: Buffer.from(p.payload) };
        if (ended) return undefined;
        if (Date.now() > until) throw new Error('no packet within timeout');
        await new Promise<void>((resolve) => { waiters.push(resolve); setTimeout(resolve, 100); });
      }
    },
    closed: () => closedP,
  };
}

/** Runs the mariadb command-line client; resolves with its exit code and output. */
export async function mariadbCli(port: number, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const { spawn } = await import('node:child_process');
  return new Promise((resolve) => {
    const child = spawn('mariadb', ['-h127.0.0.1', `-P${port}`, '--batch', '--skip-column-names', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** Statement audit records (not logins). */
export function statements(gate: { readonly events: readonly import('../../../governance/audit/event.js').AuditEvent[] }): import('../../../governance/audit/event.js').AuditEvent[] {
  return gate.events.filter((e) => e.type === 'statement');
}

/** A TestGate whose allowed statements carry directives (row cap, timeout, big tables) chosen by pattern. */
export class DirectiveGate extends TestGate {
  private readonly rules: readonly { pattern: RegExp; directives: Partial<import('../../../governance/decision.js').Directives> }[];

  constructor(opts: TestGateOptions & { directives: DirectiveGate['rules'] }) {
    super(opts);
    this.rules = opts.directives;
  }

  override async judge(session: import('../../../governance/decision.js').SessionContext, sql: string) {
    const j = await super.judge(session, sql);
    const statements = j.statements.map((d) => {
      const hit = this.rules.find((r) => r.pattern.test(d.facts.text));
      return hit ? { ...d, directives: { ...d.directives, ...hit.directives } } : d;
    });
    return { ...j, statements, refusal: j.refusal };
  }
}
