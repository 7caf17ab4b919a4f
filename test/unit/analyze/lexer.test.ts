import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitMysql, unquoteString } from '../../../governance/analyze/lexer.js';

test('splits at top-level semicolons only', () => {
  const s = splitMysql("SELECT 'a;b', `c;d`, \"e;f\" FROM t; -- x;y\nSELECT 2 /* ; */ ;  # z;\nSELECT 3");
  assert.deepEqual(s.map((x) => x.parseText), ["SELECT 'a;b', `c;d`, \"e;f\" FROM t", 'SELECT 2', 'SELECT 3']);
});

test('backslash escapes and doubled quotes keep strings whole', () => {
  const s = splitMysql("SELECT 'it\\'s; here', 'a''b;c'; SELECT 2");
  assert.equal(s.length, 2);
  assert.equal(s[0].digest, "SELECT '?', '?'");
  assert.equal(unquoteString("'it\\'s'"), "it's");
  assert.equal(unquoteString("'a''b'"), "a'b");
});

test('`--` needs a following space to be a comment', () => {
  const s = splitMysql('SELECT 5--1, 2');
  assert.equal(s[0].parseText, 'SELECT 5--1, 2');
});

test('executable comments are expanded, not dropped', () => {
  assert.equal(splitMysql('SELECT /*! phone, */ id FROM c')[0].parseText, 'SELECT phone, id FROM c');
  assert.equal(splitMysql('SELECT /*!50001 phone, */ id FROM c')[0].parseText, 'SELECT phone, id FROM c');
  // A semicolon inside an executable comment splits the message: the server runs both.
  const two = splitMysql('SELECT 1 /*!; DROP TABLE t */');
  assert.deepEqual(two.map((x) => x.parseText), ['SELECT 1', 'DROP TABLE t']);
});

test('version-dependent and MariaDB-only executable comments give two readings', () => {
  const s = splitMysql('SELECT id /*!90000 , phone */ FROM c')[0];
  assert.equal(s.parseText, 'SELECT id , phone FROM c');
  assert.equal(s.alternative?.parseText, 'SELECT id FROM c');
  const m = splitMysql('DELETE FROM t /*M! WHERE id = 1 */')[0];
  assert.equal(m.parseText, 'DELETE FROM t WHERE id = 1');
  assert.equal(m.alternative?.parseText, 'DELETE FROM t');
});

test('unterminated strings and comments are errors, and comments inside executable comments refused', () => {
  assert.ok(splitMysql("SELECT 'abc")[0].error);
  assert.ok(splitMysql('SELECT /* abc')[0].error);
  assert.ok(splitMysql('SELECT /*! 1 -- x */ 2')[0].error);
  assert.ok(splitMysql('SELECT /*! 1 /* x */ 2')[0].error);
});

test('digest replaces literals and collapses VALUES tuples and IN lists', () => {
  const a = splitMysql("INSERT INTO t VALUES (1,'a'),(2,'b'),(3,'c')")[0].digest;
  const b = splitMysql("insert into t values (9, 'zz')")[0].digest;
  assert.equal(a, "INSERT INTO t VALUES (?, '?'),...");
  assert.equal(b, "INSERT INTO t VALUES (?, '?')");
  assert.equal(splitMysql('SELECT * FROM t WHERE id IN (1, 2, 3) AND x = 0x1F AND y = 1.5e3')[0].digest, 'SELECT * FROM t WHERE id IN (?,...) AND x = ?x AND y = ?e');
  // Prefixed strings keep their prefix: the parser may not take each form where it takes a plain string.
  assert.equal(splitMysql("SELECT X'41', N'abc', _utf8mb4'x'")[0].digest, "SELECT x'?', n'?', _utf8mb4'?'");
  // Literal classes stay apart: LIMIT 1 parses, LIMIT 1.5 and LIMIT '1' do not.
  assert.notEqual(splitMysql('SELECT 1 LIMIT 1')[0].digest, splitMysql('SELECT 1 LIMIT 1.5')[0].digest);
  assert.notEqual(splitMysql('SELECT 1 LIMIT 1')[0].digest, splitMysql("SELECT 1 LIMIT '1'")[0].digest);
  assert.notEqual(splitMysql('SELECT a FROM t')[0].digest, splitMysql('SELECT b FROM t')[0].digest);
});

test('identifiers starting with digits are not numbers', () => {
  assert.equal(splitMysql('SELECT 1abc FROM t')[0].digest, 'SELECT 1abc FROM t');
});

test('sqlgate hints are extracted per statement and kept in the digest', () => {
  const s = splitMysql('/*+ sqlgate:skip(no-unqualified-dml) */ DELETE FROM t; SELECT /*+ MAX_EXECUTION_TIME(10) */ 1');
  assert.deepEqual(s[0].hints, [{ name: 'skip', args: ['no-unqualified-dml'] }]);
  assert.deepEqual(s[1].hints, []);
  assert.match(s[0].digest, /sqlgate:skip\(no-unqualified-dml\)/);
  assert.equal(splitMysql("SELECT '/*+ sqlgate:skip(x) */'")[0].hints.length, 0);
});

