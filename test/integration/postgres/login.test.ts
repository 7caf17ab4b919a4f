import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createPgDatabase, type TempDatabase } from '../../helpers/db.js';
import { TestGate } from '../../helpers/test-gate.js';
import { PASSWORD, pgThrough, psqlResult, startEndpoint, testCert, testGate, testPolicy, type Endpoint } from './setup.js';

let db: TempDatabase;
let ep: Endpoint;
let gate: TestGate;

before(async () => {
  db = await createPgDatabase('pglogin');
  gate = testGate(db.name);
  ep = await startEndpoint(gate, { tls: testCert() });
});
after(async () => {
  await ep?.close();
  await db?.drop();
});

const conn = (e: Endpoint, user: string, sslmode: string, password = PASSWORD) =>
  `postgresql://${user}:${encodeURIComponent(password)}@127.0.0.1:${e.port}/${db.name}?sslmode=${sslmode}`;

test('SCRAM-SHA-256 login with pg and with psql, with and without TLS', async () => {
  const c = await pgThrough(ep.url('alice', db.name));
  assert.equal((await c.query('SELECT current_database() AS d')).rows[0].d, db.name);
  await c.end();
  const t = await pgThrough(ep.url('alice', db.name), { ssl: { rejectUnauthorized: false } });
  assert.equal((await t.query('SELECT 1 AS one')).rows[0].one, 1);
  await t.end();
  for (const mode of ['disable', 'require']) {
    const r = await psqlResult(conn(ep, 'alice', mode), ['-c', 'SELECT 40 + 2']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '42');
  }
  // libpq with sslmode=require really negotiated TLS: the login audit says so.
  const logins = gate.events.filter((e) => e.type === 'login' && e.user === 'alice' && e.decision === 'allowed');
  assert.ok(logins.some((e) => e.detail?.tls === true) && logins.some((e) => e.detail?.tls === false));
});

test('md5 login with pg and with psql', async () => {
  const c = await pgThrough(ep.url('bob', db.name));
  assert.equal((await c.query('SELECT 7 AS n')).rows[0].n, 7);
  await c.end();
  const r = await psqlResult(conn(ep, 'bob', 'require'), ['-c', 'SELECT 1']);
  assert.equal(r.status, 0, r.stderr);
});

test('wrong password and unknown user fail with 28P01', async () => {
  for (const user of ['alice', 'bob', 'nobody']) {
    await assert.rejects(pgThrough(`postgres://${user}:wrong@127.0.0.1:${ep.port}/${db.name}`), (e: { code?: string }) => e.code === '28P01', user);
  }
  const r = await psqlResult(conn(ep, 'alice', 'disable', 'wrong'), ['-c', 'SELECT 1']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /password authentication failed/);
  assert.ok(gate.events.some((e) => e.type === 'login' && e.user === 'nobody' && e.decision === 'refused'));
});

test('cleartext password only over TLS', async () => {
  const e2 = await startEndpoint(gate, { tls: testCert(), auth_method: 'password' });
  try {
    const plain = await psqlResult(conn(e2, 'alice', 'disable'), ['-c', 'SELECT 1']);
    assert.notEqual(plain.status, 0);
    assert.match(plain.stderr, /requires TLS/);
    const ok = await psqlResult(conn(e2, 'bob', 'require'), ['-c', 'SELECT 5']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), '5');
    const c = await pgThrough(e2.url('alice', db.name), { ssl: { rejectUnauthorized: false } });
    await c.end();
    const bad = await psqlResult(conn(e2, 'alice', 'require', 'nope'), ['-c', 'SELECT 1']);
    assert.match(bad.stderr, /password authentication failed/);
  } finally {
    await e2.close();
  }
});

test('require_tls refuses plain connections', async () => {
  const e2 = await startEndpoint(gate, { tls: testCert(), require_tls: true });
  try {
    assert.match((await psqlResult(conn(e2, 'alice', 'disable'), ['-c', 'SELECT 1'])).stderr, /requires TLS/);
    assert.equal((await psqlResult(conn(e2, 'alice', 'require'), ['-c', 'SELECT 1'])).status, 0);
  } finally {
    await e2.close();
  }
});

