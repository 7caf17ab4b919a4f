/**
 * Result fidelity: a corpus over every MySQL column type, run directly
 * against MariaDB and through sqlgate, text and binary protocol, with and
 * without CLIENT_DEPRECATE_EOF; the responses must be the same bytes (the
 * relay forwards them untouched), and mysql2 must decode the same values.
 * Uses a throw-away MariaDB with max_allowed_packet=256M for the 20 MB values.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startMariadb, urlParts, type EmbeddedServer } from '../../../proxy/embedded-servers.js';
import { Cap, Com, Type } from '../../../wire/mysql/constants.js';
import { PASSWORD, startEndpoint, testPolicy, type Endpoint } from './helpers.js';
import { RAW_CAPS, RawMysql } from './raw-client.js';

let server: EmbeddedServer;
let ep: Endpoint;
let port: number;
const DB = 'fidelity';

const SETUP = `
CREATE DATABASE ${DB} CHARACTER SET utf8mb4;
USE ${DB};
CREATE TABLE types (
  id INT PRIMARY KEY,
  ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT, i INT, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED,
  d DECIMAL(30,10), d0 DECIMAL(5,0), f FLOAT, dbl DOUBLE,
  dt DATE, tm TIME(6), tm0 TIME, dtm DATETIME(6), ts TIMESTAMP(3) NULL DEFAULT NULL, y YEAR,
  bt BIT(10), b1 BIT(1), e ENUM('a','b','ç'), st SET('x','y','z'),
  j JSON, c CHAR(5), vc VARCHAR(100), bin BINARY(4), vb VARBINARY(10), tx TEXT, bl BLOB, emoji VARCHAR(20) CHARACTER SET utf8mb4,
  lat VARCHAR(10) CHARACTER SET latin1
) CHARACTER SET utf8mb4;
INSERT INTO types VALUES
 (1, -128, 255, -32768, -8388608, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
  -12345678901234567890.0123456789, 99999, -3.40282e38, -1.7976931348623157e308,
  '1000-01-01', '-838:59:59.000000', '00:00:00', '1000-01-01 00:00:00.000000', '1970-01-02 00:00:00.001', 1901,
  b'1111111111', b'1', 'ç', 'x,z', '{"a": [1, 2.5, "ü"], "b": null}', 'abc', '', X'00FF0001', X'', 'line1\\nline2\\ttab', X'DEADBEEF', '😀👍🏽', 'café'),
 (2, 127, 0, 32767, 8388607, 2147483647, 0, 9223372036854775807, 0,
  0.0000000001, -99999, 1.17549e-38, 2.2250738585072014e-308,
  '9999-12-31', '838:59:59.999999', '23:59:59', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999', 2155,
  b'0', b'0', 'a', '', '[]', 'xyzzy', REPEAT('v', 100), X'01', X'00000000000000000000', REPEAT('t', 65000), REPEAT(X'AB', 65000), '🚀', NULL),
 (3, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, '2024-02-29', '12:34:56.5', '01:02:03', '2024-02-29 12:34:56.123456', '2024-02-29 12:34:56.5', 2024,
  b'101', b'1', 'b', 'x,y,z', '"só"', 'a', 'a''b"c\\\\', X'61', X'6263', '', X'', '', 'x'),
 (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE big (id INT PRIMARY KEY, b LONGBLOB, t LONGTEXT) CHARACTER SET utf8mb4;
INSERT INTO big VALUES (1, REPEAT(X'00FE', 10 * 1024 * 1024), REPEAT('é', 10 * 1024 * 1024));
INSERT INTO big VALUES (2, REPEAT(X'FE', 16 * 1024 * 1024 - 4), NULL);
`;

/** Queries whose responses are compared byte for byte. */
const CORPUS = [
  'SELECT * FROM types ORDER BY id',
  'SELECT id, j, JSON_EXTRACT(j, \'$.a\') AS a, bt + 0 AS bits, HEX(bl) AS h, CHAR_LENGTH(emoji) AS n FROM types ORDER BY id',
  'SELECT NULL AS n, 1 AS one, 1.5 AS dec15, 1e10 AS dbl, \'x\' AS s, CAST(\'2024-01-01 10:00:00.25\' AS DATETIME(2)) AS t',
  'SELECT id, LENGTH(b) AS lb, LENGTH(t) AS lt, b, t FROM big ORDER BY id',
  'SELECT 1 AS a; SELECT * FROM types WHERE id = 3; SELECT \'😀\' AS e',
  'SELECT * FROM types WHERE 1 = 0',
  'UPDATE types SET i = i WHERE id = 1',
  'SELECT nosuchcolumn FROM types',
  'SHOW COLUMNS FROM types',
];

before(async () => {
  server = await startMariadb();
  const admin = await mysql.createConnection({ ...urlParts(server.url), multipleStatements: true });
  await admin.query(SETUP);
  await admin.end();
  port = urlParts(server.url).port;
  ep = await startEndpoint({ policy: testPolicy({ upstreamUrl: server.url, database: DB }) });
});
after(async () => {
  await ep?.close();
  server?.stop();
});

