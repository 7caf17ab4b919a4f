/**
 * Shared setup for the PostgreSQL endpoint tests: a TestGate policy with
 * users for each login method, a temp database, and sqlgate's listener in
 * front of the real PostgreSQL.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { policySchema, type Listener, type Policy } from '../../../rules/policy-schema.js';
import { newCertificate } from '../../helpers/certs.js';
import { TestGate, type TestGateOptions } from '../../helpers/test-gate.js';
import { pgUrl, serverInfo } from '../../helpers/db.js';
import { startPgListener, type PgListenerHandle } from '../../../proxy/postgres/listener.js';
import { pgMd5Verifier, scramVerifier } from '../../../governance/auth/verifiers.js';
import type { Gate } from '../../../governance/gate.js';

export const PASSWORD = 'correct horse';

/** A self-signed certificate for the listener, as files (made once per process). */
let certCache: { cert: string; key: string } | undefined;
export function testCert(): { cert: string; key: string } {
  if (!certCache) {
    const c = newCertificate();
    certCache = { cert: c.certFile, key: c.keyFile };
  }
  return certCache;
}

export function testPolicy(database: string, extra: Partial<Record<string, unknown>> = {}): Policy {
  const up = serverInfo(pgUrl());
  return policySchema.parse({
    version: 1,
    instances: { pg1: { protocol: 'postgres', host: up.host, port: up.port, user: up.user, database } },
    users: {
      alice: { password: { scram_sha_256: scramVerifier(PASSWORD) } },
      bob: { password: { md5: pgMd5Verifier(PASSWORD, 'bob') } },
      carol: { password: { scram_sha_256: scramVerifier(PASSWORD) }, max_connections: 1 },
    },
    ...extra,
  });
}

export interface Endpoint {
  readonly gate: Gate;
  readonly handle: PgListenerHandle;
  readonly port: number;
  url(user: string, database: string, extra?: string): string;
  close(): Promise<void>;
}

let stateDir: string | undefined;

export async function startEndpoint(gate: Gate, listener: Partial<Listener> = {}): Promise<Endpoint> {
  const l: Listener = { protocol: 'postgres', listen: '127.0.0.1:0', instance: 'pg1', require_tls: false, login_timeout_ms: 10_000, ...listener };
  if (!stateDir) {
    const dir = mkdtempSync(join(tmpdir(), 'sqlgate-pgstate-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    stateDir = dir;
  }
  const handle = await startPgListener({ gate, listener: l, instance: 'pg1', stateDir });
  const port = handle.address().port;
  return {
    gate, handle, port,
    url: (user, database, extra = '') => `postgres://${user}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/${database}${extra}`,
    close: () => handle.close(),
  };
}

export function testGate(database: string, opts: Partial<TestGateOptions> = {}, policyExtra: Partial<Record<string, unknown>> = {}): TestGate {
  return new TestGate({
    policy: testPolicy(database, policyExtra),
    deny: [
      { pattern: /^\s*(update|delete)\b(?![\s\S]*\bwhere\b)/i, code: 'UNQUALIFIED_DML', rule: 'no-unqualified-dml', message: 'sqlgate: UPDATE/DELETE without WHERE is refused [rule no-unqualified-dml]' },
      { pattern: /\bsecret\b/i, code: 'COLUMN_ACCESS_DENIED', rule: 'column-acl', message: 'sqlgate: column secret is not granted [rule column-acl]' },
    ],
    ...opts,
  });
}

/** A pg client through sqlgate. */
export async function pgThrough(url: string, extra: pg.ClientConfig = {}): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, ...extra });
  await c.connect();
  return c;
}

/**
 * Runs psql (asynchronously: the listener under test lives in this process).
 * Resolves to {status, stdout, stderr}.
 */
export function psqlResult(conninfo: string, args: string[], input?: string): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-At', conninfo, ...args], {
      encoding: 'utf8', env: { ...process.env, PGCONNECT_TIMEOUT: '10' }, maxBuffer: 256 * 1024 * 1024,
    }, (err, stdout, stderr) => {
      resolve({ status: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end(input ?? '');
  });
}

export function writeTemp(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sqlgate-pgtest-'));
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}
