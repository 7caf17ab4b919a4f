import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockList } from 'node:net';
import fc from 'fast-check';
import {
  AllowListError, MAX_ALLOW_ENTRIES, isIpAddress, normalizeClientAddress, parseAllowList,
} from '../../../../governance/policy/ip-allow.js';

function throwsEntry(value: string | string[], index: number, entry?: string): void {
  assert.throws(() => parseAllowList(value), (e: unknown) => {
    assert.ok(e instanceof AllowListError, `expected AllowListError, got ${String(e)}`);
    assert.equal(e.code, 'POLICY_INVALID');
    assert.equal(e.index, index);
    if (entry !== undefined) assert.equal(e.entry, entry);
    return true;
  });
}

test('empty list means no restriction', () => {
  for (const v of ['', '   ', [] as string[]]) {
    const l = parseAllowList(v);
    assert.equal(l.size, 0);
    assert.ok(l.matches('10.1.2.3'));
    assert.ok(l.matches('::1'));
    assert.ok(l.matches('not an address'));
  }
});

test('single IPv4 address matches only itself', () => {
  const l = parseAllowList('10.32.180.8');
  assert.equal(l.size, 1);
  assert.ok(l.matches('10.32.180.8'));
  assert.ok(!l.matches('10.32.180.7'));
  assert.ok(!l.matches('10.32.180.9'));
  assert.ok(!l.matches('garbage'));
  assert.ok(!l.matches(''));
});

test('IPv4 range with inclusive ends, boundaries ±1', () => {
  const l = parseAllowList('10.32.180.8-10.32.180.12');
  assert.ok(!l.matches('10.32.180.7'));
  for (let i = 8; i <= 12; i++) assert.ok(l.matches(`10.32.180.${i}`));
  assert.ok(!l.matches('10.32.180.13'));
});

test('IPv4 range across octet boundaries', () => {
  const l = parseAllowList('10.0.0.250-10.0.2.5');
  assert.ok(!l.matches('10.0.0.249'));
  assert.ok(l.matches('10.0.0.250'));
  assert.ok(l.matches('10.0.0.255'));
  assert.ok(l.matches('10.0.1.0'));
  assert.ok(l.matches('10.0.1.128'));
  assert.ok(l.matches('10.0.2.0'));
  assert.ok(l.matches('10.0.2.5'));
  assert.ok(!l.matches('10.0.2.6'));
  assert.ok(!l.matches('10.0.3.0'));
  const wide = parseAllowList('9.255.255.255-11.0.0.0');
  assert.ok(wide.matches('10.128.7.1'));
  assert.ok(wide.matches('9.255.255.255'));
  assert.ok(!wide.matches('9.255.255.254'));
  assert.ok(wide.matches('11.0.0.0'));
  assert.ok(!wide.matches('11.0.0.1'));
});

test('single-address range and whitespace around the dash', () => {
  const l = parseAllowList('192.168.1.1 - 192.168.1.1');
  assert.ok(l.matches('192.168.1.1'));
  assert.ok(!l.matches('192.168.1.2'));
});

test('IPv4 CIDR blocks, /23 /24 /32 /0 edges', () => {
  const l23 = parseAllowList('10.32.180.0/23');
  assert.ok(!l23.matches('10.32.179.255'));
  assert.ok(l23.matches('10.32.180.0'));
  assert.ok(l23.matches('10.32.181.255'));
  assert.ok(!l23.matches('10.32.182.0'));
  const l32 = parseAllowList('172.16.5.4/32');
  assert.ok(l32.matches('172.16.5.4'));
  assert.ok(!l32.matches('172.16.5.5'));
  assert.ok(!l32.matches('172.16.5.3'));
  const l0 = parseAllowList('0.0.0.0/0');
  assert.ok(l0.matches('0.0.0.0'));
  assert.ok(l0.matches('255.255.255.255'));
  assert.ok(l0.matches('::ffff:1.2.3.4'));
  assert.ok(!l0.matches('::1'), 'an IPv4 /0 does not cover IPv6');
  assert.ok(!l0.matches('2001:db8::1'));
  const l31 = parseAllowList('10.0.0.0/31');
  assert.ok(l31.matches('10.0.0.0') && l31.matches('10.0.0.1') && !l31.matches('10.0.0.2'));
});

