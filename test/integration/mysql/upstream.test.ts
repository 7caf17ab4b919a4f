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
import { PASSWORD, connect, startEndpoint, testPolicy, type Endpoint } from './helpers.js';

let a: Endpoint;
before(async () => { a = await startEndpoint(); });
after(async () => { await a.close(); });

function chainPolicy(user: string, tls: boolean, passwordEnv = 'SQLGATE_TEST_CHAIN_PW') {
  process.env.SQLGATE_TEST_CHAIN_PW = PASSWORD;
  process.env.SQLGATE_TEST_CHAIN_BAD = 'wrong';
  const base = testPolicy();
  return policySchema.parse({
    ...base,
    instances: { db1: { protocol: 'mysql', host: '127.0.0.1', port: a.port, user, password_env: passwordEnv, tls } },
  });
}

for (const [user, tls] of [['sha2', true], ['sha2', false], ['native', true], ['both', false]] as const) {
  test(`upstream login as '${user}' (${user === 'sha2' ? 'caching_sha2 after an auth switch' : 'mysql_native_password'}), TLS ${tls ? 'on' : 'off'}`, async () => {
    const b = await startEndpoint({ policy: chainPolicy(user, tls) });
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
