/**
 * The upstream side: sqlgate logs in with the instance's service account,
 * over TLS when configured, with mysql_native_password or
 * caching_sha2_password. MariaDB has no caching_sha2 server plugin, so a
 * second sqlgate listener (which speaks it) serves as the upstream of the
 * first: client → sqlgate B → sqlgate A → MariaDB.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { policySchema } from '../../../rules/policy-schema.js';
import { PASSWORD, connect, startEndpoint, testCertificate, testPolicy, type Endpoint } from './helpers.js';
import { newCertificate } from '../../helpers/certs.js';
import { until } from '../../helpers/until.js';
import { UpstreamPool } from '../../../proxy/mysql/pool.js';
import type { UpstreamTarget } from '../../../governance/gate.js';

let a: Endpoint;
before(async () => { a = await startEndpoint(); });
after(async () => { await a.close(); });

type TlsSetting = boolean | Record<string, string>;

function chainPolicy(user: string, tls: TlsSetting, passwordEnv = 'SQLGATE_TEST_CHAIN_PW', port = a.port) {
  process.env.SQLGATE_TEST_CHAIN_PW = PASSWORD;
  process.env.SQLGATE_TEST_CHAIN_BAD = 'wrong';
  const base = testPolicy();
  return policySchema.parse({
    ...base,
    instances: { db1: { protocol: 'mysql', host: '127.0.0.1', port, user, password_env: passwordEnv, tls } },
  });
}

/** A's certificate is self-signed: trusting it is naming its own file as the CA. */
const trustA = (): Record<string, string> => ({ ca: testCertificate().certFile });

for (const [user, tls] of [['sha2', true], ['sha2', false], ['native', true], ['both', false]] as const) {
  test(`upstream login as '${user}' (${user === 'sha2' ? 'caching_sha2 after an auth switch' : 'mysql_native_password'}), TLS ${tls ? 'on' : 'off'}`, async () => {
    const b = await startEndpoint({ policy: chainPolicy(user, tls ? trustA() : false) });
    try {
      const c = await connect(b.port);
      const [rows] = await c.query('SELECT 7 * 6 AS n, @@version AS v');
      const row = (rows as { n: number; v: string }[])[0];
      assert.equal(Number(row.n), 42);
      assert.match(row.v, /MariaDB/);
      await c.end();
      const upstreamLogin = a.gate.events.filter((e) => e.type === 'login' && e.user === user).at(-1);
      assert.equal(upstreamLogin?.decision, 'allowed');
      assert.equal(upstreamLogin?.detail?.tls, tls, 'the service account connection used TLS as configured');
      // the client's statement reached A as a statement of the service account
      assert.ok(a.gate.events.some((e) => e.type === 'statement' && e.user === user && e.sql === 'SELECT 7 * 6 AS n, @@version AS v'));
    } finally {
      await b.close();
    }
  });
}

test('a wrong service password or an unreachable upstream: the client gets ERR 2003 at login, the listener lives on', async () => {
  const b = await startEndpoint({ policy: chainPolicy('both', false, 'SQLGATE_TEST_CHAIN_BAD') });
  try {
    await assert.rejects(connect(b.port), (e: { errno: number; message: string }) => e.errno === 2003 && /upstream: Access denied/.test(e.message));
  } finally {
    await b.close();
  }
  const dead = createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const port = (dead.address() as { port: number }).port;
  await new Promise<void>((r) => dead.close(() => r()));
  const policy = policySchema.parse({ ...testPolicy(), instances: { db1: { protocol: 'mysql', host: '127.0.0.1', port, user: 'root' } } });
  const c = await startEndpoint({ policy });
  try {
    await assert.rejects(connect(c.port), (e: { errno: number }) => e.errno === 2003);
    const ev = c.gate.events.filter((e) => e.type === 'login');
    assert.equal(ev.at(-1)?.decision, 'refused');
    assert.equal(ev.at(-1)?.error?.code, 'UPSTREAM_UNAVAILABLE');
  } finally {
    await c.close();
  }
});

/** Logs in through a sqlgate B whose instance is `port` with `tls`; the error if the login fails. */
async function loginThrough(tls: TlsSetting, port = a.port): Promise<{ errno: number; message: string } | undefined> {
  const b = await startEndpoint({ policy: chainPolicy('sha2', tls, 'SQLGATE_TEST_CHAIN_PW', port) });
  try {
    const c = await connect(b.port);
    await c.query('SELECT 1');
    await c.end();
    return undefined;
  } catch (e) {
    return e as { errno: number; message: string };
  } finally {
    await b.close();
  }
}

