import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serialize } from 'pg-protocol';
import { FrameReader } from '../../../wire/postgres/frame-reader.js';
import {
  parseFrontendMessage, parsePasswordMessage, parseSaslInitialResponse, parseStartupPacket,
} from '../../../wire/postgres/frontend-parser.js';
import type { FrontendMessage } from '../../../wire/postgres/messages.js';
import { SqlgateError } from '../../../governance/errors.js';

// pg-protocol's client-side serializer is the independent encoder.
const stream: Buffer[] = [
  serialize.query('SELECT 1; SELECT 2'),
  serialize.parse({ name: 's1', text: 'SELECT $1::int', types: [23] }),
  serialize.bind({ portal: 'p1', statement: 's1', values: ['42', null, Buffer.from([1, 2])] }),
  serialize.describe({ type: 'S', name: 's1' }),
  serialize.describe({ type: 'P', name: '' }),
  serialize.execute({ portal: 'p1', rows: 10 }),
  serialize.close({ type: 'P', name: 'p1' }),
  serialize.flush(),
  serialize.sync(),
  serialize.copyData(Buffer.from('1\tone\n')),
  serialize.copyDone(),
  serialize.copyFail('client gave up'),
  serialize.password('secret'),
  serialize.end(),
];
const expected: FrontendMessage[] = [
  { kind: 'query', sql: 'SELECT 1; SELECT 2' },
  { kind: 'parse', name: 's1', sql: 'SELECT $1::int', paramTypes: [23] },
  { kind: 'bind', portal: 'p1', statement: 's1', resultFormats: [0] },
  { kind: 'describe', target: 'S', name: 's1' },
  { kind: 'describe', target: 'P', name: '' },
  { kind: 'execute', portal: 'p1', maxRows: 10 },
  { kind: 'close', target: 'P', name: 'p1' },
  { kind: 'flush' },
  { kind: 'sync' },
  { kind: 'copy-data', data: Buffer.from('1\tone\n') },
  { kind: 'copy-done' },
  { kind: 'copy-fail', message: 'client gave up' },
  { kind: 'password', body: Buffer.from('secret\0') },
  { kind: 'terminate' },
];
const all = Buffer.concat(stream);

function parseAll(chunks: Buffer[]): FrontendMessage[] {
  const r = new FrameReader();
  const out: FrontendMessage[] = [];
  for (const c of chunks) {
    r.push(c);
    for (let f = r.next(); f; f = r.next()) out.push(parseFrontendMessage(f));
  }
  assert.equal(r.buffered, 0);
  return out;
}

test('frontend: coalesced messages in one chunk', () => {
  assert.deepEqual(parseAll([all]), expected);
});

test('frontend: every split point (front, middle, end) gives the same messages', () => {
  for (let i = 0; i <= all.length; i++) {
    assert.deepEqual(parseAll([all.subarray(0, i), all.subarray(i)]), expected, `split at ${i}`);
  }
});

test('frontend: one byte at a time', () => {
  const chunks: Buffer[] = [];
  for (let i = 0; i < all.length; i++) chunks.push(all.subarray(i, i + 1));
  assert.deepEqual(parseAll(chunks), expected);
});

test('frontend: frames are views with their raw bytes', () => {
  const r = new FrameReader();
  r.push(all);
  const f = r.next()!;
  assert.deepEqual(f.raw, stream[0]);
  assert.equal(f.raw.buffer, all.buffer, 'no copy for a message inside one chunk');
});

test('frontend: oversized and undersized lengths are refused', () => {
  const r = new FrameReader(1024);
  const big = Buffer.alloc(5);
  big[0] = 0x51;
  big.writeInt32BE(1025, 1);
  r.push(big);
  assert.throws(() => r.next(), (e: unknown) => e instanceof SqlgateError && e.code === 'PROTOCOL_VIOLATION');
  const r2 = new FrameReader();
  r2.push(Buffer.from([0x51, 0, 0, 0, 3]));
  assert.throws(() => r2.next(), SqlgateError);
  const r3 = new FrameReader();
  r3.push(Buffer.from([0, 0, 0x27, 0x11, 0, 3, 0, 0])); // 10001 > startup cap
  assert.throws(() => r3.nextStartup(), SqlgateError);
});

