import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cap, Com, Type } from '../../../wire/mysql/constants.js';
import { buildQueryWithAttributes, parseCommand } from '../../../wire/mysql/commands.js';
import { WireError } from '../../../wire/mysql/packet-reader.js';

const u16 = (v: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return b; };
const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return b; };
const nul = (s: string) => Buffer.concat([Buffer.from(s), Buffer.from([0])]);

test('COM_QUERY: plain, and with query attributes (NULL, integer, string) skipped exactly', () => {
  assert.deepEqual(parseCommand(Buffer.from('\x03SELECT 1', 'latin1'), 0), { kind: 'query', sql: 'SELECT 1', attributes: [] });
  const payload = Buffer.concat([
    Buffer.from([Com.QUERY, 3, 1]), Buffer.from([0b010]), Buffer.from([1]),
    u16(Type.LONGLONG), Buffer.from([2]), Buffer.from('id'),
    u16(Type.VAR_STRING), Buffer.from([1]), Buffer.from('n'),
    u16(Type.VAR_STRING), Buffer.from([3]), Buffer.from('tag'),
    Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([2]), Buffer.from('hi'),
    Buffer.from('SELECT ?; -- é'),
  ]);
  const c = parseCommand(payload, Cap.QUERY_ATTRIBUTES);
  assert.equal(c.kind, 'query');
  if (c.kind !== 'query') return;
  assert.equal(c.sql, 'SELECT ?; -- é');
  assert.deepEqual(c.attributes.map((a) => [a.name, a.type, a.value?.toString('hex') ?? null]),
    [['id', Type.LONGLONG, '0100000000000000'], ['n', Type.VAR_STRING, null], ['tag', Type.VAR_STRING, '026869']]);
  const built = buildQueryWithAttributes('SELECT ?; -- é', c.attributes);
  assert.ok(built.subarray(4).equals(payload), 'builder and parser agree');
  assert.throws(() => parseCommand(payload.subarray(0, 30), Cap.QUERY_ATTRIBUTES), WireError);
  // without the capability the same bytes are all query text
  const noAttr = parseCommand(Buffer.from('\x03\x00\x01SELECT 1', 'latin1'), 0);
  assert.equal(noAttr.kind === 'query' && noAttr.sql, '\x00\x01SELECT 1');
});

test('other commands', () => {
  assert.deepEqual(parseCommand(Buffer.from('\x02shop', 'latin1'), 0), { kind: 'init-db', database: 'shop' });
  assert.deepEqual(parseCommand(Buffer.from([Com.PING]), 0), { kind: 'ping' });
  assert.deepEqual(parseCommand(Buffer.from([Com.QUIT]), 0), { kind: 'quit' });
  assert.deepEqual(parseCommand(Buffer.from([Com.STATISTICS]), 0), { kind: 'statistics' });
  assert.deepEqual(parseCommand(Buffer.from([Com.RESET_CONNECTION]), 0), { kind: 'reset-connection' });
  assert.deepEqual(parseCommand(Buffer.concat([Buffer.from([Com.PROCESS_KILL]), u32(42)]), 0), { kind: 'process-kill', id: 42 });
  assert.deepEqual(parseCommand(Buffer.concat([Buffer.from([Com.FIELD_LIST]), nul('t1'), Buffer.from('%')]), 0), { kind: 'field-list', table: 't1', wildcard: '%' });
  assert.deepEqual(parseCommand(Buffer.from('\x16SELECT ?', 'latin1'), 0), { kind: 'stmt-prepare', sql: 'SELECT ?' });
  assert.deepEqual(parseCommand(Buffer.concat([Buffer.from([Com.STMT_EXECUTE]), u32(9), Buffer.from([1]), u32(1)]), 0), { kind: 'stmt-execute', id: 9, flags: 1 });
  assert.deepEqual(parseCommand(Buffer.concat([Buffer.from([Com.STMT_CLOSE]), u32(9)]), 0), { kind: 'stmt-close', id: 9 });
  assert.deepEqual(parseCommand(Buffer.concat([Buffer.from([Com.STMT_RESET]), u32(9)]), 0), { kind: 'stmt-reset', id: 9 });
  assert.deepEqual(parseCommand(Buffer.concat([Buffer.from([Com.STMT_SEND_LONG_DATA]), u32(9), u16(1), Buffer.from('xx')]), 0), { kind: 'stmt-send-long-data', id: 9, param: 1 });
  assert.deepEqual(parseCommand(Buffer.concat([Buffer.from([Com.STMT_FETCH]), u32(9), u32(100)]), 0), { kind: 'stmt-fetch', id: 9, rows: 100 });
  assert.deepEqual(parseCommand(Buffer.from([Com.BINLOG_DUMP, 1, 2]), 0), { kind: 'unsupported', code: Com.BINLOG_DUMP });
  assert.throws(() => parseCommand(Buffer.from([Com.STMT_EXECUTE, 1]), 0), WireError);
  assert.throws(() => parseCommand(Buffer.alloc(0), 0), WireError);
});

test('COM_CHANGE_USER with secure-connection auth data, database, collation and plugin', () => {
  const auth = Buffer.alloc(20, 9);
  const payload = Buffer.concat([Buffer.from([Com.CHANGE_USER]), nul('bob'), Buffer.from([20]), auth, nul('db2'), u16(224), nul('mysql_native_password')]);
  const c = parseCommand(payload, Cap.SECURE_CONNECTION | Cap.PLUGIN_AUTH);
  assert.equal(c.kind, 'change-user');
  if (c.kind !== 'change-user') return;
  assert.deepEqual([c.user, c.database, c.collation, c.plugin], ['bob', 'db2', 224, 'mysql_native_password']);
  assert.ok(c.authData.equals(auth));
  assert.throws(() => parseCommand(payload.subarray(0, 10), Cap.SECURE_CONNECTION), WireError);
});
