/**
 * Bad input on the MySQL endpoint: truncated handshakes, wrong sequence ids,
 * length fields larger than the data, oversized packets, random bytes
 * (fast-check) before and after login, and silent clients. Each gets a clean
 * ERR and/or close; a concurrent well-behaved client is unaffected.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type mysql from 'mysql2/promise';
import { Cap, Com, PLUGIN_NATIVE } from '../../../wire/mysql/constants.js';
import { buildHandshakeResponse, parseHandshakeV10 } from '../../../wire/mysql/handshake.js';
import { parseErr } from '../../../wire/mysql/messages.js';
import { nativeToken } from '../../../wire/mysql/auth-scramble.js';
import { mysqlConnect } from '../../helpers/db.js';
import { until } from '../../helpers/until.js';
import { PASSWORD, connect, rawConnect, startEndpoint, type Endpoint, type RawClient } from './helpers.js';

let ep: Endpoint;
let good: mysql.Connection;
let goodQueries = 0;

before(async () => {
  ep = await startEndpoint({ listener: { login_timeout_ms: 1500 } });
  good = await connect(ep.port);
});
after(async () => {
  await good.end();
  await ep.close();
});

/** The well-behaved client still gets right answers. */
async function goodStillWorks(): Promise<void> {
  const [rows] = await good.query('SELECT 40 + 2 AS n');
  assert.equal(Number((rows as { n: number }[])[0].n), 42);
  goodQueries++;
}

function frame(seq: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUIntLE(payload.length, 0, 3);
  h[3] = seq;
  return Buffer.concat([h, payload]);
}

/** Reads until the server closes; returns the ERR packets seen (after the greeting). */
async function drainUntilClosed(raw: RawClient): Promise<{ errno: number; message: string }[]> {
  const errs = [];
  for (;;) {
    const p = await raw.packet(3000);
    if (!p) return errs;
    if (p.payload[0] === 0xff) errs.push(parseErr(p.payload));
  }
}

async function greeted(): Promise<{ raw: RawClient; seed: Buffer }> {
  const raw = await rawConnect(ep.port);
  const g = parseHandshakeV10((await raw.packet())!.payload);
  return { raw, seed: g.seed };
}

const CAPS = Cap.PROTOCOL_41 | Cap.SECURE_CONNECTION | Cap.PLUGIN_AUTH | Cap.LONG_PASSWORD | Cap.TRANSACTIONS;

async function loggedIn(): Promise<RawClient> {
  const { raw, seed } = await greeted();
  raw.socket.write(buildHandshakeResponse(1, { capabilities: CAPS, collation: 45, user: 'both', authData: nativeToken(PASSWORD, seed), plugin: PLUGIN_NATIVE }));
  const ok = await raw.packet();
  assert.equal(ok?.payload[0], 0x00);
  return raw;
}

test('truncated handshake response: ERR 1156 and close', async () => {
  const full = buildHandshakeResponse(1, { capabilities: CAPS, collation: 45, user: 'both', authData: Buffer.alloc(20, 1), plugin: PLUGIN_NATIVE });
  for (const cut of [4 + 4, 4 + 20, 4 + 33]) {
    const { raw } = await greeted();
    const payload = full.subarray(4, cut);
    raw.socket.write(frame(1, payload));
    const errs = await drainUntilClosed(raw);
    assert.equal(errs.length, 1, `cut ${cut}`);
    assert.equal(errs[0].errno, 1156);
  }
  await goodStillWorks();
});

test('wrong sequence ids: in the handshake and in the command phase', async () => {
  const { raw, seed } = await greeted();
  raw.socket.write(buildHandshakeResponse(5, { capabilities: CAPS, collation: 45, user: 'both', authData: nativeToken(PASSWORD, seed), plugin: PLUGIN_NATIVE }));
  const errs = await drainUntilClosed(raw);
  assert.equal(errs[0]?.errno, 1156);
  assert.match(errs[0].message, /out of order/);
  const logged = await loggedIn();
  logged.socket.write(frame(3, Buffer.from('\x03SELECT 1', 'latin1')));
  const errs2 = await drainUntilClosed(logged);
  assert.equal(errs2[0]?.errno, 1156);
  await goodStillWorks();
});

test('a length field larger than the data: the login timeout ends it; after login, closing mid-packet ends it', async () => {
  const { raw } = await greeted();
  raw.socket.write(Buffer.from([0xe8, 0x03, 0x00, 0x01, 1, 2, 3]));
  const errs = await drainUntilClosed(raw);
  assert.equal(errs[0]?.errno, 1159, 'login timeout');
  const logged = await loggedIn();
  logged.socket.end(Buffer.from([0xff, 0x00, 0x00, 0x00, Com.QUERY, 0x53]));
  await logged.closed();
  await goodStillWorks();
});

test('oversized packets are refused before they are buffered (before login: 64 KB)', async () => {
  const { raw } = await greeted();
  raw.socket.write(Buffer.from([0xff, 0xff, 0xff, 0x01]));
  const errs = await drainUntilClosed(raw);
  assert.equal(errs[0]?.errno, 1156);
  assert.match(errs[0].message, /larger than/);
  await goodStillWorks();
});

