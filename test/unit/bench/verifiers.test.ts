import assert from 'node:assert/strict';
import { test } from 'node:test';
import { verifiers as verifiersSchema } from '../../../rules/policy-schema.js';
import { allVerifiers, cachingSha2, mysqlNative, pgMd5, scramSha256 } from '../../../bench/verifiers.js';
import { mysqlConnect, pgConnect, uniqueName } from '../../helpers/db.js';

test('mysql_native matches MariaDB PASSWORD()', async () => {
  const c = await mysqlConnect();
  try {
    for (const pw of ['password', 'Säkr3t!', '']) {
      const [rows] = await c.query('SELECT PASSWORD(?) AS p', [pw]);
      const server = (rows as { p: string }[])[0].p;
      if (pw === '') assert.equal(server, '');
      else assert.equal(mysqlNative(pw), server);
    }
  } finally { await c.end(); }
  assert.equal(mysqlNative('password'), '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19');
});

test('caching_sha2 and md5 against values computed with coreutils', () => {
  // printf secret | sha256sum | xxd -r -p | sha256sum
  assert.equal(cachingSha2('secret'), '3881219d087dd9c634373fd33dfa33a2cb6bfc6c520b64b8bb60ef2ceb534ae7');
  // printf passwordpostgres | md5sum
  assert.equal(pgMd5('password', 'postgres'), 'md5' + '32e12f215ba27cb750c9e093ce4b5127');
});

test('SCRAM-SHA-256 verifier equals what PostgreSQL stores for the same salt', async () => {
  const role = uniqueName('scram');
  const c = await pgConnect();
  try {
    await c.query("SET password_encryption = 'scram-sha-256'");
    await c.query(`CREATE ROLE "${role}" PASSWORD 'pencil-42'`);
    const stored: string = (await c.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role])).rows[0].rolpassword;
    const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(stored);
    assert.ok(m, stored);
    assert.equal(scramSha256('pencil-42', Buffer.from(m[2], 'base64'), Number(m[1])), stored);
    assert.notEqual(scramSha256('pencil-43', Buffer.from(m[2], 'base64'), Number(m[1])), stored);
  } finally {
    await c.query(`DROP ROLE IF EXISTS "${role}"`);
    await c.end();
  }
});

test('all four verifiers pass the policy schema', () => {
  const v = allVerifiers('sgbench', 'x'.repeat(24));
  assert.deepEqual(verifiersSchema.parse(v), v);
  assert.notEqual(allVerifiers('a', 'p').scram_sha_256, allVerifiers('a', 'p').scram_sha_256, 'fresh salt each time');
});