test('routine bodies are not split at their inner semicolons', () => {
  const s = splitMysql('CREATE PROCEDURE p() BEGIN SELECT 1; IF x THEN SELECT 2; END IF; END; SELECT 3');
  assert.equal(s.length, 2);
  assert.equal(s[1].parseText, 'SELECT 3');
});

test('number literals: every form the server reads, and where a number ends', () => {
  const toks = (sql: string) => splitMysql(sql)[0].tokens.map((t) => `${t.kind}:${t.text}`);
  assert.deepEqual(toks('SELECT 1.5e3, .5, 1., 12.e5, 1e, 1E+5, 1e-5x'), [
    'word:SELECT', 'number:1.5e3', 'punct:,', 'number:.5', 'punct:,', 'number:1', 'punct:.', 'punct:,',
    'number:12', 'punct:.', 'word:e5', 'punct:,', 'word:1e', 'punct:,', 'number:1E+5', 'punct:,', 'word:1e', 'punct:-', 'word:5x']);
  assert.deepEqual(toks('SELECT 0x1F, 0X1F, 0x, 0b101, 0b102, 1abc, a.5'), [
    'word:SELECT', 'number:0x1F', 'punct:,', 'word:0X1F', 'punct:,', 'word:0x', 'punct:,', 'number:0b101', 'punct:,', 'word:0b102',
    'punct:,', 'word:1abc', 'punct:,', 'word:a', 'punct:.', 'number:5']);
  // A number is read from its first 200 characters; longer, it is a word (never a shared literal).
  assert.deepEqual(toks(`SELECT ${'9'.repeat(200)}`)[1], `number:${'9'.repeat(200)}`);
  assert.deepEqual(toks(`SELECT ${'9'.repeat(201)}`)[1], `word:${'9'.repeat(201)}`);
  assert.equal(splitMysql('SELECT 1 <=> 2 <= 3 << 4 <> 5 -> 6 ->> 7 := 8 && 9 || 10 != 11 >= 12 >> 13')[0].digest,
    'SELECT ? <=> ? <= ? << ? <> ? -> ? ->> ? := ? && ? || ? != ? >= ? >> ?');
  // Word characters: letters, digits, _ and $, and every non-ASCII code unit.
  assert.deepEqual(toks('SELECT a$b_1, é9, `x`'), ['word:SELECT', 'word:a$b_1', 'punct:,', 'word:é9', 'punct:,', 'quoted-ident:`x`']);
});

const list = (n: number, f: (i: number) => string): string => Array.from({ length: n }, (_, i) => f(i + 1)).join(', ');

test('long lists of literals reach the parser cut to their first element; the text and the digest stay whole', () => {
  const inList = splitMysql(`SELECT id FROM t WHERE id IN (${list(40, (i) => String(-i))}) AND name NOT IN (${list(20, (i) => `'a,${i})'`)})`)[0];
  assert.equal(inList.parseText, "SELECT id FROM t WHERE id IN (-1) AND name NOT IN ('a,1)')");
  assert.match(inList.text, /-40\)/);
  // The digest is the whole statement's (its own list rule leaves negative numbers apart).
  assert.equal(inList.digest.match(/- \?/g)?.length, 40);
  assert.match(inList.digest, /NOT IN \(\?,\.\.\.\)$/);
  const values = splitMysql(`INSERT INTO t (a, b) VALUES ${list(30, (i) => `(${i}, NULL)`)} ON DUPLICATE KEY UPDATE b = VALUES(b)`)[0];
  assert.equal(values.parseText, 'INSERT INTO t (a, b) VALUES (1, NULL) ON DUPLICATE KEY UPDATE b = VALUES(b)');
  assert.equal(values.digest, 'INSERT INTO t (a, b) VALUES (?, NULL),... ON DUPLICATE KEY UPDATE b = VALUES(b)');
});

test('lists with anything but literals, and short lists, reach the parser whole', () => {
  for (const sql of [
    `SELECT id FROM t WHERE id IN (${list(20, String)}, phone)`,
    `SELECT id FROM t WHERE id IN (${list(20, String)}, (SELECT phone FROM c))`,
    `SELECT id FROM t WHERE id IN (${list(20, String)}, -phone)`,
    `SELECT id FROM t WHERE id IN (${list(15, String)})`,
    `INSERT INTO t VALUES ${list(20, (i) => `(${i})`)}, ((SELECT phone FROM c LIMIT 1))`,
    `INSERT INTO t VALUES ${list(20, (i) => `(${i})`)}, (@x)`,
    `INSERT INTO t VALUES ${list(15, (i) => `(${i})`)}`,
    `INSERT INTO t SELECT a FROM u WHERE a IN (SELECT b FROM v)`,
  ]) {
    assert.equal(splitMysql(sql)[0].parseText, sql, sql);
  }
});