test('a client that connects and says nothing gets ERR 1159 and is closed', async () => {
  const silent = await Promise.all([greeted(), greeted(), greeted()]);
  for (const { raw } of silent) {
    const errs = await drainUntilClosed(raw);
    assert.equal(errs[0]?.errno, 1159);
  }
  const before = ep.gate.events.filter((e) => e.error?.code === 'LOGIN_TIMEOUT').length;
  assert.ok(before >= 3);
  await goodStillWorks();
});

test('random bytes before login (fast-check): always ERR or close, never a login, never a crash', async () => {
  await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.boolean(), async (bytes, framed) => {
    const { raw } = await greeted();
    raw.socket.write(framed ? frame(1, Buffer.from(bytes)) : Buffer.from(bytes));
    for (;;) {
      const p = await raw.packet(3000);
      if (!p) break;
      assert.notEqual(p.payload[0], 0x00, 'random bytes never log in');
    }
  }), { numRuns: 25 });
  assert.equal(ep.gate.events.filter((e) => e.type === 'login' && e.decision === 'allowed' && e.user !== 'both').length, 0);
  await goodStillWorks();
});

test('random command packets after login (fast-check): ERR or a result, the session or the socket ends cleanly', async () => {
  await fc.assert(fc.asyncProperty(
    fc.constantFrom(Com.QUERY, Com.STMT_EXECUTE, Com.STMT_FETCH, Com.FIELD_LIST, Com.CHANGE_USER, Com.STMT_PREPARE, 0x20, 0xfa, Com.BINLOG_DUMP, Com.SHUTDOWN),
    fc.uint8Array({ maxLength: 64 }),
    async (code, body) => {
      const raw = await loggedIn();
      raw.socket.write(frame(0, Buffer.concat([Buffer.from([code]), Buffer.from(body)])));
      const first = await raw.packet(5000).catch(() => undefined);
      if (first && code !== Com.CHANGE_USER) assert.ok([0x00, 0xff, 0xfe].includes(first.payload[0]) || first.payload.length > 0);
      raw.socket.destroy();
    }), { numRuns: 25 });
  await goodStillWorks();
  assert.ok(goodQueries >= 7);
});

/** Runs a one-column text query on a raw session and returns its single value. */
async function rawScalar(raw: RawClient, sql: string): Promise<string> {
  raw.socket.write(frame(0, Buffer.concat([Buffer.from([Com.QUERY]), Buffer.from(sql)])));
  const packets: Buffer[] = [];
  // column count, column definition, EOF, row, EOF (CAPS has no DEPRECATE_EOF)
  for (let i = 0; i < 5; i++) packets.push((await raw.packet())!.payload);
  assert.equal(packets[0][0], 1, `one column from ${sql}`);
  const row = packets[3];
  assert.ok(row[0] < 251, 'a short value');
  return row.subarray(1, 1 + row[0]).toString();
}

test('a client that disappears in the middle of a large result: the upstream is dropped, not pooled, and others carry on', async () => {
  const raw = await loggedIn();
  // Follow this session's own upstream connection on the server: counting the
  // pool's idle connections raced with earlier tests' sessions being released.
  const threadId = Number(await rawScalar(raw, 'SELECT CONNECTION_ID()'));
  assert.ok(threadId > 0);
  const direct = await mysqlConnect();
  const alive = async () => {
    const [rows] = await direct.query('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID = ?', [threadId]);
    return Number((rows as { n: number }[])[0].n) === 1;
  };
  try {
    assert.ok(await alive(), 'CONNECTION_ID() names the upstream connection');
    const createdBefore = ep.listener.pool.created;
    const sql = 'SELECT REPEAT(\'x\', 2000) AS r FROM information_schema.COLLATIONS a, information_schema.COLLATIONS b LIMIT 20000';
    raw.socket.write(frame(0, Buffer.concat([Buffer.from([Com.QUERY]), Buffer.from(sql)])));
    const first = await raw.packet();
    assert.equal(first?.payload[0], 1, 'the result started');
    raw.socket.destroy();
    // A pooled connection would stay on the server for the pool's idle time (60 s).
    await until('the interrupted upstream connection was closed, not pooled', async () => !(await alive()), 10_000);
    await goodStillWorks();
    const again = await connect(ep.port);
    await again.query('SELECT 1');
    await again.end();
    assert.ok(ep.listener.pool.created >= createdBefore);
  } finally {
    await direct.end();
  }
});

test('after login, a packet over the server\'s max_allowed_packet is refused (ERR 1153) before it is buffered', async (t) => {
  const [rows] = await good.query('SELECT @@max_allowed_packet AS m');
  if (Number((rows as { m: string }[])[0].m) > 0x1fffffe) {
    t.skip('the server allows packets over 32 MB; this test needs a 16 MB max_allowed_packet');
    return;
  }
  const raw = await loggedIn();
  // a first 0xFFFFFF piece is within 16 MB; announcing a second piece passes the server's limit
  const piece = Buffer.alloc(4 + 0xffffff, 0x20);
  piece.writeUIntLE(0xffffff, 0, 3);
  piece[3] = 0;
  piece[4] = Com.QUERY;
  raw.socket.write(piece);
  raw.socket.write(Buffer.from([0xff, 0xff, 0xff, 0x01]));
  const errs = await drainUntilClosed(raw);
  assert.equal(errs[0]?.errno, 1153);
  assert.match(errs[0].message, /larger than/);
  await goodStillWorks();
});
