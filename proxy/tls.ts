/**
 * TLS material for the MySQL, PostgreSQL and HTTPS listeners: the operator's
 * PEM files, or — for the demo and first runs — a self-signed certificate
 * generated once and cached under the state directory.
 *
 * The self-signed certificate is built here with node:crypto (an ECDSA P-256
 * key, a hand-encoded DER X.509 v3 certificate) rather than by running the
 * `openssl` CLI or pulling in an npm package: it works on any machine that
 * runs Node.js, starts no process, and adds no dependency. The encoding is
 * RFC 5280 §4.1; the tests check the result with node's X509Certificate,
 * `openssl verify` and a real TLS handshake.
 */
import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SqlgateError } from '../governance/errors.js';

/** PEM cert and key, ready for `tls.createSecureContext`. */
export interface ServerTls {
  readonly cert: Buffer;
  readonly key: Buffer;
}

const RENEW_BEFORE_MS = 7 * 24 * 3600 * 1000;
const VALID_DAYS = 365;

/**
 * The listeners' certificate: `cfg.cert`/`cfg.key` PEM files when given
 * (both or neither), else a cached self-signed certificate for localhost,
 * 127.0.0.1 and ::1 under `<stateDir>/tls/`, regenerated when missing,
 * unreadable or within a week of expiry.
 */
export function serverTlsOptions(cfg?: { cert?: string; key?: string }, stateDir = '.sqlgate'): ServerTls {
  if (cfg?.cert !== undefined || cfg?.key !== undefined) {
    if (cfg.cert === undefined || cfg.key === undefined) {
      throw new SqlgateError('INTERNAL', 'sqlgate: tls needs both cert and key (or neither, for a self-signed certificate)');
    }
    const pair = { cert: readPem(cfg.cert, 'certificate'), key: readPem(cfg.key, 'key') };
    const problem = checkPair(pair);
    if (problem) throw new SqlgateError('INTERNAL', `sqlgate: tls ${cfg.cert} / ${cfg.key}: ${problem}`);
    return pair;
  }
  const dir = join(stateDir, 'tls');
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) {
    const cached = { cert: readFileSync(certFile), key: readFileSync(keyFile) };
    if (!checkPair(cached, RENEW_BEFORE_MS)) return cached;
  }
  const fresh = selfSignedCertificate();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(keyFile, fresh.key, { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  writeFileSync(certFile, fresh.cert);
  return fresh;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new SqlgateError('INTERNAL', `sqlgate: cannot read TLS ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Why a cert/key pair is unusable, or undefined if it is fine for at least `marginMs`. */
function checkPair(p: ServerTls, marginMs = 0): string | undefined {
  try {
    const x = new X509Certificate(p.cert);
    if (!x.checkPrivateKey(createPrivateKey(p.key))) return 'the key does not match the certificate';
    if (Date.parse(x.validTo) - marginMs < Date.now()) return `the certificate expires ${x.validTo}`;
    return undefined;
  } catch (e) {
    return `not a PEM certificate and key (${(e as Error).message})`;
  }
}

// --- minimal DER encoder (X.690) ---------------------------------------------

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, ...content: Buffer[]) => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
};
const seq = (...c: Buffer[]) => tlv(0x30, ...c);
const set = (...c: Buffer[]) => tlv(0x31, ...c);
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer) => tlv(0x03, Buffer.from([0]), b);
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const n of rest) {
    const chunk: number[] = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime (years 1950–2049) as RFC 5280 §4.1.2.5.1 requires, GeneralizedTime after. */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
}

const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';

/** A self-signed ECDSA P-256 certificate for localhost, 127.0.0.1 and ::1. */
export function selfSignedCertificate(commonName = 'sqlgate self-signed', now = new Date()): ServerTls {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const serial = randomBytes(16);
  serial[0] = (serial[0] & 0x7f) | 0x40; // positive, no leading zero byte
  const name = seq(set(seq(oid('2.5.4.3'), utf8(commonName))));
  const sigAlg = seq(oid(OID_ECDSA_SHA256));
  const notBefore = new Date(now.getTime() - 3600 * 1000);
  const notAfter = new Date(now.getTime() + VALID_DAYS * 24 * 3600 * 1000);
  const san = seq(
    tlv(0x82, Buffer.from('localhost')),
    tlv(0x87, Buffer.from([127, 0, 0, 1])),
    tlv(0x87, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])),
  );
  const extensions = tlv(0xa3, seq(
    seq(oid('2.5.29.19'), bool(true), octets(seq())), // basicConstraints: not a CA
    seq(oid('2.5.29.15'), bool(true), octets(bits(Buffer.from([0x80])))), // keyUsage: digitalSignature
    seq(oid('2.5.29.37'), octets(seq(oid('1.3.6.1.5.5.7.3.1')))), // extKeyUsage: serverAuth
    seq(oid('2.5.29.17'), octets(san)), // subjectAltName
  ));
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))), // version v3
    tlv(0x02, serial),
    sigAlg,
    name,
    seq(time(notBefore), time(notAfter)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    extensions,
  );
  const signature = sign('sha256', tbs, privateKey); // DER ECDSA-Sig-Value
  const der = seq(tbs, sigAlg, bits(signature));
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return {
    cert: Buffer.from(`-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`),
    key: Buffer.from(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string),
  };
}
