import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import fc from 'fast-check';
import { serialize } from 'pg-protocol';
import type pg from 'pg';
import { createPgDatabase, type TempDatabase } from '../../helpers/db.js';
import { PASSWORD, pgThrough, startEndpoint, testGate, type Endpoint } from './setup.js';
import { RawClient } from './raw-client.js';

// Whatever a client sends, its connection ends cleanly and nobody else notices.
let db: TempDatabase;
let ep: Endpoint;
let bystander: pg.Client;

before(async () => {
  db = await createPgDatabase('pgbad', 'CREATE TABLE t (id int)');
  ep = await startEndpoint(testGate(db.name), { login_timeout_ms: 800 });
  bystander = await pgThrough(ep.url('alice', db.name));
});
after(async () => {
  await bystander?.end();
  await ep?.close();
  await db?.drop();
});

async function bystanderOk(): Promise<void> {
  assert.equal((await bystander.query('SELECT 1 AS one')).rows[0].one, 1);
}

/** Sends bytes (optionally half-closing), resolves with what came back once the server closed. */
function send(bytes: Buffer, halfClose: boolean): Promise<{ reply: Buffer; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const s = connect(ep.port, '127.0.0.1');
    const got: Buffer[] = [];
    const guard = setTimeout(() => { s.destroy(); resolve({ reply: Buffer.concat(got), closedByServer: false }); }, 5000);
    s.on('data', (d) => got.push(d));
    s.on('error', () => undefined);
    s.on('close', () => { clearTimeout(guard); resolve({ reply: Buffer.concat(got), closedByServer: true }); });
    s.on('connect', () => { if (halfClose) s.end(bytes); else s.write(bytes); });
  });
}

test('truncated startup packet: clean close', async () => {
  const startup = serialize.startup({ user: 'alice', database: db.name });
  for (const cut of [1, 3, 4, 7, startup.length - 1]) {
    const r = await send(startup.subarray(0, cut), true);
    assert.ok(r.closedByServer);
  }
  await bystanderOk();
});

test('oversized and undersized lengths: FATAL 08P01 and close', async () => {
  for (const len of [0x7fffffff, 10_001, 3, -1]) {
    const b = Buffer.alloc(8);
    b.writeInt32BE(len, 0);
    b.writeInt32BE(196608, 4);
    const r = await send(b, false);
    assert.ok(r.closedByServer, `length ${len}`);
    assert.equal(r.reply[0], 0x45, 'ErrorResponse');
    assert.match(r.reply.toString('latin1'), /08P01/);
  }
  // After login too.
  const raw = await RawClient.open(ep.port, 'bob', db.name, PASSWORD);
  const closed = new Promise((r) => raw.socket.once('close', r));
  raw.socket.write(Buffer.from([0x51, 0x7f, 0xff, 0xff, 0xff]));
  await closed;
  await bystanderOk();
});

test('silent client: closed at the login timeout with FATAL 08006', async () => {
  const r = await send(Buffer.alloc(0), false);
  assert.ok(r.closedByServer);
  assert.match(r.reply.toString('latin1'), /08006/);
  // Silent after SSLRequest/partial auth as well.
  const r2 = await send(serialize.startup({ user: 'alice', database: db.name }), false);
  assert.ok(r2.closedByServer);
  await bystanderOk();
});

test('random bytes before login: clean close, bystander unaffected', async () => {
  await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 300 }), async (bytes) => {
    const r = await send(Buffer.from(bytes), true);
    assert.ok(r.closedByServer);
  }), { numRuns: 60 });
  await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 200 }), async (bytes) => {
    // A valid-looking startup header followed by noise.
    const r = await send(Buffer.concat([serialize.startup({ user: 'alice' }).subarray(0, 8), Buffer.from(bytes)]), true);
    assert.ok(r.closedByServer);
  }), { numRuns: 40 });
  await bystanderOk();
});

const TYPES = [0x42, 0x43, 0x44, 0x45, 0x48, 0x50, 0x53, 0x64, 0x63, 0x66, 0x70, 0x46, 0x00, 0xff];

test('random messages after login: the session answers or ends cleanly, bystander unaffected', async () => {
  await fc.assert(fc.asyncProperty(fc.constantFrom(...TYPES), fc.uint8Array({ maxLength: 64 }), async (type, body) => {
    const raw = await RawClient.open(ep.port, 'bob', db.name, PASSWORD);
    const msg = Buffer.alloc(5 + body.length);
    msg[0] = type;
    msg.writeInt32BE(4 + body.length, 1);
    msg.set(body, 5);
    raw.socket.write(Buffer.concat([msg, serialize.sync(), serialize.query('SELECT 1')]));
    // Either the session lives on (the query is answered) or it is closed; never a hang.
    for (;;) {
      const f = await Promise.race([raw.frame(), new Promise<'hang'>((r) => setTimeout(() => r('hang'), 20_000).unref())]);
      assert.notEqual(f, 'hang', 'the session neither answered nor closed');
      if (f === undefined) break; // closed by sqlgate
      if (f !== 'hang' && f.type === 0x43 && f.body.toString('latin1').startsWith('SELECT 1')) break; // still alive
    }
    raw.socket.destroy();
  }), { numRuns: 60 });
  await bystanderOk();
});
