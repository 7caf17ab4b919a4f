/**
 * Checking a MySQL client's password proof against the stored verifiers
 * (never the plaintext; DESIGN.md decision 7):
 * - mysql_native_password: verifier `*` + HEX(SHA1(SHA1(pw))).
 * - caching_sha2_password fast path: verifier HEX(SHA256(SHA256(pw))).
 * - caching_sha2_password full authentication: the plaintext arrives over TLS,
 *   or RSA-OAEP encrypted with our key pair; it is checked against every
 *   verifier the user has, then forgotten.
 * Reference: https://dev.mysql.com/doc/dev/mysql-server/latest/page_caching_sha2_authentication_exchanges.html
 */
import { generateKeyPairSync, privateDecrypt, constants, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { Verifiers } from '../../rules/policy-schema.js';
import { cachingSha2Verifier, mysqlNativeVerifier } from './verifiers.js';
import { sha1, sha256, xor } from '../../wire/mysql/auth-scramble.js';

/** The verifiers as `sqlgate passwd` stores them (governance/auth/verifiers.ts). */
export const nativeVerifier = mysqlNativeVerifier;
export { cachingSha2Verifier };

function same(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Checks a mysql_native_password scramble for `seed` against a `*HEX` verifier. */
export function verifyNativeScramble(token: Buffer, seed: Buffer, verifier: string | undefined): boolean {
  if (!verifier || !/^\*[0-9A-F]{40}$/.test(verifier)) return false;
  if (token.length === 0) return verifier === nativeVerifier('');
  if (token.length !== 20) return false;
  const stage2 = Buffer.from(verifier.slice(1), 'hex');
  const stage1 = xor(token, sha1(seed.subarray(0, 20), stage2));
  return same(sha1(stage1), stage2);
}

/** Checks a caching_sha2_password fast-path scramble against a HEX(SHA256(SHA256(pw))) verifier. */
export function verifyCachingSha2Scramble(token: Buffer, seed: Buffer, verifier: string | undefined): boolean {
  if (!verifier || !/^[0-9a-f]{64}$/.test(verifier)) return false;
  if (token.length === 0) return verifier === cachingSha2Verifier('');
  if (token.length !== 32) return false;
  const stage2 = Buffer.from(verifier, 'hex');
  const stage1 = xor(token, sha256(stage2, seed.subarray(0, 20)));
  return same(sha256(stage1), stage2);
}

/**
 * Checks a plaintext password (full authentication) against the user's
 * MySQL verifiers: every one present must match, and at least one must exist.
 */
export function verifyCleartext(password: string, verifiers: Verifiers | undefined): boolean {
  if (!verifiers) return false;
  let checked = 0;
  let ok = true;
  if (verifiers.mysql_native) {
    checked++;
    ok = same(Buffer.from(nativeVerifier(password)), Buffer.from(verifiers.mysql_native)) && ok;
  }
  if (verifiers.caching_sha2) {
    checked++;
    ok = same(Buffer.from(cachingSha2Verifier(password)), Buffer.from(verifiers.caching_sha2)) && ok;
  }
  return checked > 0 && ok;
}

/** The RSA key pair offered to clients doing caching_sha2 full authentication without TLS. */
export interface RsaKeys {
  readonly publicKeyPem: string;
  readonly privateKey: KeyObject;
}

let processKeys: RsaKeys | undefined;

/** A 2048-bit key pair made once per process (a generated pair is what MySQL itself does without configured keys). */
export function rsaKeys(): RsaKeys {
  if (!processKeys) {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    processKeys = { publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey };
  }
  return processKeys;
}

/** Decrypts an RSA-OAEP password blob: (pw + NUL) XOR seed. Undefined when it does not decrypt. */
export function decryptRsaPassword(blob: Buffer, seed: Buffer, keys: RsaKeys = rsaKeys()): string | undefined {
  try {
    const plain = xor(privateDecrypt({ key: keys.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, blob), seed.subarray(0, 20));
    return cleartextPassword(plain);
  } catch {
    return undefined;
  }
}

/** A cleartext password packet's text: up to its NUL terminator. */
export function cleartextPassword(data: Buffer): string {
  const end = data.indexOf(0);
  return (end < 0 ? data : data.subarray(0, end)).toString('utf8');
}
