import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { V1_MAX_LENGTH, parseProxyHeader } from '../../../wire/proxy-protocol.js';

// Independent encoders, written from the spec text.
const SIG = Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1');

function v2(opts: { cmd?: number; fam?: number; src?: Buffer; dst?: Buffer; sport?: number; dport?: number; tlv?: Buffer; version?: number; rawFam?: number; len?: number }): Buffer {
  const fam = opts.rawFam ?? opts.fam ?? 0x11;
  const addr = opts.src && opts.dst
    ? Buffer.concat([opts.src, opts.dst, Buffer.from([(opts.sport ?? 0) >> 8, (opts.sport ?? 0) & 255, (opts.dport ?? 0) >> 8, (opts.dport ?? 0) & 255])])
    : Buffer.alloc(0);
  const body = Buffer.concat([addr, opts.tlv ?? Buffer.alloc(0)]);
  const len = opts.len ?? body.length;
  return Buffer.concat([SIG, Buffer.from([((opts.version ?? 2) << 4) | (opts.cmd ?? 1), fam, len >> 8, len & 255]), body]);
}

const v4bytes = (s: string) => Buffer.from(s.split('.').map(Number));
function v6bytes(groups: number[]): Buffer {
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(g, i * 2));
  return b;
}

const PAYLOAD = Buffer.from([0, 0, 0, 8, 4, 210, 22, 47]); // a PostgreSQL SSLRequest after the header

/** Every proper prefix is incomplete; the whole is ok; trailing client bytes do not change it. */
function splits(header: Buffer, expect: Record<string, unknown>): void {
  for (let i = 0; i < header.length; i++) {
    assert.deepEqual(parseProxyHeader(header.subarray(0, i)), { status: 'incomplete' }, `prefix ${i}/${header.length}`);
  }
  const whole = parseProxyHeader(header);
  assert.deepEqual(whole, { status: 'ok', length: header.length, ...expect });
  assert.deepEqual(parseProxyHeader(Buffer.concat([header, PAYLOAD])), whole);
}

test('v1 TCP4', () => {
  splits(Buffer.from('PROXY TCP4 192.168.0.1 10.0.0.2 56324 6033\r\n'), {
    command: 'proxy', source: { address: '192.168.0.1', port: 56324 }, destination: { address: '10.0.0.2', port: 6033 },
  });
});

test('v1 TCP6', () => {
  splits(Buffer.from('PROXY TCP6 2001:db8::1 ::1 65535 0\r\n'), {
    command: 'proxy', source: { address: '2001:db8::1', port: 65535 }, destination: { address: '::1', port: 0 },
  });
});

test('v1 UNKNOWN, with and without addresses', () => {
  splits(Buffer.from('PROXY UNKNOWN\r\n'), { command: 'proxy' });
  splits(Buffer.from('PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n'), { command: 'proxy' });
});

