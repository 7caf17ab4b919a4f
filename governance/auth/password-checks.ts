/**
 * PostgreSQL's md5 and cleartext password checks against stored verifiers.
 * Cleartext is only accepted over TLS; the caller enforces that (it knows
 * the transport), this module only compares.
 * Reference: https://www.postgresql.org/docs/15/auth-password.html
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Verifiers } from '../../rules/policy-schema.js';
import { parseScramVerifier, pgMd5Verifier, scramKeys } from './verifiers.js';

function md5hex(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Checks an md5 response (`md5` + md5(md5hex(pw+user) + salt)) against the
 * stored `md5`+md5(pw+user) verifier.
 */
export function checkMd5Response(storedMd5: string, salt: Buffer, response: string): boolean {
  if (!/^md5[0-9a-f]{32}$/.test(storedMd5)) return false;
  const expected = 'md5' + md5hex(Buffer.concat([Buffer.from(storedMd5.slice(3)), salt]));
  return sameText(expected, response);
}

/** Checks a cleartext password against whichever verifier the user has (SCRAM preferred). */
export function checkCleartext(user: string, verifiers: Verifiers | undefined, password: string): boolean {
  if (!verifiers) return false;
  if (verifiers.scram_sha_256) {
    const v = parseScramVerifier(verifiers.scram_sha_256);
    if (!v) return false;
    const { storedKey, serverKey } = scramKeys(password, v.salt, v.iterations);
    return timingSafeEqual(storedKey, v.storedKey) && timingSafeEqual(serverKey, v.serverKey);
  }
  if (verifiers.md5) return sameText(pgMd5Verifier(password, user), verifiers.md5);
  return false;
}

/** The md5 response a client computes (used by sqlgate's own upstream login). */
export function md5Response(user: string, password: string, salt: Buffer): string {
  return 'md5' + md5hex(Buffer.concat([Buffer.from(md5hex(password + user)), salt]));
}
