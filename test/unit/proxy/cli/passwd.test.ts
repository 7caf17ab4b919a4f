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

test('sqlgate passwd on a terminal asks twice without echo', async (t) => {
  const { spawn, spawnSync } = await import('node:child_process');
  const { MAIN } = await import('./run-cli.js');
  if (spawnSync('script', ['--version']).status !== 0) { t.skip('script(1) from util-linux is not installed'); return; }
  // script(1) runs the command on a pseudo-terminal and relays our pipe to it.
  const child = spawn('script', ['-qfec', `${JSON.stringify(process.execPath)} ${JSON.stringify(MAIN)} passwd --user alice`, '/dev/null'],
    { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const waitFor = (re: RegExp) => new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; got ${JSON.stringify(out)}`)), 30_000);
    const check = () => { if (re.test(out)) { clearTimeout(timer); child.stdout.off('data', check); resolve(); } };
    child.stdout.on('data', check);
    check();
  });
  try {
    await waitFor(/Password for alice: $/);
    child.stdin.write('tty-S3cret\r');
    await waitFor(/Again: $/);
    child.stdin.write('tty-S3cret\r');
    await waitFor(/md5: "md5[0-9a-f]{32}"/);
  } finally {
    child.kill();
  }
  assert.ok(!out.includes('tty-S3cret'), `the password was echoed: ${JSON.stringify(out)}`);
  const block = parse(out.slice(out.indexOf('password:')).replace(/\r/g, '')) as { password: Record<string, string> };
  assert.equal(block.password.mysql_native, mysqlNativeVerifier('tty-S3cret'));
});
