import { test } from 'node:test';
import assert from 'node:assert/strict';
import { internalQueryable, loadTransactionCatalog, type RunInternal } from '../../../proxy/postgres/transaction-catalog.js';

test('internal queries: $n parameters become literals that survive quotes and backslashes', async () => {
  const sent: string[] = [];
  const q = internalQueryable(async (sql) => { sent.push(sql); return { fields: [], rows: [] }; });
  await q.query(`SELECT set_config('search_path', $1, false)`, ["a'b\\c, \"$user\""]);
  await q.query('SELECT $1, $2', [null, 'x']);
  assert.deepEqual(sent, [
    `SELECT set_config('search_path', E'a''b\\\\c, "$user"', false)`,
    `SELECT NULL, E'x'`,
  ]);
});

test('internal queries: text values are typed as pg types them (bool, numbers; int8 stays text)', async () => {
  const q = internalQueryable(async () => ({
    fields: [{ name: 'b', typeOid: 16 }, { name: 'i', typeOid: 23 }, { name: 'f', typeOid: 701 }, { name: 'big', typeOid: 20 }, { name: 's', typeOid: 25 }, { name: 'n', typeOid: 23 }],
    rows: [['t', '42', '-1', '9007199254740993', 'text', null], ['f', '0', '1.5', '1', '', null]],
  }));
  assert.deepEqual((await q.query('SELECT ...')).rows, [
    { b: true, i: 42, f: -1, big: '9007199254740993', s: 'text', n: null },
    { b: false, i: 0, f: 1.5, big: '1', s: '', n: null },
  ]);
});

test('the catalog is read inside a savepoint of its own, rolled back to afterwards, also when a read fails', async () => {
  const sent: string[] = [];
  const failing: RunInternal = async (sql) => {
    sent.push(sql.trim().split(/\s+/).slice(0, 3).join(' '));
    if (/current_database/.test(sql)) throw new Error('the upstream refused it: canceling statement due to statement timeout');
    return { fields: [], rows: [] };
  };
  await assert.rejects(loadTransactionCatalog(failing), /statement timeout/);
  assert.deepEqual(sent, ['SAVEPOINT sqlgate_catalog', 'SELECT pg_catalog.current_database() AS', 'ROLLBACK TO SAVEPOINT', 'RELEASE SAVEPOINT sqlgate_catalog']);
});

test('a successful read is rolled back to as well: what the loader set does not stay', async () => {
  const sent: string[] = [];
  const run: RunInternal = async (sql) => {
    sent.push(sql.trim().split(/\s+/).slice(0, 2).join(' '));
    if (/current_database/.test(sql)) return { fields: [{ name: 'd', typeOid: 25 }], rows: [['db']] };
    return { fields: [], rows: [] };
  };
  const catalog = await loadTransactionCatalog(run);
  assert.equal(catalog.dialect, 'postgres');
  assert.deepEqual(sent.slice(-2), ['ROLLBACK TO', 'RELEASE SAVEPOINT']);
});
