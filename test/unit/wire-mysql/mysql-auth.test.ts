import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import {
  cachingSha2Verifier, decryptRsaPassword, nativeVerifier, rsaKeys, verifyCachingSha2Scramble, verifyCleartext, verifyNativeScramble,
} from '../../../governance/auth/mysql-auth.js';
import { cachingSha2Token, nativeToken, rsaEncryptPassword } from '../../../wire/mysql/auth-scramble.js';

// mysql2's own client-side implementations serve as the independent encoder.
const require = createRequire(import.meta.url);
const lib = join(dirname(require.resolve('mysql2')), 'lib');
const auth41 = require(join(lib, 'auth_41.js')) as { calculateToken(pw: string, s1: Buffer, s2: Buffer): Buffer };
const sha2 = require(join(lib, 'auth_plugins/caching_sha2_password.js')) as { calculateToken(pw: string, s: Buffer): Buffer };

const seed = randomBytes(20);

test('verifiers are what MySQL stores', () => {
  // SELECT PASSWORD('secret') on MariaDB
  assert.equal(nativeVerifier('secret'), '*14E65567ABDB5135D0CFD9A70B3032C179A49EE7');
  assert.match(cachingSha2Verifier('secret'), /^[0-9a-f]{64}$/);
});

test('mysql_native_password scrambles: right password passes, wrong one, other seed, bad lengths fail', () => {
  const v = nativeVerifier('s3cret é');
  const token = auth41.calculateToken('s3cret é', seed.subarray(0, 8), seed.subarray(8));
  assert.ok(token.equals(nativeToken('s3cret é', seed)));
  assert.equal(verifyNativeScramble(token, seed, v), true);
  assert.equal(verifyNativeScramble(nativeToken('s3cret', seed), seed, v), false);
  assert.equal(verifyNativeScramble(token, randomBytes(20), v), false);
  assert.equal(verifyNativeScramble(token.subarray(0, 19), seed, v), false);
  assert.equal(verifyNativeScramble(Buffer.alloc(0), seed, v), false);
  assert.equal(verifyNativeScramble(Buffer.alloc(0), seed, nativeVerifier('')), true);
  assert.equal(verifyNativeScramble(token, seed, undefined), false);
});

test('caching_sha2_password fast path', () => {
  const v = cachingSha2Verifier('pa55');
  const token = sha2.calculateToken('pa55', seed);
  assert.ok(token.equals(cachingSha2Token('pa55', seed)));
  assert.equal(verifyCachingSha2Scramble(token, seed, v), true);
  assert.equal(verifyCachingSha2Scramble(sha2.calculateToken('pa56', seed), seed, v), false);
  assert.equal(verifyCachingSha2Scramble(token, randomBytes(20), v), false);
  assert.equal(verifyCachingSha2Scramble(Buffer.alloc(0), seed, v), false);
});

test('full authentication: cleartext and RSA-encrypted passwords checked against every verifier', () => {
  const both = { mysql_native: nativeVerifier('pw'), caching_sha2: cachingSha2Verifier('pw') };
  assert.equal(verifyCleartext('pw', both), true);
  assert.equal(verifyCleartext('px', both), false);
  assert.equal(verifyCleartext('pw', { mysql_native: nativeVerifier('pw') }), true);
  assert.equal(verifyCleartext('pw', { mysql_native: nativeVerifier('pw'), caching_sha2: cachingSha2Verifier('other') }), false);
  assert.equal(verifyCleartext('pw', {}), false);
  const keys = rsaKeys();
  const blob = rsaEncryptPassword('pw ✓', seed, keys.publicKeyPem);
  assert.equal(decryptRsaPassword(blob, seed, keys), 'pw ✓');
  assert.equal(decryptRsaPassword(randomBytes(256), seed, keys), undefined);
});
