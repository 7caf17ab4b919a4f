import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { ScramClient, ScramError, ScramServer, parseScramVerifier } from '../../../governance/auth/scram.js';
import { checkCleartext, checkMd5Response, md5Response } from '../../../governance/auth/password-checks.js';
import { md5VerifierFor, scramVerifierFor } from './make-verifiers.js';

// node-postgres's SCRAM client is the independent counterpart.
const require = createRequire(import.meta.url);
const sasl = require('pg/lib/crypto/sasl.js') as {
  startSession(m: string[], stream?: unknown): { response: string; serverSignature?: string };
  continueSession(s: unknown, pw: string, data: string, stream?: unknown): Promise<void>;
  finalizeSession(s: unknown, data: string): void;
};

async function pgClientAgainst(server: ScramServer, password: string, tls = false): Promise<'ok' | 'refused'> {
  const stream = tls ? { getPeerCertificate: undefined } : undefined;
  const session = sasl.startSession(['SCRAM-SHA-256'], stream);
  const serverFirst = server.clientFirst(session.response);
  await sasl.continueSession(session, password, serverFirst, stream);
  const serverFinal = server.clientFinal(session.response);
  if (serverFinal === undefined) return 'refused';
  sasl.finalizeSession(session, serverFinal);
  return 'ok';
}

test('scram: node-postgres client logs in against a stored verifier', async () => {
  const v = parseScramVerifier(scramVerifierFor('s3cret'))!;
  assert.equal(await pgClientAgainst(new ScramServer(v), 's3cret'), 'ok');
  assert.equal(await pgClientAgainst(new ScramServer(v), 's3cret', true), 'ok', 'gs2 "y" (client over TLS, no PLUS offered)');
  assert.equal(await pgClientAgainst(new ScramServer(v), 'wrong'), 'refused');
});

test('scram: unknown user fails like a wrong password', async () => {
  assert.equal(await pgClientAgainst(new ScramServer(undefined), 'anything'), 'refused');
});

test('scram: channel binding requests and tampered messages are refused', () => {
  const v = parseScramVerifier(scramVerifierFor('pw'))!;
  assert.throws(() => new ScramServer(v).clientFirst('p=tls-server-end-point,,n=*,r=abc'), ScramError);
  assert.throws(() => new ScramServer(v).clientFirst('n,,m=ext,n=*,r=abc'), ScramError);
  const s = new ScramServer(v);
  const first = s.clientFirst('n,,n=*,r=abcdef');
  const nonce = /r=([^,]+)/.exec(first)![1];
  assert.throws(() => s.clientFinal(`c=biws,r=${nonce}x,p=AAAA`), /nonce/);
  assert.throws(() => s.clientFinal(`c=eSws,r=${nonce},p=AAAA`), /binding/);
  assert.equal(s.clientFinal(`c=biws,r=${nonce},p=${Buffer.alloc(32).toString('base64')}`), undefined);
});

test('scram: our client against our server, and the server signature is checked', () => {
  const v = parseScramVerifier(scramVerifierFor('pw'))!;
  const c = new ScramClient('pw');
  const s = new ScramServer(v);
  const final = s.clientFinal(c.final(s.clientFirst(c.first())));
  assert.ok(final);
  c.verify(final);
  assert.throws(() => c.verify('v=' + Buffer.alloc(32).toString('base64')), ScramError);
});

test('md5 and cleartext checks', () => {
  const stored = md5VerifierFor('alice', 'pw');
  const salt = Buffer.from([9, 8, 7, 6]);
  const inner = createHash('md5').update('pw' + 'alice').digest('hex');
  const resp = 'md5' + createHash('md5').update(Buffer.concat([Buffer.from(inner), salt])).digest('hex');
  assert.equal(md5Response('alice', 'pw', salt), resp);
  assert.ok(checkMd5Response(stored, salt, resp));
  assert.ok(!checkMd5Response(stored, Buffer.from([1, 1, 1, 1]), resp));
  assert.ok(checkCleartext('alice', { md5: stored }, 'pw'));
  assert.ok(!checkCleartext('alice', { md5: stored }, 'pW'));
  assert.ok(checkCleartext('alice', { scram_sha_256: scramVerifierFor('pw') }, 'pw'));
  assert.ok(!checkCleartext('alice', { scram_sha_256: scramVerifierFor('pw') }, 'px'));
  assert.ok(!checkCleartext('alice', undefined, 'pw'));
});