test('IP not on the allow list: FATAL 28000 before authentication, audited', async () => {
  const g = new TestGate({ policy: testPolicy(db.name), allowIps: ['10.9.9.9'] });
  const e2 = await startEndpoint(g);
  try {
    await assert.rejects(pgThrough(e2.url('alice', db.name)), (e: { code?: string }) => e.code === '28000');
    for (const mode of ['disable', 'prefer', 'require']) {
      const r = await psqlResult(conn(e2, 'alice', mode), ['-c', 'SELECT 1']);
      assert.match(r.stderr, /FATAL: {2}sqlgate: host '127.0.0.1' is not allowed to connect \[rule ip-allow-list\]/, mode);
    }
    const refused = g.events.filter((e) => e.type === 'login' && e.decision === 'refused');
    assert.ok(refused.length >= 4, 'every attempt audited (libpq retries without TLS under prefer)');
    assert.ok(!g.events.some((e) => e.type === 'login' && e.decision === 'allowed'));
    assert.equal(refused[0].error?.code, '28000');
  } finally {
    await e2.close();
  }
});

test('per-user max_connections', async () => {
  const first = await pgThrough(ep.url('carol', db.name));
  try {
    await assert.rejects(pgThrough(ep.url('carol', db.name)), (e: { code?: string }) => e.code === '53300');
  } finally {
    await first.end();
  }
  await new Promise((r) => setTimeout(r, 100));
  const again = await pgThrough(ep.url('carol', db.name));
  await again.end();
});

test('upstream refusal (unknown database) is relayed as FATAL', async () => {
  await assert.rejects(pgThrough(ep.url('alice', db.name + '_missing')), (e: { code?: string }) => e.code === '3D000');
});

test('unsupported startup settings are refused', async () => {
  const r = await psqlResult(`${conn(ep, 'alice', 'disable')}&options=-c%20standard_conforming_strings%3Doff`, ['-c', 'SELECT 1']);
  assert.match(r.stderr, /not supported/);
  const ok = await psqlResult(`${conn(ep, 'alice', 'disable')}&options=-c%20search_path%3Dpublic`, ['-c', 'SELECT 1']);
  assert.equal(ok.status, 0, ok.stderr);
});

function rawExchange(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    s.on('data', (d) => got.push(d));
    s.on('close', () => resolve(Buffer.concat(got)));
    s.on('error', () => undefined);
    s.write(bytes);
    setTimeout(() => s.destroy(), 3000).unref();
  });
}

test('PROXY header from an untrusted peer is refused (v1 and v2)', async () => {
  for (const h of [Buffer.from('PROXY TCP4 10.1.2.3 10.0.0.1 5555 6432\r\n'), proxyV2('10.1.2.3', 5555)]) {
    const out = await rawExchange(ep.port, h);
    assert.equal(out[0], 0x45, 'ErrorResponse');
    assert.match(out.toString('latin1'), /untrusted/);
  }
  assert.ok(gate.events.some((e) => e.type === 'login' && e.decision === 'refused' && /untrusted/.test(e.error?.message ?? '')));
});

function proxyV2(src: string, srcPort: number): Buffer {
  const b = Buffer.alloc(28);
  Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]).copy(b);
  b[12] = 0x21; // version 2, PROXY
  b[13] = 0x11; // TCP over IPv4
  b.writeUInt16BE(12, 14);
  src.split('.').forEach((o, i) => { b[16 + i] = Number(o); });
  [10, 0, 0, 1].forEach((o, i) => { b[20 + i] = o; });
  b.writeUInt16BE(srcPort, 24);
  b.writeUInt16BE(6432, 26);
  return b;
}

test('PROXY header (v1 and v2) from a trusted proxy sets the client address', async () => {
  const g = new TestGate({ policy: testPolicy(db.name), allowIps: ['10.1.2.3'] });
  const e2 = await startEndpoint(g, { trusted_proxies: '127.0.0.1' });
  try {
    const { serialize } = await import('pg-protocol');
    const out = await rawExchange(e2.port, Buffer.concat([
      Buffer.from('PROXY TCP4 10.1.2.3 10.0.0.1 5555 6432\r\n'), serialize.startup({ user: 'bob', database: db.name }),
    ]));
    assert.equal(out[0], 0x52, 'an authentication request: the proxied address passed the allow list');
    const v2 = await rawExchange(e2.port, Buffer.concat([proxyV2('10.1.2.3', 5555), serialize.startup({ user: 'bob', database: db.name })]));
    assert.equal(v2[0], 0x52, 'v2 header honoured');
    const other = await rawExchange(e2.port, Buffer.concat([proxyV2('10.7.7.7', 5555), serialize.startup({ user: 'bob', database: db.name })]));
    assert.equal(other[0], 0x45, 'the proxied address is the one checked');
    const direct = await rawExchange(e2.port, serialize.startup({ user: 'bob', database: db.name }));
    assert.equal(direct[0], 0x45, 'without the header, 127.0.0.1 is not allowed');
  } finally {
    await e2.close();
  }
});
