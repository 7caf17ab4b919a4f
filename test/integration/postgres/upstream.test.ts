import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, chmodSync, mkdtempSync, rmSync, writeFileSync, appendFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../../proxy/embedded-servers.js';
import { policySchema } from '../../../rules/policy-schema.js';
import { scramVerifier } from '../../../governance/auth/verifiers.js';
import { TestGate } from '../../helpers/test-gate.js';
import { PASSWORD, pgThrough, startEndpoint, type Endpoint } from './setup.js';

// The service-account side: a throw-away PostgreSQL that demands passwords
// (SCRAM, md5, cleartext) and offers TLS, unlike the trust-auth test server.
const BIN = '/usr/lib/postgresql/15/bin';
let dir: string;
let port: number;
const asRoot = process.getuid?.() === 0;
const run = (cmd: string, args: string[]) => asRoot
  ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' })
  : spawnSync(cmd, args, { encoding: 'utf8' });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sqlgate-pgup-'));
  port = await freePort();
  const pw = join(dir, 'pw');
  writeFileSync(pw, 'svc-secret\n');
  if (asRoot) {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout);
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout);
    chownSync(dir, uid, gid);
    chownSync(pw, uid, gid);
  }
  const init = run(`${BIN}/initdb`, ['-D', `${dir}/data`, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pw}`, '-E', 'UTF8', '--no-locale', '--no-sync']);
  assert.equal(init.status, 0, init.stderr);
  const crt = run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/data/server.key`, '-out', `${dir}/data/server.crt`, '-days', '1', '-subj', '/CN=localhost']);
  assert.equal(crt.status, 0, crt.stderr);
  chmodSync(`${dir}/data/server.key`, 0o600);
  const hba = readFileSync(`${dir}/data/pg_hba.conf`, 'utf8');
  writeFileSync(`${dir}/data/pg_hba.conf`, [
    'hostnossl all svc_tls 127.0.0.1/32 reject',
    'host all svc_md5 127.0.0.1/32 md5',
    'host all svc_plain 127.0.0.1/32 password',
    hba,
  ].join('\n'));
  appendFileSync(`${dir}/data/postgresql.conf`, "\nssl = on\n");
  const start = run(`${BIN}/pg_ctl`, ['-D', `${dir}/data`, '-l', `${dir}/pg.log`, '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, '-w', 'start']);
  assert.equal(start.status, 0, start.stderr);
  const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: 'svc-secret', database: 'postgres' });
  await admin.connect();
  await admin.query("CREATE ROLE svc_scram LOGIN PASSWORD 'scram-pw'");
  await admin.query("CREATE ROLE svc_tls LOGIN PASSWORD 'tls-pw'");
  await admin.query("CREATE ROLE svc_plain LOGIN PASSWORD 'plain-pw'");
  await admin.query("SET password_encryption = 'md5'");
  await admin.query("CREATE ROLE svc_md5 LOGIN PASSWORD 'md5-pw'");
  await admin.end();
});
after(() => {
  if (dir) {
    run(`${BIN}/pg_ctl`, ['-D', `${dir}/data`, '-m', 'immediate', 'stop']);
    rmSync(dir, { recursive: true, force: true });
  }
});

async function endpointFor(svcUser: string, password: string | undefined, tls: boolean): Promise<Endpoint> {
  const env = `SQLGATE_TEST_PW_${svcUser.toUpperCase()}`;
  if (password !== undefined) process.env[env] = password;
  const policy = policySchema.parse({
    version: 1,
    instances: { pg1: { protocol: 'postgres', host: '127.0.0.1', port, user: svcUser, password_env: env, database: 'postgres', tls } },
    users: { alice: { password: { scram_sha_256: scramVerifier(PASSWORD) } } },
  });
  return startEndpoint(new TestGate({ policy }));
}

for (const [svc, pw, tls] of [['svc_scram', 'scram-pw', false], ['svc_md5', 'md5-pw', false], ['svc_plain', 'plain-pw', true], ['svc_tls', 'tls-pw', true]] as const) {
  test(`service account login: ${svc}${tls ? ' over TLS' : ''}`, async () => {
    const ep = await endpointFor(svc, pw, tls);
    try {
      const c = await pgThrough(ep.url('alice', 'postgres'));
      const r = await c.query('SELECT current_user AS u, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl');
      assert.equal(r.rows[0].u, svc, 'the upstream sees the service account, not the client user');
      assert.equal(r.rows[0].ssl, tls);
      await c.end();
    } finally {
      await ep.close();
    }
  });
}

test('wrong or missing service password: the client gets the upstream FATAL, nothing leaks', async () => {
  const ep = await endpointFor('svc_scram', 'not-it', false);
  try {
    await assert.rejects(pgThrough(ep.url('alice', 'postgres')), (e: { code?: string; message: string }) => e.code === '28P01' && !/not-it/.test(e.message));
  } finally {
    await ep.close();
  }
  const ep2 = await endpointFor('svc_nopw', undefined, false);
  try {
    await assert.rejects(pgThrough(ep2.url('alice', 'postgres')), (e: { code?: string }) => e.code === '08006');
  } finally {
    await ep2.close();
  }
  const ep3 = await endpointFor('svc_tls', 'tls-pw', false);
  try {
    await assert.rejects(pgThrough(ep3.url('alice', 'postgres')), (e: { code?: string }) => e.code === '28000', 'hostnossl reject relayed');
  } finally {
    await ep3.close();
  }
});
