/**
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it: the server side
 * verifies a client against a stored verifier (never the password); the
 * client side lets sqlgate log in to an upstream with its service account.
 * Channel binding (SCRAM-SHA-256-PLUS) is never offered: sqlgate terminates
 * the client's TLS, so a binding to it would prove nothing about the upstream.
 * Reference: https://www.postgresql.org/docs/15/sasl-authentication.html
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseScramVerifier, saslprep, type ScramVerifier } from './verifiers.js';

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';

export { parseScramVerifier, type ScramVerifier };

function hmac(key: Buffer, data: string | Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

/** ClientKey, StoredKey and ServerKey for a password (the client side needs ClientKey too). */
function clientKeys(password: string, salt: Buffer, iterations: number): { clientKey: Buffer; storedKey: Buffer; serverKey: Buffer } {
  const salted = pbkdf2Sync(Buffer.from(saslprep(password), 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  return { clientKey, storedKey: sha256(clientKey), serverKey: hmac(salted, 'Server Key') };
}

/** Attributes of a SCRAM message: `a=1,b=2` → {a:'1', b:'2'}; order is checked by the caller. */
function attributes(msg: string): [string, string][] {
  return msg.split(',').map((part) => {
    if (part.length < 2 || part[1] !== '=') throw new ScramError('malformed SCRAM message');
    return [part[0], part.slice(2)];
  });
}

/** A SCRAM exchange that cannot go on: the login fails. */
export class ScramError extends Error {}

const PRINTABLE_NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;

/**
 * Server side of one exchange. `verifier` undefined (unknown user) runs the
 * exchange against a made-up verifier so that it fails exactly like a wrong
 * password, without revealing whether the user exists.
 */
export class ScramServer {
  private readonly verifier: ScramVerifier;
  private readonly real: boolean;
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private gs2Header = '';

  constructor(verifier: ScramVerifier | undefined) {
    this.real = verifier !== undefined;
    this.verifier = verifier ?? {
      iterations: 4096, salt: randomBytes(16), storedKey: randomBytes(32), serverKey: randomBytes(32),
    };
  }

  /** Takes client-first-message, returns server-first-message. */
  clientFirst(msg: string): string {
    // gs2-header: "n" (no binding), "y" (client could bind but we did not offer it); "p=" asks for PLUS: refused.
    const m = /^([ny]),(?:a=[^,]*)?,(.*)$/s.exec(msg);
    if (!m) throw new ScramError('channel binding is not supported (SCRAM-SHA-256-PLUS is not offered)');
    this.gs2Header = msg.slice(0, msg.length - m[2].length);
    this.clientFirstBare = m[2];
    const attrs = attributes(this.clientFirstBare);
    if (attrs[0]?.[0] === 'm') throw new ScramError('SCRAM extensions are not supported');
    if (attrs[0]?.[0] !== 'n' || attrs[1]?.[0] !== 'r') throw new ScramError('malformed SCRAM client-first-message');
    const clientNonce = attrs[1][1];
    if (!PRINTABLE_NONCE.test(clientNonce)) throw new ScramError('malformed SCRAM nonce');
    this.nonce = clientNonce + randomBytes(18).toString('base64');
    this.serverFirst = `r=${this.nonce},s=${this.verifier.salt.toString('base64')},i=${this.verifier.iterations}`;
    return this.serverFirst;
  }

  /** Takes client-final-message; returns server-final-message when the proof is right, else undefined. */
  clientFinal(msg: string): string | undefined {
    const attrs = attributes(msg);
    const proofIndex = attrs.findIndex(([k]) => k === 'p');
    if (attrs[0]?.[0] !== 'c' || attrs[1]?.[0] !== 'r' || proofIndex !== attrs.length - 1) {
      throw new ScramError('malformed SCRAM client-final-message');
    }
    if (attrs[0][1] !== Buffer.from(this.gs2Header).toString('base64')) throw new ScramError('SCRAM channel binding mismatch');
    if (attrs[1][1] !== this.nonce) throw new ScramError('SCRAM nonce mismatch');
    const proof = Buffer.from(attrs[proofIndex][1], 'base64');
    const withoutProof = msg.slice(0, msg.lastIndexOf(',p='));
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const signature = hmac(this.verifier.storedKey, authMessage);
    if (proof.length !== signature.length) return undefined;
    const ok = timingSafeEqual(sha256(xor(proof, signature)), this.verifier.storedKey);
    if (!ok || !this.real) return undefined;
    return `v=${hmac(this.verifier.serverKey, authMessage).toString('base64')}`;
  }
}

/** Client side of one exchange, for the upstream service-account login. */
export class ScramClient {
  private readonly clientNonce = randomBytes(18).toString('base64');
  private clientFirstBare = '';
  private expectedServerSignature: Buffer | undefined;

  constructor(private readonly password: string) {}

  /** client-first-message (the user name is taken from the startup packet, as PostgreSQL does). */
  first(): string {
    this.clientFirstBare = `n=*,r=${this.clientNonce}`;
    return `n,,${this.clientFirstBare}`;
  }

  /** Takes server-first-message, returns client-final-message. */
  final(serverFirst: string): string {
    const attrs = new Map(attributes(serverFirst));
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (!nonce?.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length || !salt || !(iterations > 0)) {
      throw new ScramError('upstream sent a malformed SCRAM server-first-message');
    }
    const keys = clientKeys(this.password, Buffer.from(salt, 'base64'), iterations);
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const proof = xor(keys.clientKey, hmac(keys.storedKey, authMessage));
    this.expectedServerSignature = hmac(keys.serverKey, authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Checks server-final-message: the upstream proves it knew the verifier too. */
  verify(serverFinal: string): void {
    const v = /^v=([A-Za-z0-9+/=]+)$/.exec(serverFinal.trim());
    const sig = v ? Buffer.from(v[1], 'base64') : Buffer.alloc(0);
    if (!this.expectedServerSignature || sig.length !== 32 || !timingSafeEqual(sig, this.expectedServerSignature)) {
      throw new ScramError('upstream SCRAM server signature does not match');
    }
  }
}
