import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, startEndpoint } from './helpers.js';

test('smoke: mysql2 logs in through sqlgate and runs a query', async () => {
  const ep = await startEndpoint();
  try {
    const c = await connect(ep.port);
    const [rows] = await c.query('SELECT 1 AS one, CURRENT_USER() AS u');
    assert.equal((rows as { one: number }[])[0].one, 1);
    await c.end();
  } finally {
    await ep.close();
  }
});
