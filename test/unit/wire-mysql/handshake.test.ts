import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cap } from '../../../wire/mysql/constants.js';
import {
  buildAuthMoreData, buildAuthSwitchRequest, buildHandshakeResponse, buildHandshakeV10, buildSslRequest,
  parseAuthSwitchRequest, parseHandshakeResponse, parseHandshakeV10,
} from '../../../wire/mysql/handshake.js';
import { buildEof, buildErr, buildOk, isEofLike, parseErr, parseOk } from '../../../wire/mysql/messages.js';
import { PacketFramer, WireError } from '../../../wire/mysql/packet-reader.js';

function frame(seq: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUIntLE(payload.length, 0, 3);
  h[3] = seq;
  return Buffer.concat([h, payload]);
}
const u16 = (v: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return b; };
const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return b; };
const nul = (s: string) => Buffer.concat([Buffer.from(s), Buffer.from([0])]);

const seed = Buffer.from('0123456789abcdefghij');

test('HandshakeV10: bytes as the protocol lays them out; compression never offered', () => {
  const caps = Cap.PROTOCOL_41 | Cap.SECURE_CONNECTION | Cap.PLUGIN_AUTH | Cap.SSL | Cap.COMPRESS | Cap.DEPRECATE_EOF;
  const built = buildHandshakeV10({ serverVersion: '5.5.5-10.11-sqlgate', connectionId: 7, seed, capabilities: caps, collation: 45, status: 2, plugin: 'mysql_native_password' });
  const sent = (caps & ~Cap.COMPRESS) >>> 0;
  const expected = frame(0, Buffer.concat([
    Buffer.from([10]), nul('5.5.5-10.11-sqlgate'), u32(7), seed.subarray(0, 8), Buffer.from([0]),
    u16(sent & 0xffff), Buffer.from([45]), u16(2), u16(sent >>> 16), Buffer.from([21]), Buffer.alloc(10),
    seed.subarray(8), Buffer.from([0]), nul('mysql_native_password'),
  ]));
  assert.ok(built.equals(expected));
  const parsed = parseHandshakeV10(built.subarray(4));
  assert.equal(parsed.serverVersion, '5.5.5-10.11-sqlgate');
  assert.equal(parsed.connectionId, 7);
  assert.ok(parsed.seed.equals(seed));
  assert.equal(parsed.capabilities, sent);
  assert.equal(parsed.capabilities & Cap.COMPRESS, 0);
  assert.equal(parsed.plugin, 'mysql_native_password');
  assert.throws(() => parseHandshakeV10(built.subarray(4, 20)), WireError);
});

test('HandshakeResponse41: lenenc auth data, database, plugin and attributes; truncation refused', () => {
  const caps = Cap.PROTOCOL_41 | Cap.SECURE_CONNECTION | Cap.PLUGIN_AUTH | Cap.PLUGIN_AUTH_LENENC_CLIENT_DATA | Cap.CONNECT_WITH_DB | Cap.CONNECT_ATTRS;
  const auth = Buffer.alloc(20, 7);
  const attrs = Buffer.concat([Buffer.from([4]), Buffer.from('_pid'), Buffer.from([3]), Buffer.from('123')]);
  const payload = Buffer.concat([
    u32(caps), u32(1 << 24), Buffer.from([33]), Buffer.alloc(23), nul('alice'), Buffer.from([20]), auth,
    nul('shop'), nul('caching_sha2_password'), Buffer.from([attrs.length]), attrs,
  ]);
  const r = parseHandshakeResponse(payload);
  assert.equal(r.sslRequest, false);
  assert.equal(r.user, 'alice');
  assert.ok(r.authData.equals(auth));
  assert.equal(r.database, 'shop');
  assert.equal(r.plugin, 'caching_sha2_password');
  assert.equal(r.collation, 33);
  assert.equal(r.attributes.get('_pid'), '123');
  for (const cut of [3, 20, 33, 40]) assert.throws(() => parseHandshakeResponse(payload.subarray(0, cut)), WireError, `cut ${cut}`);
  // a 1-byte-length (SECURE_CONNECTION) form without lenenc
  const caps2 = Cap.PROTOCOL_41 | Cap.SECURE_CONNECTION | Cap.PLUGIN_AUTH;
  const r2 = parseHandshakeResponse(Buffer.concat([u32(caps2), u32(0), Buffer.from([45]), Buffer.alloc(23), nul('bob'), Buffer.from([0]), nul('mysql_native_password')]));
  assert.equal(r2.user, 'bob');
  assert.equal(r2.authData.length, 0);
  assert.equal(r2.database, undefined);
  // our builder produces what the parser reads
  const built = buildHandshakeResponse(1, { capabilities: caps, collation: 45, user: 'svc', authData: auth, database: 'db1', plugin: 'mysql_native_password', attributes: new Map([['a', 'b']]) });
  const again = parseHandshakeResponse(built.subarray(4));
  assert.equal(built[3], 1);
  assert.deepEqual([again.user, again.database, again.plugin, again.attributes.get('a')], ['svc', 'db1', 'mysql_native_password', 'b']);
  assert.ok(again.authData.equals(auth));
});

