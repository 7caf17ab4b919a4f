/**
 * The arithmetic of the two password plugins, shared by the client side
 * (logging in upstream) and the server side (checking a client's answer).
 * Reference: https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_authentication_methods_native_password_authentication.html
 * and page_caching_sha2_authentication_exchanges.html.
 */
import { createHash, publicEncrypt, constants } from 'node:crypto';

export function sha1(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
}

export function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

export function xor(a: Uint8Array, b: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i % b.length];
  return out;
}

/** mysql_native_password: SHA1(pw) XOR SHA1(seed + SHA1(SHA1(pw))); empty for an empty password. */
export function nativeToken(password: string, seed: Uint8Array): Buffer {
  if (password === '') return Buffer.alloc(0);
  const stage1 = sha1(Buffer.from(password, 'utf8'));
  return xor(stage1, sha1(seed.subarray(0, 20), sha1(stage1)));
}

/** caching_sha2_password: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + seed); empty for an empty password. */
export function cachingSha2Token(password: string, seed: Uint8Array): Buffer {
  if (password === '') return Buffer.alloc(0);
  const stage1 = sha256(Buffer.from(password, 'utf8'));
  return xor(stage1, sha256(sha256(stage1), seed.subarray(0, 20)));
}

/** caching_sha2_password full authentication without TLS: (pw + NUL) XOR seed, RSA-OAEP encrypted with the server's key. */
export function rsaEncryptPassword(password: string, seed: Uint8Array, publicKeyPem: string | Buffer): Buffer {
  const plain = xor(Buffer.from(password + '\0', 'utf8'), seed.subarray(0, 20));
  return publicEncrypt({ key: publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, plain);
}
