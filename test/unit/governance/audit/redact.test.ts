import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SECRET_STATEMENTS } from './secret-statements.js';
import { redactSql, scrubConnectionStrings, scrubSecrets } from '../../../../governance/audit/redact.js';


test('secret-bearing statements lose their secrets', () => {
  for (const [sql, secret] of SECRET_STATEMENTS) {
    const r = redactSql(sql);
    assert.ok(!r.text.includes(secret), `${sql}\n  -> ${r.text}`);
    assert.ok(r.text.includes('***'), r.text);
  }
});

test('the statement shape survives redaction', () => {
  assert.equal(redactSql("CREATE USER 'bob'@'%' IDENTIFIED BY 'pw'").text, "CREATE USER '***'@'***' IDENTIFIED BY '***'");
  assert.equal(redactSql("ALTER ROLE bob PASSWORD 'pw'").text, "ALTER ROLE bob PASSWORD '***'");
  assert.equal(redactSql('CREATE ROLE r PASSWORD $$pw$$').text, 'CREATE ROLE r PASSWORD $$***$$');
});

test('ordinary statements are left alone', () => {
  for (const sql of [
    "SELECT id, name FROM customers WHERE city = 'Paris' LIMIT 10",
    "UPDATE orders SET status = 'shipped' WHERE id = 42",
    'SELECT $1::int, "weird ""name""" FROM t',
    "INSERT INTO t VALUES (1, 'it''s')",
  ]) {
    const r = redactSql(sql);
    assert.equal(r.text, sql);
    assert.equal(r.sensitive, false);
  }
});

test('connection strings and key=value passwords', () => {
  assert.equal(scrubConnectionStrings('mysql://root:pw@127.0.0.1:3306/x'), 'mysql://root:***@127.0.0.1:3306/x');
  assert.equal(scrubConnectionStrings('host=a password=pw user=b'), 'host=a password=*** user=b');
  assert.equal(scrubConnectionStrings('mysql://root@127.0.0.1/x'), 'mysql://root@127.0.0.1/x');
});

test('scrubSecrets removes echoes of a statement in an error message', () => {
  const r = redactSql("CREATE USER bob IDENTIFIED BY 'Echo-S3cret'");
  const msg = "You have an error in your SQL syntax near 'Echo-S3cret'' at line 1";
  assert.ok(!scrubSecrets(msg, r.secrets).includes('Echo-S3cret'));
});
