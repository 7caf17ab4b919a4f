import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { cli } from './run-cli.js';
import { verifiers } from '../../../../rules/policy-schema.js';
import { cachingSha2Verifier, mysqlNativeVerifier, parseScramVerifier, pgMd5Verifier, scramVerifier } from '../../../../governance/auth/verifiers.js';

test('sqlgate passwd --password-stdin prints a valid password block and never the plaintext', () => {
  const r = cli(['passwd', '--user', 'alice', '--password-stdin'], { input: 'alice-pw\n' });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!r.stdout.includes('alice-pw'));
  const block = parse(r.stdout) as { password: Record<string, string> };
  assert.ok(verifiers.safeParse(block.password).success);
  assert.equal(block.password.mysql_native, mysqlNativeVerifier('alice-pw'), 'one trailing newline is not part of the password');
  assert.equal(block.password.caching_sha2, cachingSha2Verifier('alice-pw'));
  assert.equal(block.password.md5, pgMd5Verifier('alice-pw', 'alice'));
  const s = parseScramVerifier(block.password.scram_sha_256)!;
  assert.equal(scramVerifier('alice-pw', { salt: s.salt, iterations: s.iterations }), block.password.scram_sha_256);
});

test('sqlgate passwd reads a non-TTY stdin without the flag; keeps inner spaces and a second newline', () => {
  const r = cli(['passwd', '-u', 'bob'], { input: ' two words \n\n' });
  assert.equal(r.status, 0, r.stderr);
  const block = parse(r.stdout) as { password: Record<string, string> };
  assert.equal(block.password.mysql_native, mysqlNativeVerifier(' two words \n'));
});

test('sqlgate passwd: errors and --help', () => {
  assert.equal(cli(['passwd'], { input: 'x' }).status, 2);
  assert.equal(cli(['passwd', '--user'], { input: 'x' }).status, 2);
  assert.equal(cli(['passwd', '--user', 'a', '--bogus'], { input: 'x' }).status, 2);
  const empty = cli(['passwd', '--user', 'a'], { input: '\n' });
  assert.equal(empty.status, 1);
  assert.match(empty.stderr, /empty password/);
  const h = cli(['passwd', '--help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /usage: sqlgate passwd --user NAME/);
});
