import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mysqlConnect, pgConnect, uniqueName } from '../../../helpers/db.js';
import {
  cachingSha2Verifier, makeVerifiers, mysqlNativeVerifier, parseScramVerifier, pgMd5Verifier, scramVerifier,
} from '../../../../governance/auth/verifiers.js';

// ASCII, quotes and backslash, UTF-8, NFKC-normalised (full-width), SASLprep-mapped
// (soft hyphen, no-break space) and a SASLprep-prohibited one (control char).
const PASSWORDS = ['x', 'alice-pw', "it's a \\ pass", 'pässwörd✓', 'ｐａｓｓ', 'soft\u00adhyphen', 'nb\u00a0space', 'ctl\u0007char', ''];

test('mysql_native and caching_sha2 match MariaDB PASSWORD() and SHA2()', async () => {
  const c = await mysqlConnect();
  try {
    for (const pw of PASSWORDS) {
      const [rows] = await c.query('SELECT PASSWORD(?) AS native, SHA2(UNHEX(SHA2(?, 256)), 256) AS sha2', [pw, pw]);
      const r = (rows as { native: string; sha2: string }[])[0];
      if (pw === '') {
        assert.equal(r.native, '', 'MariaDB stores no hash for an empty password');
      } else {
        assert.equal(mysqlNativeVerifier(pw), r.native, JSON.stringify(pw));
      }
      assert.equal(cachingSha2Verifier(pw), r.sha2, JSON.stringify(pw));
    }
  } finally {
    await c.end();
  }
});

test('scram_sha_256 and md5 match what PostgreSQL stores in pg_authid', async () => {
  const c = await pgConnect();
  const roles: string[] = [];
  try {
    for (const pw of PASSWORDS.filter((p) => p !== '')) {
      // SCRAM: let the server make the verifier, recompute with its salt and iterations.
      const scramRole = uniqueName('vscram');
      roles.push(scramRole);
      await c.query("SET password_encryption = 'scram-sha-256'");
      await c.query(`CREATE ROLE ${scramRole} PASSWORD ${c.escapeLiteral(pw)}`);
      const s = await c.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [scramRole]);
      const stored: string = s.rows[0].rolpassword;
      const parsed = parseScramVerifier(stored);
      assert.ok(parsed, stored);
      assert.equal(parsed.iterations, 4096);
      assert.equal(parsed.salt.length, 16);
      assert.equal(scramVerifier(pw, { salt: parsed.salt, iterations: parsed.iterations }), stored, JSON.stringify(pw));

      const md5Role = uniqueName('vmd5');
      roles.push(md5Role);
      await c.query("SET password_encryption = 'md5'");
      await c.query(`CREATE ROLE ${md5Role} PASSWORD ${c.escapeLiteral(pw)}`);
      const m = await c.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [md5Role]);
      assert.equal(pgMd5Verifier(pw, md5Role), m.rows[0].rolpassword, JSON.stringify(pw));
    }
  } finally {
    for (const r of roles) await c.query(`DROP ROLE IF EXISTS ${r}`).catch(() => undefined);
    await c.end();
  }
});

test('a verifier made by sqlgate is accepted by PostgreSQL as the stored form', async () => {
  // PostgreSQL keeps a pre-hashed SCRAM string as given: store ours and log in with the password.
  const c = await pgConnect();
  const role = uniqueName('vlogin');
  try {
    const v = makeVerifiers(role, 'sqlgate-made');
    await c.query(`CREATE ROLE ${role} LOGIN PASSWORD ${c.escapeLiteral(v.scram_sha_256)}`);
    const s = await c.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role]);
    assert.equal(s.rows[0].rolpassword, v.scram_sha_256);
  } finally {
    await c.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await c.end();
  }
});
