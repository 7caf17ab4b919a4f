/**
 * Connection phase against the real MariaDB through sqlgate: both password
 * plugins with and without TLS (mysql2 and the mariadb CLI), wrong password,
 * IP refused, PROXY headers, login timeout, per-user connection limits,
 * COM_CHANGE_USER.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import mysql from 'mysql2/promise';
import { PASSWORD, connect, mariadbCli, rawConnect, startEndpoint, testPolicy, type Endpoint } from './helpers.js';
import { Cap } from '../../../wire/mysql/constants.js';
import { parseHandshakeV10 } from '../../../wire/mysql/handshake.js';
import { parseErr } from '../../../wire/mysql/messages.js';

let ep: Endpoint;
before(async () => { ep = await startEndpoint(); });
after(async () => { await ep.close(); });

const logins = () => ep.gate.events.filter((e) => e.type === 'login');

test('mysql2 logs in with each user (native, caching_sha2 via auth switch, both) with and without TLS', async () => {
  for (const user of ['both', 'native', 'sha2']) {
    for (const ssl of [false, true]) {
      const before = logins().length;
      const c = await connect(ep.port, { user, ssl: ssl ? { rejectUnauthorized: false } : undefined });
      const [rows] = await c.query('SELECT 41 + 1 AS n');
      assert.equal(Number((rows as { n: number }[])[0].n), 42, `${user} tls=${ssl}`);
      await c.end();
      const ev = logins().slice(before);
      assert.equal(ev.length, 1);
      assert.equal(ev[0].decision, 'allowed');
      assert.equal(ev[0].user, user);
      assert.equal(ev[0].detail?.tls, ssl, `${user} tls=${ssl}`);
    }
  }
});

test('mariadb CLI: both plugins x TLS on/off x every user (fast path, auth switch, full auth over TLS and by RSA)', async () => {
  for (const user of ['both', 'native', 'sha2']) {
    for (const tls of [false, true]) {
      for (const plugin of ['mysql_native_password', 'caching_sha2_password']) {
        const before = logins().length;
        const args = [`-u${user}`, `-p${PASSWORD}`, `--default-auth=${plugin}`, ...(tls ? ['--ssl', '--disable-ssl-verify-server-cert'] : ['--skip-ssl']), '-e', 'SELECT 6*7'];
        const r = await mariadbCli(ep.port, args);
        assert.equal(r.stderr, '', `${user} ${plugin} tls=${tls}`);
        assert.equal(r.stdout.trim(), '42');
        const ev = logins().slice(before);
        assert.equal(ev[0]?.decision, 'allowed');
        assert.equal(ev[0]?.detail?.tls, tls);
      }
    }
  }
});

test('wrong password or unknown user: errno 1045, SQLSTATE 28P01, audited', async () => {
  for (const [user, password] of [['both', 'wrong'], ['native', ''], ['nobody', PASSWORD], ['sha2', PASSWORD + 'x']]) {
    const before = logins().length;
    await assert.rejects(connect(ep.port, { user, password }), (e: { errno: number; sqlState: string; message: string }) => {
      assert.equal(e.errno, 1045);
      assert.equal(e.sqlState, '28P01');
      assert.match(e.message, new RegExp(`Access denied for user '${user}'`));
      return true;
    });
    const ev = logins().slice(before);
    assert.equal(ev.length, 1);
    assert.equal(ev[0].decision, 'refused');
    assert.equal(ev[0].error?.code, 'AUTH_FAILED');
    assert.ok(!JSON.stringify(ev[0]).includes(PASSWORD), 'no password in the audit');
  }
  const r = await mariadbCli(ep.port, ['-usha2', '-pbad', '--default-auth=caching_sha2_password', '--skip-ssl', '-e', 'SELECT 1']);
  assert.match(r.stderr, /ERROR 1045 \(28P01\)/);
});

test('an unknown database at login gets the server\'s own error (1049), audited', async () => {
  await assert.rejects(connect(ep.port, { database: 'sg_no_such_database_xyz' }), (e: { errno: number; sqlState: string }) => e.errno === 1049 && e.sqlState === '42000');
  const ev = logins().at(-1);
  assert.equal(ev?.decision, 'refused');
  assert.equal(ev?.error?.code, 'ER_1049');
});

test('require_tls refuses a plaintext login and accepts a TLS one', async () => {
  const e2 = await startEndpoint({ listener: { require_tls: true } });
  try {
    await assert.rejects(connect(e2.port), /must use TLS/);
    const c = await connect(e2.port, { ssl: { rejectUnauthorized: false } });
    await c.query('SELECT 1');
    await c.end();
  } finally {
    await e2.close();
  }
});

test('client IP not on the allow list: errno 1130 before any greeting, audited', async () => {
  const e2 = await startEndpoint({ allowIps: ['10.1.2.3'] });
  try {
    await assert.rejects(connect(e2.port), (e: { errno: number; message: string }) => e.errno === 1130 && /not allowed/.test(e.message));
    const raw = await rawConnect(e2.port);
    const p = await raw.packet();
    assert.equal(p?.seq, 0);
    assert.equal(parseErr(p!.payload).errno, 1130, 'the first packet is the ERR, not a greeting');
    await raw.closed();
    const ev = e2.gate.events.filter((e) => e.type === 'login');
    assert.equal(ev.length, 2);
    assert.ok(ev.every((e) => e.decision === 'refused' && e.error?.code === 'IP_NOT_ALLOWED' && e.clientIp === '127.0.0.1'));
  } finally {
    await e2.close();
  }
});

function proxyStream(port: number, header: Buffer): Promise<import('node:net').Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port }, () => { s.write(header); resolve(s); });
    s.once('error', reject);
  });
}

const v2Header = (ip: number[], port: number) => Buffer.concat([
  Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1'), Buffer.from([0x21, 0x11, 0, 12]), Buffer.from(ip), Buffer.from([127, 0, 0, 1]),
  Buffer.from([port >> 8, port & 0xff, 0x0c, 0xea]),
]);

test('PROXY header from a trusted proxy: the address it carries is the client address (v1 and v2)', async () => {
  const e2 = await startEndpoint({ allowIps: ['10.1.2.3', '10.7.7.7'], listener: { trusted_proxies: '127.0.0.1' } });
  try {
    for (const [header, ip] of [[Buffer.from('PROXY TCP4 10.1.2.3 127.0.0.1 5555 3306\r\n'), '10.1.2.3'], [v2Header([10, 7, 7, 7], 4444), '10.7.7.7']] as const) {
      const stream = await proxyStream(e2.port, header);
      const c = await mysql.createConnection({ stream, user: 'both', password: PASSWORD });
      await c.query('SELECT 1');
      await c.end();
      const ev = e2.gate.events.filter((e) => e.type === 'login' && e.decision === 'allowed').at(-1);
      assert.equal(ev?.clientIp, ip);
      assert.equal(ev?.detail?.peer, '127.0.0.1');
    }
    // the header's address is still checked against the allow list
    const stream = await proxyStream(e2.port, Buffer.from('PROXY TCP4 10.9.9.9 127.0.0.1 5555 3306\r\n'));
    await assert.rejects(mysql.createConnection({ stream, user: 'both', password: PASSWORD }), (e: { errno: number }) => e.errno === 1130);
    // a trusted peer that sends garbage instead of a header is refused
    const raw = await rawConnect(e2.port, Buffer.from('GET / HTTP/1.0\r\n\r\n'));
    await raw.closed();
  } finally {
    await e2.close();
  }
});

test('PROXY header from an untrusted address is refused (and cannot spoof an allowed address)', async () => {
  const e2 = await startEndpoint({ allowIps: ['127.0.0.1'], listener: { trusted_proxies: ['10.9.9.9'] } });
  try {
    for (const header of [Buffer.from('PROXY TCP4 10.1.2.3 127.0.0.1 5555 3306\r\n'), v2Header([10, 1, 2, 3], 1)]) {
      const raw = await rawConnect(e2.port, header);
      const first = await raw.packet();
      // either the greeting came first and then the ERR, or just the ERR
      const err = first!.payload[0] === 10 ? await raw.packet() : first;
      const e = parseErr(err!.payload);
      assert.equal(e.errno, 1156);
      assert.match(e.message, /PROXY protocol header from 127\.0\.0\.1, which is not a trusted proxy/);
      await raw.closed();
    }
    const ev = e2.gate.events.filter((e) => e.type === 'login');
    assert.equal(ev.length, 2);
    assert.ok(ev.every((e) => e.decision === 'refused' && e.clientIp === '127.0.0.1'));
    const c = await connect(e2.port);
    await c.end();
  } finally {
    await e2.close();
  }
});

test('login timeout: a client that says nothing gets ERR 1159 and is closed', async () => {
  const e2 = await startEndpoint({ listener: { login_timeout_ms: 300 } });
  try {
    const raw = await rawConnect(e2.port);
    const greeting = parseHandshakeV10((await raw.packet())!.payload);
    assert.equal(greeting.capabilities & Cap.COMPRESS, 0, 'compression never offered');
    assert.ok(greeting.capabilities & Cap.SSL);
    assert.ok(greeting.capabilities & Cap.DEPRECATE_EOF, 'MariaDB has DEPRECATE_EOF, so it is offered');
    const err = await raw.packet();
    assert.equal(err?.seq, 1);
    assert.equal(parseErr(err!.payload).errno, 1159);
    await raw.closed();
    assert.equal(e2.gate.events.at(-1)?.error?.code, 'LOGIN_TIMEOUT');
  } finally {
    await e2.close();
  }
});

test('per-user max_connections: the second connection is refused with 1203', async () => {
  const first = await connect(ep.port, { user: 'limited' });
  try {
    await assert.rejects(connect(ep.port, { user: 'limited' }), (e: { errno: number }) => e.errno === 1203);
  } finally {
    await first.end();
  }
  await new Promise((r) => setTimeout(r, 50));
  const again = await connect(ep.port, { user: 'limited' });
  await again.end();
});

test('COM_CHANGE_USER and max_connections: a session counts for its current user only, never against itself', async () => {
  const c = await connect(ep.port, { user: 'limited' });
  let other: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    await c.changeUser({ user: 'limited', password: PASSWORD });
    await assert.rejects(connect(ep.port, { user: 'limited' }), (e: { errno: number }) => e.errno === 1203, 'still one session of limited');
    await c.changeUser({ user: 'native', password: PASSWORD });
    other = await connect(ep.port, { user: 'limited' });
    await assert.rejects(c.changeUser({ user: 'limited', password: PASSWORD }), (e: { errno: number }) => e.errno === 1203,
      'changing into a user at its limit is refused');
  } finally {
    await other?.end();
    await c.end().catch(() => undefined);
  }
});

test('COM_CHANGE_USER re-authenticates against sqlgate users; a wrong password ends the session', async () => {
  const c = await connect(ep.port);
  await c.query('SET @leak = 1');
  await c.changeUser({ user: 'native', password: PASSWORD });
  const [rows] = await c.query('SELECT @leak AS v');
  assert.equal((rows as { v: unknown }[])[0].v, null, 'the upstream session was reset');
  const ev = logins().at(-1);
  assert.equal(ev?.user, 'native');
  assert.equal(ev?.detail?.changeUser, true);
  await c.changeUser({ user: 'both', password: PASSWORD, charset: 'LATIN1_SWEDISH_CI' } as never);
  const [cs] = await c.query('SELECT @@character_set_client AS cs, @@collation_connection AS co');
  assert.deepEqual(cs, [{ cs: 'latin1', co: 'latin1_swedish_ci' }], 'the new character set reached the server');
  await assert.rejects(c.changeUser({ user: 'both', password: 'nope' }), (e: { errno: number }) => e.errno === 1045);
  await assert.rejects(c.query('SELECT 1'));
  c.destroy();
});

test('client character sets whose characters can end in a backslash are refused at login and at COM_CHANGE_USER', async () => {
  // sqlgate reads 'a<BF><5C>' as a string with an escaped quote; under GBK
  // the server reads <BF><5C> as one character and the quote as the end.
  for (const charset of ['GBK_CHINESE_CI', 'SJIS_JAPANESE_CI', 'BIG5_CHINESE_CI', 'CP932_JAPANESE_CI']) {
    await assert.rejects(connect(ep.port, { user: 'both', charset }), (e: { errno: number; message: string }) =>
      e.errno === 1235 && /can hide a quote/.test(e.message), charset);
  }
  const cli = await mariadbCli(ep.port, ['-u', 'both', `-p${PASSWORD}`, '--default-character-set=gbk', '-e', 'SELECT 1']);
  assert.notEqual(cli.code, 0);
  assert.match(cli.stderr, /client character set gbk can hide a quote/);
  // Character sets that cannot hide a backslash go on as before.
  for (const charset of ['UTF8MB4_GENERAL_CI', 'LATIN1_SWEDISH_CI', 'UJIS_JAPANESE_CI']) {
    const c = await connect(ep.port, { user: 'both', charset });
    await c.end();
  }
  const c = await connect(ep.port, { user: 'both' });
  c.on('error', () => undefined);
  await assert.rejects(c.changeUser({ user: 'both', password: PASSWORD, charset: 'GBK_CHINESE_CI' } as never), /can hide a quote/);
  c.destroy();
});

test('the test policy is valid', () => {
  assert.ok(testPolicy().users.both.password.mysql_native);
});

test('without a configured certificate the listener makes a self-signed one under its state directory', async () => {
  const { mkdtempSync, existsSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { startMysqlListener } = await import('../../../proxy/mysql/listener.js');
  const { TestGate } = await import('../../helpers/test-gate.js');
  const stateDir = mkdtempSync(join(tmpdir(), 'sqlgate-mysql-state-'));
  const gate = new TestGate({ policy: testPolicy() });
  const l = await startMysqlListener({ gate, instance: 'db1', stateDir, listener: { protocol: 'mysql', listen: '127.0.0.1:0', instance: 'db1', require_tls: true, login_timeout_ms: 5000 } });
  try {
    assert.ok(existsSync(join(stateDir, 'tls', 'cert.pem')));
    const c = await connect(l.address().port, { ssl: { rejectUnauthorized: false } });
    await c.query('SELECT 1');
    await c.end();
    assert.equal(gate.events.find((e) => e.type === 'login')?.detail?.tls, true);
  } finally {
    await l.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
});
