import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPgDatabase, pgUrl, serverInfo, type TempDatabase } from '../../helpers/db.js';
import { PASSWORD, startEndpoint, testGate, type Endpoint } from './setup.js';
import { RawClient } from './raw-client.js';

// Results through sqlgate must be the server's bytes, exactly (DESIGN decision 4).
let db: TempDatabase;
let ep: Endpoint;
let direct: RawClient;
let through: RawClient;

const SETUP = `
  CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
  CREATE TYPE pair AS (a int, b text);
  CREATE TABLE corpus (
    id int PRIMARY KEY, n numeric, n2 numeric(30, 10), f4 real, f8 double precision, ts timestamptz, t timestamp,
    d date, tm time, iv interval, b bytea, j json, jb jsonb, ia int[], ta text[], u uuid, ip inet, c cidr,
    m mood, p pair, bo boolean, tx text, bi bigint, si smallint, mo money, x xml, pt point, rng int4range
  );
  INSERT INTO corpus VALUES
    (1, 123456789012345678901234567890.123456789, 3.1415926535, 1.5, 2.718281828459045, '2024-02-29 23:59:59.999999+05:30',
     '1999-12-31 23:59:59', '0001-01-01', '12:34:56.789', '1 year 2 mons 3 days 04:05:06.789', '\\x00ff10', '{"a": [1, 2.5, null]}',
     '{"z": 1, "a": {"b": [true, false]}}', '{1,2,3}', '{"a b","c,d",NULL,""}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
     '192.168.0.1/24', '10.0.0.0/8', 'happy', ROW(1, 'x y'), true, 'héllo wörld ✓ 𝄞', 9223372036854775807, -32768,
     '12.34', '<a>b</a>', '(1.5,2)', '[1,10)'),
    (2, 'NaN', -0.0000000001, 'Infinity', '-Infinity', 'infinity', '-infinity', '5874897-12-31', '24:00:00', '-178000000 years',
     '\\x', '[]', '[]', '{}', '{}', '00000000-0000-0000-0000-000000000000', '::1', '2001:db8::/32', 'sad', ROW(NULL, NULL),
     false, '', -9223372036854775808, 32767, '-92233720368547758.08', '<x/>', '(0,0)', 'empty'),
    (3, -0, 0, '-0', 'NaN', '1970-01-01 00:00:00+00', '2000-01-01', '2000-01-01', '00:00:00', '0', NULL, 'null', 'null',
     '{{1,2},{3,4}}', '{"\\\\","\\""}', NULL, '0.0.0.0', '0.0.0.0/0', NULL, NULL, NULL, E'tab\\there\\nnewline', 0, 0, 0, NULL, NULL, NULL),
    (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
`;

before(async () => {
  db = await createPgDatabase('pgfid', SETUP);
  ep = await startEndpoint(testGate(db.name));
  const up = serverInfo(pgUrl());
  direct = await RawClient.open(up.port, up.user, db.name, up.password);
  through = await RawClient.open(ep.port, 'bob', db.name, PASSWORD);
});
after(async () => {
  direct?.close();
  through?.close();
  await ep?.close();
  await db?.drop();
});

const QUERIES = [
  'SELECT * FROM corpus ORDER BY id',
  ...['n', 'n2', 'f4', 'f8', 'ts', 'iv', 'b', 'jb', 'ia', 'ta', 'u', 'ip', 'm', 'p', 'mo', 'rng'].map((c) => `SELECT ${c} FROM corpus ORDER BY id`),
  'SELECT 1.0::float8 / 3, 1e308::float8 * 10, 0.1::float4, 1e-320::float8',
  "SELECT now() - now(), '2024-01-01'::timestamptz AT TIME ZONE 'America/New_York', to_jsonb(c) FROM corpus c ORDER BY id",
  'SELECT NULL::text, NULL::int, NULL::bytea',
  'SELECT g, md5(g::text) FROM generate_series(1, 2000) g',
];

test('result fidelity: text and binary formats, extended protocol, byte for byte', async () => {
  for (const q of QUERIES) {
    for (const format of [0, 1] as const) {
      const a = await direct.extended(q, format);
      const b = await through.extended(q, format);
      assert.ok(a.equals(b), `${q} (format ${format}) differs`);
    }
  }
});

test('result fidelity: simple protocol, byte for byte, including notices and errors', async () => {
  for (const q of [...QUERIES, "DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$", 'SELECT 1/0', 'SELECT 1; SELECT 2, 3', '']) {
    const a = await direct.simple(q);
    const b = await through.simple(q);
    assert.ok(a.equals(b), `${q} differs:\n${a.toString('latin1')}\n${b.toString('latin1')}`);
  }
});

test('result fidelity: bytea up to 20 MB, text and binary', async () => {
  for (const mb of [1, 20]) {
    const q = `SELECT decode(repeat('0123456789abcdef', ${mb} * 65536), 'hex') AS big, ${mb} AS mb`;
    for (const format of [0, 1] as const) {
      const a = await direct.extended(q, format);
      const b = await through.extended(q, format);
      assert.equal(b.length, a.length);
      assert.ok(a.equals(b), `${mb} MB bytea (format ${format}) differs`);
    }
  }
});