test('frontend: malformed bodies are protocol violations', () => {
  const bad = [
    Buffer.from([0x51, 0, 0, 0, 6, 0x41, 0x42]), // Query without terminator
    Buffer.from([0x44, 0, 0, 0, 6, 0x58, 0]), // Describe with bad target
    Buffer.from([0x53, 0, 0, 0, 5, 0]), // Sync with trailing byte
    Buffer.from([0x7a, 0, 0, 0, 4]), // unknown type
  ];
  for (const b of bad) {
    const r = new FrameReader();
    r.push(b);
    assert.throws(() => parseFrontendMessage(r.next()!), SqlgateError, b.toString('hex'));
  }
});

test('startup: StartupMessage with protocol 3.0 parameters', () => {
  const pkt = serialize.startup({ user: 'alice', database: 'shop', application_name: 'psql', options: '-c search_path=a' });
  for (let i = 0; i <= pkt.length; i++) {
    const r = new FrameReader();
    r.push(pkt.subarray(0, i));
    const early = r.nextStartup();
    if (i < pkt.length) assert.equal(early, undefined);
    r.push(pkt.subarray(i));
    const body = early ?? r.nextStartup()!;
    const p = parseStartupPacket(body);
    assert.equal(p.kind, 'startup');
    if (p.kind !== 'startup') continue;
    assert.equal(p.protocolVersion, 196608);
    assert.deepEqual([...p.params], [['user', 'alice'], ['database', 'shop'], ['application_name', 'psql'], ['options', '-c search_path=a'], ['client_encoding', 'UTF8']]);
  }
});

test('startup: SSLRequest, GSSENCRequest, CancelRequest', () => {
  const gss = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]);
  const r = new FrameReader();
  r.push(Buffer.concat([serialize.requestSsl(), gss, serialize.cancel(1234, -5)]));
  assert.deepEqual(parseStartupPacket(r.nextStartup()!), { kind: 'ssl-request' });
  assert.deepEqual(parseStartupPacket(r.nextStartup()!), { kind: 'gssenc-request' });
  assert.deepEqual(parseStartupPacket(r.nextStartup()!), { kind: 'cancel-request', processId: 1234, secretKey: -5 });
});

test('startup: bad protocol versions and duplicate/unterminated parameters', () => {
  const pkt = (code: number, rest: number[]) => {
    const b = Buffer.alloc(8 + rest.length);
    b.writeInt32BE(b.length, 0);
    b.writeInt32BE(code, 4);
    b.set(rest, 8);
    return b.subarray(4);
  };
  assert.throws(() => parseStartupPacket(pkt(0x20000, [0])), SqlgateError);
  const dup = [...Buffer.from('user\0a\0user\0b\0\0')];
  assert.throws(() => parseStartupPacket(pkt(196608, dup)), /duplicate/);
  assert.throws(() => parseStartupPacket(pkt(196608, [...Buffer.from('user\0a\0')])), SqlgateError);
});

test('password messages: cleartext and SASLInitialResponse', () => {
  const r = new FrameReader();
  r.push(Buffer.concat([serialize.password('pw'), serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'n,,n=,r=abc')]));
  const m1 = parseFrontendMessage(r.next()!);
  assert.equal(m1.kind === 'password' && parsePasswordMessage(m1.body), 'pw');
  const m2 = parseFrontendMessage(r.next()!);
  assert.ok(m2.kind === 'password');
  const sasl = parseSaslInitialResponse(m2.body);
  assert.equal(sasl.mechanism, 'SCRAM-SHA-256');
  assert.equal(sasl.data?.toString(), 'n,,n=,r=abc');
});
