/**
 * Password verifiers in the formats the databases themselves store, so a
 * policy can hold what `SELECT PASSWORD(...)` or `pg_authid.rolpassword`
 * would, never the plaintext (DESIGN.md decision 7).
 *
 * References: MySQL mysql_native_password and caching_sha2_password
 * (dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_authentication_methods.html);
 * RFC 5802 / RFC 7677 (SCRAM-SHA-256); RFC 4013 (SASLprep);
 * PostgreSQL src/common/scram-common.c and src/backend/libpq/auth-scram.c
 * for the stored form `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { Verifiers } from '../../rules/policy-schema.js';

/** PostgreSQL's default `scram_iterations`. */
export const SCRAM_ITERATIONS = 4096;
const SCRAM_SALT_BYTES = 16;

const sha1 = (b: Buffer | string) => createHash('sha1').update(b).digest();
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest();

/** `*` + upper-case hex SHA1(SHA1(password)), as MariaDB/MySQL `PASSWORD()` prints it. */
export function mysqlNativeVerifier(password: string): string {
  return '*' + sha1(sha1(Buffer.from(password, 'utf8'))).toString('hex').toUpperCase();
}

/**
 * Hex SHA256(SHA256(password)). It answers caching_sha2 fast auth (the
 * scramble proves SHA256(password) against it) and, over TLS or RSA, full
 * auth by hashing the cleartext twice.
 */
export function cachingSha2Verifier(password: string): string {
  return sha256(sha256(Buffer.from(password, 'utf8'))).toString('hex');
}

/** `md5` + hex md5(password + username), PostgreSQL's md5 format. */
export function pgMd5Verifier(password: string, user: string): string {
  return 'md5' + createHash('md5').update(password + user, 'utf8').digest('hex');
}

// RFC 3454 tables used by SASLprep (RFC 4013), as code point ranges.
const MAP_TO_NOTHING: readonly [number, number][] = [
  [0x00ad, 0x00ad], [0x034f, 0x034f], [0x1806, 0x1806], [0x180b, 0x180d], [0x200b, 0x200d],
  [0x2060, 0x2060], [0xfe00, 0xfe0f], [0xfeff, 0xfeff],
];
const NON_ASCII_SPACE: readonly [number, number][] = [
  [0x00a0, 0x00a0], [0x1680, 0x1680], [0x2000, 0x200b], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000],
];
const PROHIBITED: readonly [number, number][] = [
  ...NON_ASCII_SPACE, [0x0000, 0x001f], [0x007f, 0x009f], [0x06dd, 0x06dd], [0x070f, 0x070f],
  [0x180e, 0x180e], [0x200c, 0x200f], [0x2028, 0x202e], [0x2060, 0x2063], [0x206a, 0x206f],
  [0xfeff, 0xfeff], [0xfff9, 0xfffd], [0x1d173, 0x1d17a], [0xe000, 0xf8ff], [0xf0000, 0xffffd],
  [0x100000, 0x10fffd], [0xfdd0, 0xfdef], [0xd800, 0xdfff], [0x2ff0, 0x2ffb], [0x0340, 0x0341],
  [0xe0001, 0xe0001], [0xe0020, 0xe007f],
];
const inRanges = (cp: number, r: readonly [number, number][]) => r.some(([a, b]) => cp >= a && cp <= b);
const isNonCharacter = (cp: number) => (cp & 0xfffe) === 0xfffe;

/**
 * SASLprep as PostgreSQL applies it to SCRAM passwords: map, NFKC, then
 * refuse prohibited characters. PostgreSQL then falls back to the raw bytes
 * (it never rejects a password), so this returns the input on refusal.
 * Not covered: the bidirectional-text rule and unassigned code points; a
 * password containing right-to-left text may get a verifier PostgreSQL would
 * not, which the test suite notes.
 */
export function saslprep(password: string): string {
  if (/^[\x20-\x7e]*$/.test(password)) return password;
  let mapped = '';
  for (const ch of password) {
    const cp = ch.codePointAt(0)!;
    if (inRanges(cp, MAP_TO_NOTHING)) continue;
    mapped += inRanges(cp, NON_ASCII_SPACE) ? ' ' : ch;
  }
  const norm = mapped.normalize('NFKC');
  for (const ch of norm) {
    const cp = ch.codePointAt(0)!;
    if (inRanges(cp, PROHIBITED) || isNonCharacter(cp)) return password;
  }
  return norm;
}

/** The four SCRAM values PostgreSQL stores. */
export interface ScramVerifier {
  readonly iterations: number;
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/** SCRAM-SHA-256 keys for a password, salt and iteration count (RFC 5802 §3). */
export function scramKeys(password: string, salt: Buffer, iterations: number): ScramVerifier {
  const salted = pbkdf2Sync(Buffer.from(saslprep(password), 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return { iterations, salt, storedKey: sha256(clientKey), serverKey };
}

/** `SCRAM-SHA-256$<iter>:<salt b64>$<StoredKey b64>:<ServerKey b64>`; a random 16-byte salt unless given. */
export function scramVerifier(password: string, opts: { salt?: Buffer; iterations?: number } = {}): string {
  const k = scramKeys(password, opts.salt ?? randomBytes(SCRAM_SALT_BYTES), opts.iterations ?? SCRAM_ITERATIONS);
  return formatScramVerifier(k);
}

export function formatScramVerifier(k: ScramVerifier): string {
  return `SCRAM-SHA-256$${k.iterations}:${k.salt.toString('base64')}$${k.storedKey.toString('base64')}:${k.serverKey.toString('base64')}`;
}

const B64 = '[A-Za-z0-9+/]+={0,2}';
const SCRAM_RE = new RegExp(`^SCRAM-SHA-256\\$(\\d{1,9}):(${B64})\\$(${B64}):(${B64})$`);

/** Parses PostgreSQL's stored SCRAM form; undefined if it is not one. */
export function parseScramVerifier(v: string): ScramVerifier | undefined {
  const m = SCRAM_RE.exec(v);
  if (!m) return undefined;
  const iterations = Number(m[1]);
  const salt = Buffer.from(m[2], 'base64');
  const storedKey = Buffer.from(m[3], 'base64');
  const serverKey = Buffer.from(m[4], 'base64');
  if (iterations < 1 || salt.length === 0 || storedKey.length !== 32 || serverKey.length !== 32) return undefined;
  return { iterations, salt, storedKey, serverKey };
}

/** Every verifier the policy schema knows, for one user and password. */
export function makeVerifiers(user: string, password: string, opts: { salt?: Buffer; iterations?: number } = {}): Required<Verifiers> {
  return {
    mysql_native: mysqlNativeVerifier(password),
    caching_sha2: cachingSha2Verifier(password),
    scram_sha_256: scramVerifier(password, opts),
    md5: pgMd5Verifier(password, user),
  };
}