test('v1 worst case of 107 bytes is accepted; 108 is not', () => {
  const max = 'PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n';
  assert.equal(max.length, V1_MAX_LENGTH);
  assert.deepEqual(parseProxyHeader(Buffer.from(max)), { status: 'ok', length: 107, command: 'proxy' });
  const tcp6 = Buffer.from(max.replace('UNKNOWN', 'TCP6'));
  assert.deepEqual(parseProxyHeader(tcp6), {
    status: 'ok', length: 104, command: 'proxy',
    source: { address: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', port: 65535 },
    destination: { address: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', port: 65535 },
  });
  const long = Buffer.from('PROXY UNKNOWN ' + 'x'.repeat(92) + '\r\n');
  assert.equal(long.length, 108);
  assert.equal(parseProxyHeader(long).status, 'invalid');
  assert.equal(parseProxyHeader(long.subarray(0, 106)).status, 'invalid', 'no CR by byte 106');
  assert.equal(parseProxyHeader(long.subarray(0, 105)).status, 'incomplete');
});

test('v1 malformed lines are invalid', () => {
  for (const line of [
    'PROXY TCP4 192.168.0.1 10.0.0.2 56324\r\n',
    'PROXY TCP4 192.168.0.1 10.0.0.2 56324 6033 extra\r\n',
    'PROXY TCP4 ::1 10.0.0.2 1 2\r\n',
    'PROXY TCP6 10.0.0.1 ::1 1 2\r\n',
    'PROXY TCP4 192.168.0.256 10.0.0.2 1 2\r\n',
    'PROXY TCP4 192.168.0.1 10.0.0.2 65536 2\r\n',
    'PROXY TCP4 192.168.0.1 10.0.0.2 01 2\r\n',
    'PROXY TCP4 192.168.0.1  10.0.0.2 1 2\r\n',
    'PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n',
    'PROXY UDP4 192.168.0.1 10.0.0.2 1 2\r\n',
    'PROXY TCP4 192.168.0.1 10.0.0.2 1 2\rX',
    'PROXY TCP4 192.168.0.1\n10.0.0.2 1 2\r\n',
  ]) {
    assert.equal(parseProxyHeader(Buffer.from(line, 'latin1')).status, 'invalid', JSON.stringify(line));
  }
});

test('no header: client bytes of either protocol, and near-misses', () => {
  assert.deepEqual(parseProxyHeader(PAYLOAD), { status: 'absent' });
  assert.deepEqual(parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n')), { status: 'absent' });
  assert.deepEqual(parseProxyHeader(Buffer.from('PROXX TCP4')), { status: 'absent' });
  assert.deepEqual(parseProxyHeader(Buffer.from('\r\n\r\n\0\r\nQUIX\n')), { status: 'absent' });
  assert.deepEqual(parseProxyHeader(Buffer.alloc(0)), { status: 'incomplete' });
  assert.deepEqual(parseProxyHeader(Buffer.from('P')), { status: 'incomplete' });
  assert.deepEqual(parseProxyHeader(Buffer.from('\r\n')), { status: 'incomplete' });
});

test('v2 PROXY TCP4', () => {
  splits(v2({ fam: 0x11, src: v4bytes('203.0.113.7'), dst: v4bytes('10.0.0.1'), sport: 40000, dport: 6432 }), {
    command: 'proxy', source: { address: '203.0.113.7', port: 40000 }, destination: { address: '10.0.0.1', port: 6432 },
  });
});

test('v2 PROXY TCP6, compressed and mapped forms', () => {
  splits(v2({ fam: 0x21, src: v6bytes([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]), dst: v6bytes([0, 0, 0, 0, 0, 0, 0, 1]), sport: 1, dport: 65535 }), {
    command: 'proxy', source: { address: '2001:db8::1', port: 1 }, destination: { address: '::1', port: 65535 },
  });
  const mapped = parseProxyHeader(v2({ fam: 0x21, src: v6bytes([0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001]), dst: v6bytes([0x2001, 0xdb8, 0, 1, 0, 0, 0, 0]), sport: 5, dport: 6 }));
  assert.equal(mapped.status, 'ok');
  if (mapped.status === 'ok') {
    assert.equal(mapped.source?.address, '::ffff:10.0.0.1');
    assert.equal(mapped.destination?.address, '2001:db8:0:1::');
  }
  const noRun = parseProxyHeader(v2({ fam: 0x21, src: v6bytes([1, 0, 2, 0, 3, 0, 4, 0]), dst: v6bytes([1, 0, 0, 2, 0, 0, 0, 3]), sport: 5, dport: 6 }));
  if (noRun.status !== 'ok') assert.fail(noRun.status);
  assert.equal(noRun.source?.address, '1:0:2:0:3:0:4:0', 'a single zero group is not compressed');
  assert.equal(noRun.destination?.address, '1:0:0:2::3', 'the longest run is compressed');
});

test('v2 TLVs after the addresses are skipped and counted in length', () => {
  const tlv = Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32, 0x04, 0x00, 0x00]); // ALPN "h2", NOOP
  splits(v2({ fam: 0x11, src: v4bytes('1.2.3.4'), dst: v4bytes('5.6.7.8'), sport: 1, dport: 2, tlv }), {
    command: 'proxy', source: { address: '1.2.3.4', port: 1 }, destination: { address: '5.6.7.8', port: 2 },
  });
});

test('v2 LOCAL (health check) ignores any addresses', () => {
  splits(v2({ cmd: 0, fam: 0x00 }), { command: 'local' });
  splits(v2({ cmd: 0, fam: 0x11, src: v4bytes('1.2.3.4'), dst: v4bytes('5.6.7.8') }), { command: 'local' });
});

test('v2 UNSPEC and AF_UNIX: no addresses reported', () => {
  splits(v2({ fam: 0x00 }), { command: 'proxy' });
  splits(v2({ fam: 0x31, src: Buffer.alloc(108), dst: Buffer.alloc(108) }), { command: 'proxy' });
});

test('v2 invalid headers', () => {
  assert.equal(parseProxyHeader(v2({ version: 1, fam: 0x11, src: v4bytes('1.2.3.4'), dst: v4bytes('5.6.7.8') })).status, 'invalid');
  assert.equal(parseProxyHeader(v2({ cmd: 2, fam: 0x11, src: v4bytes('1.2.3.4'), dst: v4bytes('5.6.7.8') })).status, 'invalid');
  assert.equal(parseProxyHeader(v2({ rawFam: 0x12, src: v4bytes('1.2.3.4'), dst: v4bytes('5.6.7.8') })).status, 'invalid', 'UDP');
  assert.equal(parseProxyHeader(v2({ rawFam: 0x41 })).status, 'invalid', 'unknown family');
  assert.equal(parseProxyHeader(v2({ fam: 0x21, src: v4bytes('1.2.3.4'), dst: v4bytes('5.6.7.8') })).status, 'invalid', 'TCP6 with 12 address bytes');
  assert.equal(parseProxyHeader(v2({ fam: 0x11 })).status, 'invalid', 'TCP4 with no address bytes');
});

test('v2 declared length longer than what arrived is incomplete', () => {
  const h = v2({ fam: 0x11, src: v4bytes('1.2.3.4'), dst: v4bytes('5.6.7.8'), len: 200 });
  assert.deepEqual(parseProxyHeader(h), { status: 'incomplete' });
});

test('property: random bytes never throw, and ok lengths stay inside the buffer', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), fc.boolean(), (bytes, withSig, withV1) => {
    const buf = Buffer.concat([withSig ? SIG : withV1 ? Buffer.from('PROXY ') : Buffer.alloc(0), Buffer.from(bytes)]);
    const r = parseProxyHeader(buf);
    if (r.status === 'ok') assert.ok(r.length > 0 && r.length <= buf.length);
  }), { numRuns: 2000 });
});

test('property: v1 TCP4 round trip', () => {
  const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
  fc.assert(fc.property(ip, ip, fc.nat(65535), fc.nat(65535), (s, d, sp, dp) => {
    const h = Buffer.from(`PROXY TCP4 ${s} ${d} ${sp} ${dp}\r\n`);
    assert.deepEqual(parseProxyHeader(h), { status: 'ok', length: h.length, command: 'proxy', source: { address: s, port: sp }, destination: { address: d, port: dp } });
  }), { numRuns: 300 });
});