test('CIDR with host bits set is masked to its network', () => {
  const l = parseAllowList('10.32.180.8/23');
  assert.ok(l.matches('10.32.180.0'));
  assert.ok(l.matches('10.32.181.255'));
  assert.ok(!l.matches('10.32.182.0'));
});

test('comma-separated string and YAML list forms are equivalent', () => {
  const a = parseAllowList('10.0.0.1, 10.0.1.0/24 ,192.168.0.1-192.168.0.3,::1');
  const b = parseAllowList(['10.0.0.1', '10.0.1.0/24', '192.168.0.1-192.168.0.3', '::1']);
  assert.equal(a.size, 4);
  assert.equal(b.size, 4);
  for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.1.77', '192.168.0.2', '192.168.0.4', '::1', '::2']) {
    assert.equal(a.matches(ip), b.matches(ip), ip);
  }
  assert.ok(a.matches('10.0.1.77') && !a.matches('10.0.0.2') && !a.matches('192.168.0.4'));
});

test('IPv6 single, compressed forms and case', () => {
  const l = parseAllowList('2001:DB8::1');
  assert.ok(l.matches('2001:db8::1'));
  assert.ok(l.matches('2001:0db8:0000:0000:0000:0000:0000:0001'));
  assert.ok(!l.matches('2001:db8::2'));
  assert.ok(!l.matches('2001:db8::'));
  const lo = parseAllowList(['::1']);
  assert.ok(lo.matches('::1'));
  assert.ok(lo.matches('0:0:0:0:0:0:0:1'));
  assert.ok(!lo.matches('127.0.0.1'));
  assert.ok(!lo.matches('::'));
});

test('IPv6 CIDR /128 /64 /0 and boundaries', () => {
  const l64 = parseAllowList('2001:db8:0:1::/64');
  assert.ok(l64.matches('2001:db8:0:1::'));
  assert.ok(l64.matches('2001:db8:0:1:ffff:ffff:ffff:ffff'));
  assert.ok(!l64.matches('2001:db8:0:0:ffff:ffff:ffff:ffff'));
  assert.ok(!l64.matches('2001:db8:0:2::'));
  const l128 = parseAllowList('fe80::1/128');
  assert.ok(l128.matches('fe80::1'));
  assert.ok(!l128.matches('fe80::2'));
  assert.ok(!l128.matches('fe80::'));
  const l0 = parseAllowList('::/0');
  assert.ok(l0.matches('::'));
  assert.ok(l0.matches('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'));
  // documented: the whole IPv6 space contains the IPv4-mapped block
  assert.ok(l0.matches('10.0.0.1'));
});

test('IPv6 range across group boundaries', () => {
  const l = parseAllowList('2001:db8::fffe-2001:db8::1:1');
  assert.ok(!l.matches('2001:db8::fffd'));
  assert.ok(l.matches('2001:db8::fffe'));
  assert.ok(l.matches('2001:db8::ffff'));
  assert.ok(l.matches('2001:db8::1:0'));
  assert.ok(l.matches('2001:db8::1:1'));
  assert.ok(!l.matches('2001:db8::1:2'));
});

