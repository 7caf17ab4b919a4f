import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, chmodSync, mkdtempSync, rmSync, writeFileSync, appendFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../../proxy/embedded-servers.js';
import { policySchema } from '../../../rules/policy-schema.js';
import { scramVerifier } from '../../../governance/auth/verifiers.js';
import { TestGate } from '../../helpers/test-gate.js';
import { newCertificate } from '../../helpers/certs.js';
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
  const crt = run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/data/server.key`, '-out', `${dir}/data/server.crt`, '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
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

async function endpointFor(svcUser: string, password: string | undefined, tls: boolean | Record<string, string>, upstreamPort = port): Promise<Endpoint> {
  const env = `SQLGATE_TEST_PW_${svcUser.toUpperCase()}`;
  if (password !== undefined) process.env[env] = password;
  const policy = policySchema.parse({
    version: 1,
    instances: { pg1: { protocol: 'postgres', host: '127.0.0.1', port: upstreamPort, user: svcUser, password_env: env, database: 'postgres', tls } },
    users: { alice: { password: { scram_sha_256: scramVerifier(PASSWORD) } } },
  });
  return startEndpoint(new TestGate({ policy }));
}

for (const [svc, pw, tls] of [['svc_scram', 'scram-pw', false], ['svc_md5', 'md5-pw', false], ['svc_plain', 'plain-pw', true], ['svc_tls', 'tls-pw', true]] as const) {
  test(`service account login: ${svc}${tls ? ' over TLS' : ''}`, async () => {
    // The server's certificate is self-signed: trusting it is trusting its own file as the CA.
    const ep = await endpointFor(svc, pw, tls ? { ca: `${dir}/data/server.crt` } : false);
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

async function sslOfServiceSession(tls: boolean | Record<string, string>): Promise<boolean> {
  const ep = await endpointFor('svc_tls', 'tls-pw', tls);
  try {
    const c = await pgThrough(ep.url('alice', 'postgres'));
    const r = await c.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    await c.end();
    return r.rows[0].ssl;
  } finally {
    await ep.close();
  }
}

test('upstream TLS: a certificate from the configured CA, for the host or the servername, is accepted', async () => {
  const ca = `${dir}/data/server.crt`;
  assert.equal(await sslOfServiceSession({ ca }), true, 'host 127.0.0.1 is in the certificate');
  assert.equal(await sslOfServiceSession({ ca, servername: 'localhost' }), true);
  assert.equal(await sslOfServiceSession({ ca, verify: 'ca', servername: 'db.example.com' }), true, 'verify: ca checks the chain, not the name');
  assert.equal(await sslOfServiceSession({ verify: 'none' }), true, 'verify: none still encrypts');
});

test('upstream TLS: an untrusted or misnamed certificate fails the login with 08006 and says why', async () => {
  const ca = `${dir}/data/server.crt`;
  const other = newCertificate();
  const cases: [string, boolean | Record<string, string>, RegExp][] = [
    ['tls: true trusts public CAs only', true, /certificate was not accepted.*self.signed/i],
    ['a name the certificate does not carry', { ca, servername: 'db.example.com' }, /certificate was not accepted.*db\.example\.com/i],
    ['a CA that did not sign it', { ca: other.certFile }, /certificate was not accepted/],
    ['a CA file that is missing', { ca: join(dir, 'no-such-ca.pem') }, /CA file .*no-such-ca\.pem is unusable: cannot read it \(ENOENT\)/],
    ['a CA file with no certificate in it', { ca: `${dir}/pw` }, /holds no PEM certificate/],
  ];
  for (const [what, tls, message] of cases) {
    const ep = await endpointFor('svc_tls', 'tls-pw', tls);
    try {
      await assert.rejects(pgThrough(ep.url('alice', 'postgres')), (e: { code?: string; message: string }) => {
        assert.equal(e.code, '08006', what);
        assert.match(e.message, message, what);
        assert.doesNotMatch(e.message, /tls-pw/);
        return true;
      });
    } finally {
      await ep.close();
    }
  }
});

test('upstream TLS: a server in the middle with a certificate for the right name from another CA never sees the login', async () => {
  // The attacker answers the SSLRequest like PostgreSQL and presents a certificate naming 127.0.0.1.
  const attacker = newCertificate();
  const received: Buffer[] = [];
  const mitm = createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', () => {
      s.write('S');
      const t = new TLSSocket(s, { isServer: true, cert: attacker.cert, key: attacker.key });
      t.on('error', () => undefined);
      t.on('data', (d: Buffer) => { received.push(d); t.destroy(); });
    });
  });
  await new Promise<void>((r) => mitm.listen(0, '127.0.0.1', r));
  const mitmPort = (mitm.address() as AddressInfo).port;
  try {
    const ep = await endpointFor('svc_tls', 'tls-pw', { ca: `${dir}/data/server.crt` }, mitmPort);
    try {
      await assert.rejects(pgThrough(ep.url('alice', 'postgres')), /certificate was not accepted/);
    } finally {
      await ep.close();
    }
    assert.equal(received.length, 0, 'nothing was sent inside the attacker\'s TLS');
    // The same attacker against an instance that verifies nothing gets the startup message:
    // the check above is what kept it out.
    const blind = await endpointFor('svc_tls', 'tls-pw', { verify: 'none' }, mitmPort);
    try {
      await assert.rejects(pgThrough(blind.url('alice', 'postgres')));
    } finally {
      await blind.close();
    }
    assert.match(Buffer.concat(received).toString('latin1'), /svc_tls/);
  } finally {
    mitm.close();
  }
});
