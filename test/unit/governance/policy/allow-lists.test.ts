import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicy } from '../../../../governance/policy/load.js';
import { allowListsOf } from '../../../../governance/policy/allow-lists.js';

const base = (extra: string) => `version: 1
listeners:
  - { protocol: mysql, listen: "127.0.0.1:6033", instance: m1 }
  - { protocol: mysql, listen: "127.0.0.1:6034", instance: m1, trusted_proxies: [] }
  - { protocol: mysql, listen: "127.0.0.1:6035", instance: m1, trusted_proxies: 10.0.0.5 }
instances:
  m1: { protocol: mysql, port: 3306, user: root, ip_allow: "10.0.0.0/8, 127.0.0.1" }
  m2: { protocol: mysql, port: 3307, user: root }
users:
  alice: { password: { md5: md5e28bd24942d50bf9d9f9d7d72329ba97 }, ip_allow: [10.1.0.0/16] }
  bob: { password: { md5: md5e28bd24942d50bf9d9f9d7d72329ba97 } }
${extra}`;

test('global list absent means loopback only; [] means no restriction', () => {
  const absent = allowListsOf(parsePolicy(base(''), 'p.yaml'));
  assert.ok(absent.global.matches('127.0.0.1'));
  assert.ok(absent.global.matches('127.9.9.9'));
  assert.ok(absent.global.matches('::1'));
  assert.ok(absent.global.matches('::ffff:127.0.0.1'));
  assert.ok(!absent.global.matches('10.0.0.1'));
  const open = allowListsOf(parsePolicy(base('ip_allow: []'), 'p.yaml'));
  assert.ok(open.global.matches('203.0.113.9'));
  const set = allowListsOf(parsePolicy(base('ip_allow: 192.168.0.0/16'), 'p.yaml'));
  assert.ok(set.global.matches('192.168.3.4') && !set.global.matches('127.0.0.1'));
});

test('instance and user lists; absent ones do not restrict', () => {
  const l = allowListsOf(parsePolicy(base(''), 'p.yaml'));
  assert.ok(l.instance('m1').matches('10.2.3.4'));
  assert.ok(!l.instance('m1').matches('192.168.0.1'));
  assert.ok(l.instance('m2').matches('192.168.0.1'));
  assert.ok(l.user('alice').matches('10.1.2.3'));
  assert.ok(!l.user('alice').matches('10.2.0.1'));
  assert.ok(l.user('bob').matches('192.168.0.1'));
  assert.ok(l.user('nobody').matches('192.168.0.1'));
});

test('trusted proxies: absent or empty trusts nobody', () => {
  const l = allowListsOf(parsePolicy(base(''), 'p.yaml'));
  assert.equal(l.trustedProxy(0, '127.0.0.1'), false);
  assert.equal(l.trustedProxy(1, '127.0.0.1'), false);
  assert.equal(l.trustedProxy(2, '10.0.0.5'), true);
  assert.equal(l.trustedProxy(2, '::ffff:10.0.0.5'), true);
  assert.equal(l.trustedProxy(2, '10.0.0.6'), false);
  assert.equal(l.trustedProxy(9, '10.0.0.5'), false);
});

test('parsed once per policy object', () => {
  const p = parsePolicy(base(''), 'p.yaml');
  assert.equal(allowListsOf(p), allowListsOf(p));
  assert.notEqual(allowListsOf(parsePolicy(base(''), 'p.yaml')), allowListsOf(p));
});