test('IPv4-mapped IPv6 clients are matched as IPv4', () => {
  const l = parseAllowList('10.0.0.0/8, 192.168.1.5');
  assert.ok(l.matches('::ffff:10.0.0.1'));
  assert.ok(l.matches('::FFFF:10.255.255.255'));
  assert.ok(l.matches('::ffff:a00:1'), 'hex form of ::ffff:10.0.0.1');
  assert.ok(l.matches('0:0:0:0:0:ffff:192.168.1.5'));
  assert.ok(!l.matches('::ffff:11.0.0.0'));
  assert.ok(!l.matches('::ffff:192.168.1.6'));
  assert.ok(!l.matches('::10.0.0.1'), 'IPv4-compatible (not mapped) is not IPv4');
  assert.ok(!l.matches('::1'));
});

test('IPv4-mapped IPv6 entries match IPv4 clients', () => {
  const single = parseAllowList('::ffff:10.0.0.1');
  assert.ok(single.matches('10.0.0.1'));
  assert.ok(single.matches('::ffff:10.0.0.1'));
  assert.ok(!single.matches('10.0.0.2'));
  const block = parseAllowList('::ffff:10.0.0.0/104');
  assert.ok(block.matches('10.1.2.3'));
  assert.ok(!block.matches('11.0.0.0'));
  assert.ok(!block.matches('9.255.255.255'));
  const range = parseAllowList('::ffff:10.0.0.1-10.0.0.3');
  assert.ok(range.matches('10.0.0.2') && range.matches('::ffff:10.0.0.3') && !range.matches('10.0.0.4'));
});

test('zone index on a client address is ignored; in an entry it is refused', () => {
  const l = parseAllowList('fe80::/10');
  assert.ok(l.matches('fe80::1%eth0'));
  throwsEntry('fe80::1%eth0', 0);
});

test('invalid entries are refused with their index and text', () => {
  throwsEntry('10.0.0.1, 10.0.0.256', 1, '10.0.0.256');
  throwsEntry(['10.0.0.1', '::1', 'example.com'], 2, 'example.com');
  throwsEntry('1.2.3', 0);
  throwsEntry('1.2.3.4.5', 0);
  throwsEntry('01.2.3.4', 0, '01.2.3.4');
  throwsEntry('1.2.3.-1', 0);
  throwsEntry('10.0.0.1,,10.0.0.2', 1, '');
  throwsEntry('10.0.0.1,', 1);
  throwsEntry('1::2::3', 0);
  throwsEntry('1:2:3:4:5:6:7:8:9', 0);
  throwsEntry('1:2:3:4:5:6:7:8::', 0, '1:2:3:4:5:6:7:8::');
  throwsEntry('12345::1', 0);
  throwsEntry('g::1', 0);
  throwsEntry('::ffff:1.2.3.256', 0);
  throwsEntry([' '], 0);
  throwsEntry(['10.0.0.1', '10.0.0.2, 10.0.0.3'], 1, '10.0.0.2, 10.0.0.3');
});

test('bad ranges: a > b, mixed families, malformed ends', () => {
  throwsEntry('10.0.0.5-10.0.0.4', 0, '10.0.0.5-10.0.0.4');
  throwsEntry('10.0.1.0-10.0.0.255', 0);
  throwsEntry('10.0.0.1-::1', 0);
  throwsEntry('::1-10.0.0.1', 0);
  throwsEntry('::2-::1', 0);
  throwsEntry('10.0.0.1-', 0);
  throwsEntry('-10.0.0.1', 0);
  throwsEntry('10.0.0.1-10.0.0.2-10.0.0.3', 0);
  const e = (() => { try { parseAllowList('10.0.0.5-10.0.0.4'); } catch (err) { return err as AllowListError; } })();
  assert.match(e!.reason, /above/);
});

test('bad prefix lengths', () => {
  throwsEntry('10.0.0.0/33', 0);
  throwsEntry('10.0.0.0/-1', 0);
  throwsEntry('10.0.0.0/', 0);
  throwsEntry('10.0.0.0/8/8', 0);
  throwsEntry('10.0.0.0/08', 0);
  throwsEntry('10.0.0.0/a', 0);
  throwsEntry('::/129', 0);
  throwsEntry('10.0.0.0/ 8', 0);
  // the largest legal lengths are fine
  assert.equal(parseAllowList('10.0.0.0/32, ::/128').size, 2);
});

