/**
 * Shared set-up for the MySQL endpoint's integration tests: a policy whose
 * instance is the real MariaDB, a TestGate (or the real engine) and a
 * listener on an ephemeral port, plus a self-signed certificate.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { policySchema, type Listener, type Policy } from '../../../rules/policy-schema.js';
import { cachingSha2Verifier, nativeVerifier } from '../../../governance/auth/mysql-auth.js';
import { TestGate, type TestGateOptions } from '../../helpers/test-gate.js';
import { mysqlUrl, serverInfo } from '../../helpers/db.js';
import { startMysqlListener, type MysqlListener } from '../../../proxy/mysql/listener.js';
import type { Gate } from '../../../governance/gate.js';

let cert: { cert: Buffer; key: Buffer } | undefined;

/** A self-signed certificate for 127.0.0.1 / localhost (made once per process with openssl). */
export function testCertificate(): { cert: Buffer; key: Buffer } {
  if (cert) return cert;
  const dir = mkdtempSync(join(tmpdir(), 'sqlgate-mysql-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  cert = { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
  return cert;
}

export const PASSWORD = 'p4ss-wörd';

/** Users: `both` has both verifiers, `native` and `sha2` one each; `limited` may hold 1 connection. */
export function testPolicy(over: Partial<{ database: string; upstreamPort: number; extraUsers: Record<string, unknown> }> = {}): Policy {
  const s = serverInfo(mysqlUrl());
  if (s.password) process.env.SQLGATE_TEST_MYSQL_PASSWORD = s.password;
  return policySchema.parse({
    version: 1,
    instances: {
      db1: {
        protocol: 'mysql', host: s.host, port: over.upstreamPort ?? s.port, user: s.user,
        password_env: s.password ? 'SQLGATE_TEST_MYSQL_PASSWORD' : undefined, database: over.database,
      },
    },
    users: {
      both: { password: { mysql_native: nativeVerifier(PASSWORD), caching_sha2: cachingSha2Verifier(PASSWORD) } },
      native: { password: { mysql_native: nativeVerifier(PASSWORD) } },
      sha2: { password: { caching_sha2: cachingSha2Verifier(PASSWORD) } },
      limited: { password: { mysql_native: nativeVerifier(PASSWORD) }, max_connections: 1 },
      ...over.extraUsers,
    },
  });
}

export interface Endpoint {
  readonly gate: TestGate;
  readonly listener: MysqlListener;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts a listener in front of the real MariaDB with a TestGate. */
export async function startEndpoint(opts: {
  policy?: Policy; deny?: TestGateOptions['deny']; allowIps?: string[]; listener?: Partial<Listener>; tls?: boolean; gate?: Gate;
} = {}): Promise<Endpoint> {
  const policy = opts.policy ?? testPolicy();
  const gate = new TestGate({ policy, deny: opts.deny, allowIps: opts.allowIps });
  const listenerCfg: Listener = {
    protocol: 'mysql', listen: '127.0.0.1:0', instance: 'db1', require_tls: false, login_timeout_ms: 10_000, ...opts.listener,
  };
  const listener = await startMysqlListener({
    gate: opts.gate ?? gate, listener: listenerCfg, instance: 'db1', tls: opts.tls === false ? undefined : testCertificate(),
  });
  return { gate, listener, port: listener.address().port, close: () => listener.close() };
}

/** A mysql2 connection through the endpoint. */
export function connect(port: number, opts: mysql.ConnectionOptions = {}): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: '127.0.0.1', port, user: 'both', password: PASSWORD, multipleStatements: true, dateStrings: true,
    supportBigNumbers: true, bigNumberStrings: true, ...opts,
  });
}