test('SSLRequest: 32 bytes with CLIENT_SSL is recognised; without CLIENT_SSL it is a truncated response', () => {
  const built = buildSslRequest(Cap.PROTOCOL_41 | Cap.SECURE_CONNECTION, 45, 1);
  assert.equal(built.length, 4 + 32);
  const r = parseHandshakeResponse(built.subarray(4));
  assert.equal(r.sslRequest, true);
  assert.ok(r.capabilities & Cap.SSL);
  const noSsl = Buffer.from(built.subarray(4));
  noSsl.writeUInt32LE(Cap.PROTOCOL_41, 0);
  assert.throws(() => parseHandshakeResponse(noSsl), WireError);
  const old = Buffer.from(built.subarray(4));
  old.writeUInt32LE(Cap.SSL, 0);
  assert.throws(() => parseHandshakeResponse(old), /protocol 4.1/);
});

test('AuthSwitchRequest and AuthMoreData', () => {
  const sw = buildAuthSwitchRequest(2, 'caching_sha2_password', seed);
  assert.ok(sw.equals(frame(2, Buffer.concat([Buffer.from([0xfe]), nul('caching_sha2_password'), seed, Buffer.from([0])]))));
  const p = parseAuthSwitchRequest(sw.subarray(4));
  assert.equal(p.plugin, 'caching_sha2_password');
  assert.ok(p.data.equals(seed));
  assert.ok(buildAuthMoreData(4, Buffer.from([3])).equals(frame(4, Buffer.from([1, 3]))));
});

test('OK, ERR and EOF packets', () => {
  const ok = buildOk(1, { affectedRows: 300, lastInsertId: 5, status: 0x0a, warnings: 1, info: 'x' });
  assert.ok(ok.equals(frame(1, Buffer.from([0, 0xfc, 0x2c, 0x01, 5, 0x0a, 0, 1, 0, 0x78]))));
  assert.deepEqual(parseOk(ok.subarray(4)), { affectedRows: 300, lastInsertId: 5, status: 0x0a, warnings: 1, info: 'x' });
  const err = buildErr(3, 1142, '42501', 'sqlgate: nope');
  assert.ok(err.equals(frame(3, Buffer.concat([Buffer.from([0xff]), u16(1142), Buffer.from('#42501sqlgate: nope')]))));
  assert.deepEqual(parseErr(err.subarray(4)), { errno: 1142, sqlstate: '42501', message: 'sqlgate: nope' });
  assert.ok(buildErr(0, 1, 'bad', 'm').subarray(4).includes(Buffer.from('#HY000')), 'a malformed SQLSTATE becomes HY000');
  const eof = buildEof(5, 0x22, 0);
  assert.ok(eof.equals(frame(5, Buffer.from([0xfe, 0, 0, 0x22, 0]))));
  assert.equal(isEofLike(eof.subarray(4), false), true);
  assert.equal(isEofLike(Buffer.alloc(9, 0xfe), false), false, 'a 9-byte packet starting 0xFE is a row');
  assert.equal(isEofLike(buildOk(0, {}, true).subarray(4), true), true);
  const f = new PacketFramer();
  f.push(Buffer.concat([ok, err]));
  assert.equal(f.next()!.seq, 1);
  assert.equal(f.next()!.seq, 3);
});
