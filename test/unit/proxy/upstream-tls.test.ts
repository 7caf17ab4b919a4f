import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { checkUpstreamTls, readCaFile, upstreamTlsOptions } from '../../../proxy/upstream-tls.js';
import { upstreamTls, type UpstreamTarget } from '../../../governance/gate.js';
import { policySchema } from '../../../rules/policy-schema.js';
import { newCertificate } from '../../helpers/certs.js';

const target = (host: string): UpstreamTarget => ({
  instance: 'db1', protocol: 'postgres', host, port: 5432, user: 'svc', password: undefined, database: undefined,
  tls: { ca: undefined, verify: 'full', servername: undefined },
});

test('policy: tls is false, true, or an object with ca / verify / servername; anything else is refused', () => {
  const parse = (tls: unknown) => policySchema.safeParse({ version: 1, instances: { db1: { protocol: 'postgres', port: 5432, user: 'svc', tls } } });
  assert.equal(upstreamTls(policySchema.parse({ version: 1, instances: { db1: { protocol: 'postgres', port: 5432, user: 'svc' } } }).instances.db1.tls), undefined);
  assert.deepEqual(upstreamTls(true), { ca: undefined, verify: 'full', servername: undefined }, 'true verifies fully');
  const obj = parse({ ca: '/etc/ca.pem' });
  assert.ok(obj.success);
  assert.deepEqual(upstreamTls(obj.data.instances.db1.tls), { ca: '/etc/ca.pem', verify: 'full', servername: undefined }, 'an object defaults to full');
  for (const bad of [{ verify: 'maybe' }, { verify: false }, { cert: '/x.pem' }, { ca: '' }, 'yes', 1]) {
    assert.equal(parse(bad).success, false, JSON.stringify(bad));
  }
});

test('connection options: full checks chain and name, ca the chain only, none nothing; SNI never carries an address', () => {
  const t = target('127.0.0.1');
  const full = upstreamTlsOptions(t, { ca: undefined, verify: 'full', servername: undefined }, undefined);
  assert.equal(full.rejectUnauthorized, true);
  assert.equal(full.host, '127.0.0.1', 'the name checked is the host');
  assert.equal(full.servername, undefined, 'no SNI for an address');
  assert.equal(full.checkServerIdentity, undefined, 'node\'s own name check');
  assert.equal(full.ca, undefined, 'node\'s bundled CAs');
  const named = upstreamTlsOptions(t, { ca: undefined, verify: 'full', servername: 'db.internal' }, undefined);
  assert.equal(named.host, 'db.internal');
  assert.equal(named.servername, 'db.internal');
  const byName = upstreamTlsOptions(target('db.example.com'), { ca: undefined, verify: 'full', servername: undefined }, undefined);
  assert.equal(byName.servername, 'db.example.com');
  const ca = upstreamTlsOptions(t, { ca: undefined, verify: 'ca', servername: undefined }, undefined);
  assert.equal(ca.rejectUnauthorized, true);
  assert.equal(ca.checkServerIdentity?.('elsewhere', {} as never), undefined, 'any name passes');
  assert.equal(upstreamTlsOptions(t, { ca: undefined, verify: 'none', servername: undefined }, undefined).rejectUnauthorized, false);
});

test('CA files: read, checked, and re-read when they change; a bad one is an error naming it', () => {
  const a = newCertificate();
  const b = newCertificate();
  const file = `${a.certFile}.bundle`;
  writeFileSync(file, a.cert);
  assert.equal(readCaFile(file), a.cert.toString('latin1'));
  writeFileSync(file, Buffer.concat([a.cert, b.cert, Buffer.from('\n')]));
  assert.equal(readCaFile(file), Buffer.concat([a.cert, b.cert, Buffer.from('\n')]).toString('latin1'), 'a rotated file is read again');
  const opts = upstreamTlsOptions(target('127.0.0.1'), { ca: file, verify: 'full', servername: undefined }, undefined);
  assert.match(String(opts.ca), /BEGIN CERTIFICATE[\s\S]+BEGIN CERTIFICATE/, 'a bundle is passed whole');
  const err = (code: string, message: RegExp) => (e: { code?: string; message: string }) => e.code === code && message.test(e.message);
  assert.throws(() => readCaFile(`${file}.missing`), err('UPSTREAM_UNAVAILABLE', /CA file .*\.missing is unusable: cannot read it \(ENOENT\)/));
  writeFileSync(file, a.key);
  assert.throws(() => readCaFile(file), err('UPSTREAM_UNAVAILABLE', /holds no PEM certificate/));
  writeFileSync(file, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n');
  assert.throws(() => readCaFile(file), err('UPSTREAM_UNAVAILABLE', /a certificate in it cannot be read/));
});

test('policy check: an unusable CA file is a problem at its path, verify: none is reported, the rest is quiet', () => {
  const warnings: string[] = [];
  const log = { warn: (_o: object, msg: string) => { warnings.push(msg); } };
  const inst = (tls: unknown) => policySchema.parse({ version: 1, instances: { db1: { protocol: 'mysql', port: 3306, user: 'svc', tls } } }).instances;
  assert.deepEqual(checkUpstreamTls(inst(true), log), []);
  assert.deepEqual(checkUpstreamTls(inst({ ca: newCertificate().certFile }), log), []);
  assert.deepEqual(warnings, []);
  assert.deepEqual(checkUpstreamTls(inst({ verify: 'none' }), log), []);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /db1: tls\.verify is none/);
  assert.deepEqual(checkUpstreamTls(inst({ ca: '/nonexistent/ca.pem' }), log),
    [{ path: 'instances.db1.tls.ca', message: 'the upstream CA file /nonexistent/ca.pem is unusable: cannot read it (ENOENT)' }]);
});
