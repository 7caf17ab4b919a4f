import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMysqlDatabase, createPgDatabase, mysqlConnect, pgConnect } from '../helpers/db.js';

test('harness: MariaDB answers and a test database is created and dropped', async () => {
  const db = await createMysqlDatabase('harness', 'CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1),(2)');
  try {
    const c = await mysqlConnect(db.url);
    const [rows] = await c.query('SELECT COUNT(*) AS n FROM t');
    await c.end();
    assert.equal(Number((rows as { n: number }[])[0].n), 2);
  } finally {
    await db.drop();
  }
  const admin = await mysqlConnect();
  const [left] = await admin.query('SHOW DATABASES LIKE ?', [db.name]);
  await admin.end();
  assert.equal((left as unknown[]).length, 0, 'database was dropped');
});

test('harness: PostgreSQL answers and a test database is created and dropped', async () => {
  const db = await createPgDatabase('harness', 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1),(2)');
  try {
    const c = await pgConnect(db.url);
    const r = await c.query('SELECT count(*)::int AS n FROM t');
    await c.end();
    assert.equal(r.rows[0].n, 2);
  } finally {
    await db.drop();
  }
  const admin = await pgConnect();
  const r = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [db.name]);
  await admin.end();
  assert.equal(r.rowCount, 0, 'database was dropped');
});