test('upstream TLS: a certificate from the configured CA, for the host or the servername, is accepted', async () => {
  const ca = testCertificate().certFile;
  assert.equal(await loginThrough({ ca }), undefined, 'host 127.0.0.1 is in the certificate');
  assert.equal(await loginThrough({ ca, servername: 'localhost' }), undefined);
  assert.equal(await loginThrough({ ca, verify: 'ca', servername: 'db.example.com' }), undefined, 'verify: ca checks the chain, not the name');
  assert.equal(await loginThrough({ verify: 'none' }), undefined, 'verify: none still encrypts');
  const logins = a.gate.events.filter((e) => e.type === 'login' && e.user === 'sha2').slice(-4);
  assert.deepEqual(logins.map((e) => [e.decision, e.detail?.tls]), Array(4).fill(['allowed', true]));
});

test('upstream TLS: an untrusted or misnamed certificate fails the login with 2003, says why, and A sees no login', async () => {
  const ca = testCertificate().certFile;
  const other = newCertificate();
  const cases: [string, TlsSetting, RegExp][] = [
    ['tls: true trusts public CAs only', true, /certificate was not accepted.*self.signed/i],
    ['a name the certificate does not carry', { ca, servername: 'db.example.com' }, /certificate was not accepted.*db\.example\.com/i],
    ['a CA that did not sign it', { ca: other.certFile }, /certificate was not accepted/],
    ['a CA file that is missing', { ca: '/nonexistent/ca.pem' }, /CA file \/nonexistent\/ca\.pem is unusable: cannot read it \(ENOENT\)/],
  ];
  for (const [what, tls, message] of cases) {
    const before = a.gate.events.filter((e) => e.type === 'login').length;
    const err = await loginThrough(tls);
    assert.ok(err, what);
    assert.equal(err.errno, 2003, what);
    assert.match(err.message, message, what);
    assert.equal(a.gate.events.filter((e) => e.type === 'login').length, before, `${what}: no login reached the upstream`);
  }
});

test('upstream TLS: a server in the middle with a certificate for the right name from another CA never sees the login', async () => {
  // The attacker is a MySQL-speaking server whose certificate names 127.0.0.1 but is not from the trusted CA.
  const attacker = newCertificate();
  const mitm = await startEndpoint({ tls: { cert: attacker.cert, key: attacker.key } });
  try {
    const err = await loginThrough(trustA(), mitm.port);
    assert.match(err?.message ?? '', /certificate was not accepted/);
    assert.equal(mitm.gate.events.filter((e) => e.type === 'login').length, 0, 'no handshake response reached the attacker');
    // Against an instance that verifies nothing, the same attacker gets the login (and a full
    // authentication would hand it the password): the check above is what kept it out.
    assert.equal(await loginThrough({ verify: 'none' }, mitm.port), undefined);
    const logins = mitm.gate.events.filter((e) => e.type === 'login');
    assert.ok(logins.length > 0 && logins.every((e) => e.user === 'sha2'), 'the service account logged in to the attacker');
  } finally {
    await mitm.close();
  }
});

test('pool: after the instance\'s settings change (a reload), idle connections made under the old ones are not handed out', async () => {
  process.env.SQLGATE_TEST_CHAIN_PW = PASSWORD;
  let target: UpstreamTarget = { instance: 'db1', protocol: 'mysql', host: '127.0.0.1', port: a.port, user: 'native', password: PASSWORD, database: undefined, tls: undefined };
  const pool = new UpstreamPool(() => target);
  const profile = { capabilities: 0, collation: 45 };
  try {
    pool.release(await pool.acquire(profile, undefined));
    await until('the connection is reset and kept', () => pool.size === 1);
    const same = await pool.acquire(profile, undefined);
    assert.equal(pool.reused, 1, 'same settings: reused');
    pool.release(same);
    await until('kept again', () => pool.size === 1);
    for (const change of [{ user: 'both' }, { password: `${PASSWORD}-rotated` }, { tls: { ca: testCertificate().certFile, verify: 'full' as const, servername: undefined } }]) {
      target = { ...target, ...change };
      const conn = await pool.acquire(profile, undefined).catch((e: Error) => e);
      assert.equal(pool.reused, 1, `${JSON.stringify(change)}: not reused`);
      if (conn instanceof Error) continue; // the rotated password is wrong for A: a fresh login was tried
      assert.equal(conn.target, target, 'logged in with the new settings');
      pool.release(conn);
      await until('kept', () => pool.size >= 1);
    }
  } finally {
    pool.close();
  }
});