test('at most 1,000 entries', () => {
  const ok = Array.from({ length: MAX_ALLOW_ENTRIES }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
  const l = parseAllowList(ok);
  assert.equal(l.size, 1000);
  assert.ok(l.matches('10.0.3.231'));
  assert.ok(!l.matches('10.0.3.232'));
  throwsEntry([...ok, '10.9.9.9'], 1000, '10.9.9.9');
  throwsEntry([...ok, '10.9.9.9'].join(','), 1000);
});

test('overlapping and adjacent entries merge correctly', () => {
  const l = parseAllowList('10.0.0.0/24, 10.0.0.128-10.0.1.10, 10.0.1.11, 10.0.5.0/24');
  assert.ok(l.matches('10.0.0.0'));
  assert.ok(l.matches('10.0.1.10'));
  assert.ok(l.matches('10.0.1.11'));
  assert.ok(!l.matches('10.0.1.12'));
  assert.ok(!l.matches('10.0.4.255'));
  assert.ok(l.matches('10.0.5.255'));
  assert.ok(!l.matches('10.0.6.0'));
});

test('normalizeClientAddress and isIpAddress', () => {
  assert.equal(normalizeClientAddress('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(normalizeClientAddress('::1'), '::1');
  assert.equal(normalizeClientAddress('10.0.0.1'), '10.0.0.1');
  assert.ok(isIpAddress('::ffff:1.2.3.4'));
  assert.ok(!isIpAddress('1.2.3.4/8'));
});

// Property test against an independent implementation: node's BlockList.
const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const v4Num = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const hex = fc.nat(0xffff).map((n) => n.toString(16));
const v6 = fc.array(hex, { minLength: 8, maxLength: 8 }).map((w) => w.join(':'));

test('property: mapped addresses agree with net.BlockList in both directions', () => {
  const mappedV4 = v4.map((ip) => `::ffff:${ip}`);
  fc.assert(fc.property(v4, fc.nat(32), mappedV4, v4, (a, len, mappedProbe, probe) => {
    const bl = new BlockList();
    bl.addSubnet(a, len, 'ipv4');
    const l = parseAllowList(`${a}/${len}`);
    assert.equal(l.matches(mappedProbe), bl.check(mappedProbe, 'ipv6'));
    const bl6 = new BlockList();
    bl6.addSubnet(`::ffff:${a}`, 96 + len, 'ipv6');
    const l6 = parseAllowList(`::ffff:${a}/${96 + len}`);
    assert.equal(l6.matches(probe), bl6.check(probe, 'ipv4'));
  }), { numRuns: 500 });
});

test('property: IPv4 entries agree with net.BlockList', () => {
  fc.assert(fc.property(v4, v4, fc.nat(32), v4, (a, b, len, probe) => {
    const [lo, hi] = v4Num(a) <= v4Num(b) ? [a, b] : [b, a];
    const bl = new BlockList();
    bl.addRange(lo, hi, 'ipv4');
    bl.addSubnet(a, len, 'ipv4');
    const l = parseAllowList([`${lo}-${hi}`, `${a}/${len}`]);
    assert.equal(l.matches(probe), bl.check(probe, 'ipv4'));
    assert.equal(l.matches(lo), true);
    assert.equal(l.matches(hi), true);
  }), { numRuns: 500 });
});

test('property: IPv6 entries agree with net.BlockList', () => {
  fc.assert(fc.property(v6, fc.nat(128), v6, (a, len, probe) => {
    const bl = new BlockList();
    bl.addSubnet(a, len, 'ipv6');
    const l = parseAllowList(`${a}/${len}`);
    assert.equal(l.matches(probe), bl.check(probe, 'ipv6'));
    assert.equal(l.matches(a), true);
  }), { numRuns: 500 });
});
