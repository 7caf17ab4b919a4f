import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { selfSignedCertificate, serverTlsOptions } from '../../../proxy/tls.js';
import { SqlgateError } from '../../../governance/errors.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'sg-tls-'));

test('self-signed certificate parses, is self-signed, names localhost and loopback IPs', () => {
  const { cert, key } = selfSignedCertificate();
  const x = new X509Certificate(cert);
  assert.ok(x.verify(x.publicKey), 'signature checks with its own key');
  assert.equal(x.subject, x.issuer);
  assert.match(x.subject, /CN=sqlgate/);
  assert.equal(x.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  assert.equal(x.ca, false);
  assert.deepEqual(x.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  assert.ok(x.checkHost('localhost'));
  assert.ok(x.checkIP('127.0.0.1'));
  assert.ok(x.checkIP('::1'));
  assert.ok(Date.parse(x.validFrom) <= Date.now() && Date.parse(x.validTo) > Date.now() + 300 * 86400_000);
  assert.match(key.toString(), /BEGIN PRIVATE KEY/);
});

test('openssl accepts the certificate', (t) => {
  if (spawnSync('openssl', ['version']).status !== 0) { t.skip('openssl CLI not installed'); return; }
  const dir = tmp();
  try {
    const f = join(dir, 'c.pem');
    writeFileSync(f, selfSignedCertificate().cert);
    const v = spawnSync('openssl', ['verify', '-x509_strict', '-CAfile', f, f], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stdout + v.stderr);
    const text = spawnSync('openssl', ['x509', '-in', f, '-noout', '-text'], { encoding: 'utf8' });
    assert.match(text.stdout, /Version: 3/);
    assert.match(text.stdout, /ecdsa-with-SHA256/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a TLS client that trusts the certificate completes a handshake to 127.0.0.1 and localhost', async () => {
  const dir = tmp();
  try {
    const opts = serverTlsOptions(undefined, dir);
    const server = tls.createServer({ cert: opts.cert, key: opts.key }, (s) => s.end('hi'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    try {
      for (const servername of [undefined, 'localhost']) {
        const c = tls.connect({ host: '127.0.0.1', port, ca: opts.cert, servername });
        await once(c, 'secureConnect');
        assert.equal(c.authorized, true, String(c.authorizationError));
        c.destroy();
      }
    } finally {
      server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the generated certificate is cached, key file private, and renewed when near expiry', () => {
  const dir = tmp();
  try {
    const a = serverTlsOptions(undefined, dir);
    const b = serverTlsOptions(undefined, dir);
    assert.deepEqual(a.cert, b.cert);
    assert.equal(statSync(join(dir, 'tls', 'key.pem')).mode & 0o777, 0o600);
    const old = selfSignedCertificate('old', new Date(Date.now() - 360 * 86400_000));
    writeFileSync(join(dir, 'tls', 'cert.pem'), old.cert);
    writeFileSync(join(dir, 'tls', 'key.pem'), old.key);
    const c = serverTlsOptions(undefined, dir);
    assert.notDeepEqual(c.cert, old.cert, 'a certificate expiring within a week is replaced');
    writeFileSync(join(dir, 'tls', 'cert.pem'), 'garbage');
    const d = serverTlsOptions(undefined, dir);
    assert.ok(new X509Certificate(d.cert));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('operator PEM files are used as given; bad configurations are refused', () => {
  const dir = tmp();
  try {
    mkdirSync(join(dir, 'pem'));
    const one = selfSignedCertificate('one');
    const two = selfSignedCertificate('two');
    const f = (n: string, b: Buffer) => { const p = join(dir, 'pem', n); writeFileSync(p, b); return p; };
    const cert = f('cert.pem', one.cert);
    const key = f('key.pem', one.key);
    assert.deepEqual(serverTlsOptions({ cert, key }, dir), { cert: one.cert, key: one.key });
    const isErr = (re: RegExp) => (e: unknown) => e instanceof SqlgateError && re.test(e.message);
    assert.throws(() => serverTlsOptions({ cert }, dir), isErr(/both cert and key/));
    assert.throws(() => serverTlsOptions({ cert, key: join(dir, 'nope.pem') }, dir), isErr(/ENOENT/));
    assert.throws(() => serverTlsOptions({ cert, key: f('k2.pem', two.key) }, dir), isErr(/does not match/));
    assert.throws(() => serverTlsOptions({ cert: f('bad.pem', Buffer.from('x')), key }, dir), isErr(/not a PEM/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
