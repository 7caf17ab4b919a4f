/**
 * Password verifiers for the bench users, in the formats the policy schema
 * documents (rules/policy-schema.ts `verifiers`): what `sqlgate passwd`
 * would print, so the generated policy needs no plaintext.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { Verifiers } from '../rules/policy-schema.js';

const sha1 = (b: Buffer | string): Buffer => createHash('sha1').update(b).digest();
const sha256 = (b: Buffer | string): Buffer => createHash('sha256').update(b).digest();
const hmac256 = (key: Buffer, s: string): Buffer => createHmac('sha256', key).update(s).digest();

/** `*` + upper hex SHA1(SHA1(pw)), as MySQL's PASSWORD() prints it. */
export function mysqlNative(password: string): string {
  return '*' + sha1(sha1(password)).toString('hex').toUpperCase();
}

/** Hex SHA256(SHA256(pw)). */
export function cachingSha2(password: string): string {
  return sha256(sha256(password)).toString('hex');
}

/**
 * `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>` (RFC 5802 / 7677, as
 * PostgreSQL stores it). SASLprep is skipped: bench passwords are ASCII.
 */
export function scramSha256(password: string, salt: Buffer = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const storedKey = sha256(hmac256(salted, 'Client Key'));
  const serverKey = hmac256(salted, 'Server Key');
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** `md5` + hex md5(pw + user), as PostgreSQL stores it. */
export function pgMd5(password: string, user: string): string {
  return 'md5' + createHash('md5').update(password + user).digest('hex');
}

/** All four verifiers of one user's password. */
export function allVerifiers(user: string, password: string): Verifiers {
  return {
    mysql_native: mysqlNative(password),
    caching_sha2: cachingSha2(password),
    scram_sha_256: scramSha256(password),
    md5: pgMd5(password, user),
  };
}
