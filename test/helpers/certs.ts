/**
 * Self-signed certificates for TLS tests (sqlgate's own generator, proxy/tls.ts:
 * localhost, 127.0.0.1 and ::1), also written to files that go away with the
 * process. Each call makes a new key; being self-signed, a certificate is its
 * own CA: pass `certFile` as a `ca` to trust exactly that one.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSignedCertificate } from '../../proxy/tls.js';

export interface TestCertificate {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly certFile: string;
  readonly keyFile: string;
}

let dir: string | undefined;
let made = 0;

export function newCertificate(): TestCertificate {
  if (!dir) {
    dir = mkdtempSync(join(tmpdir(), 'sqlgate-test-certs-'));
    const d = dir;
    process.once('exit', () => rmSync(d, { recursive: true, force: true }));
  }
  const { cert, key } = selfSignedCertificate();
  const base = join(dir, `c${++made}`);
  writeFileSync(`${base}.crt`, cert);
  writeFileSync(`${base}.key`, key, { mode: 0o600 });
  return { cert, key, certFile: `${base}.crt`, keyFile: `${base}.key` };
}