function executePayload(id: number, param?: bigint): Buffer {
  const head = Buffer.alloc(10);
  head[0] = Com.STMT_EXECUTE;
  head.writeUInt32LE(id, 1);
  head[5] = 0;
  head.writeUInt32LE(1, 6);
  if (param === undefined) return head;
  const value = Buffer.alloc(8);
  value.writeBigInt64LE(param);
  return Buffer.concat([head, Buffer.from([0, 1, Type.LONGLONG, 0]), value]);
}

for (const deprecateEof of [false, true]) {
  const caps = deprecateEof ? RAW_CAPS | Cap.DEPRECATE_EOF : RAW_CAPS;

  test(`text protocol: responses are byte-identical direct and through sqlgate (DEPRECATE_EOF=${deprecateEof})`, async () => {
    const direct = await RawMysql.login(port, 'root', '', DB, caps);
    const proxied = await RawMysql.login(ep.port, 'both', PASSWORD, DB, caps);
    try {
      assert.equal((direct.capabilities & Cap.DEPRECATE_EOF) !== 0, deprecateEof);
      assert.equal(proxied.capabilities & Cap.DEPRECATE_EOF, direct.capabilities & Cap.DEPRECATE_EOF);
      for (const sql of CORPUS) {
        const a = await direct.query(sql);
        const b = await proxied.query(sql);
        assert.equal(b.bytes.length, a.bytes.length, sql);
        assert.ok(b.bytes.equals(a.bytes), `bytes differ for: ${sql}`);
      }
      const big = await proxied.query('SELECT b, t FROM big WHERE id = 1');
      assert.ok(big.bytes.length > 40 * 1024 * 1024, 'the 20 MB values really went through');
      assert.equal(big.summary.rows, 1);
    } finally {
      direct.close();
      proxied.close();
    }
  });

  test(`binary protocol: prepare and execute responses are byte-identical (DEPRECATE_EOF=${deprecateEof})`, async () => {
    const direct = await RawMysql.login(port, 'root', '', DB, caps);
    const proxied = await RawMysql.login(ep.port, 'both', PASSWORD, DB, caps);
    try {
      for (const [sql, param] of [['SELECT * FROM types WHERE id > ? ORDER BY id', 0n], ['SELECT id, b, t FROM big WHERE id >= ?', 1n], ['SELECT * FROM types ORDER BY id', undefined]] as const) {
        const prep = Buffer.concat([Buffer.from([Com.STMT_PREPARE]), Buffer.from(sql)]);
        const pa = await direct.command(prep, 'prepare');
        const pb = await proxied.command(prep, 'prepare');
        // Statement ids are per upstream connection (and pooled connections have issued some): compare the rest.
        const sameButId = (x: Buffer) => Buffer.concat([x.subarray(0, 5), x.subarray(9)]);
        assert.ok(sameButId(pb.bytes).equals(sameButId(pa.bytes)), `prepare differs for ${sql}`);
        const ea = await direct.command(executePayload(pa.summary.statementId!, param), 'query');
        const eb = await proxied.command(executePayload(pb.summary.statementId!, param), 'query');
        assert.equal(eb.bytes.length, ea.bytes.length, sql);
        assert.ok(eb.bytes.equals(ea.bytes), `execute differs for ${sql}`);
        assert.ok(ea.summary.rows > 0);
      }
    } finally {
      direct.close();
      proxied.close();
    }
  });
}

test('a 17 MB statement from the client (split into 16 MB packets) is judged and forwarded whole', async () => {
  const direct = await RawMysql.login(port, 'root', '', DB);
  const proxied = await RawMysql.login(ep.port, 'both', PASSWORD, DB);
  try {
    const literal = 'é'.repeat(8_700_000); // 17.4 MB of UTF-8
    const sql = `SELECT LENGTH('${literal}') AS n, MD5('${literal}') AS h`;
    const a = await direct.query(sql);
    const b = await proxied.query(sql);
    assert.ok(b.bytes.equals(a.bytes));
    assert.equal(b.summary.rows, 1);
    assert.ok(b.bytes.includes(Buffer.from('17400000')));
    const judged = ep.gate.events.filter((e) => e.type === 'statement').at(-1);
    assert.equal(judged?.sql?.length, sql.length, 'the gate saw the whole text');
  } finally {
    direct.close();
    proxied.close();
  }
});

test('mysql2 decodes the same values directly and through sqlgate (text and prepared)', async () => {
  const common = { database: DB, multipleStatements: true, supportBigNumbers: true, bigNumberStrings: true, dateStrings: true } as const;
  const direct = await mysql.createConnection({ ...urlParts(server.url), ...common });
  const proxied = await mysql.createConnection({ host: '127.0.0.1', port: ep.port, user: 'both', password: PASSWORD, ...common });
  try {
    for (const sql of CORPUS.filter((s) => !s.includes('nosuch'))) {
      const [a] = await direct.query(sql);
      const [b] = await proxied.query(sql);
      assert.deepEqual(b, a, sql);
    }
    const [a] = await direct.execute('SELECT * FROM types WHERE id > ? ORDER BY id', [0]);
    const [b] = await proxied.execute('SELECT * FROM types WHERE id > ? ORDER BY id', [0]);
    assert.deepEqual(b, a);
    const [rows] = await proxied.execute('SELECT emoji, e, st FROM types WHERE id = ?', [1]);
    assert.deepEqual(rows, [{ emoji: '😀👍🏽', e: 'ç', st: 'x,z' }]);
  } finally {
    await direct.end();
    await proxied.end();
  }
});
