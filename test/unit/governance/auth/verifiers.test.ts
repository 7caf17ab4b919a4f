import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { verifiers as verifiersSchema } from '../../../../rules/policy-schema.js';
import {
  formatScramVerifier, makeVerifiers, parseScramVerifier, saslprep, scramKeys, scramVerifier,
} from '../../../../governance/auth/verifiers.js';

test('RFC 7677 test vector: SaltedPassword-derived keys for user/pencil', () => {
  // RFC 7677 §3: password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations.
  const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
  const k = scramKeys('pencil', salt, 4096);
  // Independent recomputation, then the ServerSignature from the RFC's exchange.
  const salted = pbkdf2Sync('pencil', salt, 4096, 32, 'sha256');
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  assert.deepEqual(k.serverKey, serverKey);
  const authMessage = 'n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
  const serverSig = createHmac('sha256', k.serverKey).update(authMessage).digest('base64');
  assert.equal(serverSig, '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
});

test('parse/format round trip and refusal of malformed verifiers', () => {
  const v = scramVerifier('pw');
  const p = parseScramVerifier(v);
  assert.ok(p);
  assert.equal(p.iterations, 4096);
  assert.equal(p.salt.length, 16);
  assert.equal(formatScramVerifier(p), v);
  assert.notEqual(scramVerifier('pw'), v, 'a fresh random salt each time');
  assert.equal(scramVerifier('pw', { salt: p.salt }), v);
  for (const bad of ['', 'md5abc', 'SCRAM-SHA-256$4096:c2FsdA==$AAAA:BBBB', 'SCRAM-SHA-256$x:c2FsdA==$' + 'A'.repeat(44) + ':' + 'A'.repeat(44),
    'SCRAM-SHA-256$0:c2FsdA==$' + Buffer.alloc(32).toString('base64') + ':' + Buffer.alloc(32).toString('base64')]) {
    assert.equal(parseScramVerifier(bad), undefined, bad);
  }
});

test('all verifiers satisfy the policy schema; md5 depends on the user name', () => {
  const v = makeVerifiers('alice', 'alice-pw');
  assert.ok(verifiersSchema.safeParse(v).success);
  assert.equal(v.mysql_native, '*' + createHash('sha1').update(createHash('sha1').update('alice-pw').digest()).digest('hex').toUpperCase());
  assert.equal(v.md5, 'md5' + createHash('md5').update('alice-pwalice').digest('hex'));
  assert.notEqual(makeVerifiers('bob', 'alice-pw').md5, v.md5);
});

test('saslprep', () => {
  assert.equal(saslprep('I\u00adX'), 'IX');
  assert.equal(saslprep('user'), 'user');
  assert.equal(saslprep('\u00aa'), 'a');
  assert.equal(saslprep('\u2168'), 'IX');
  assert.equal(saslprep('a\u00a0b'), 'a b');
  assert.equal(saslprep('\u0007'), '\u0007', 'prohibited: raw password used, as PostgreSQL does');
});
