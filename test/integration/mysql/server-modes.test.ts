/**
 * A server-wide sql_mode sqlgate cannot read by: on a throw-away MariaDB
 * whose global mode includes NO_BACKSLASH_ESCAPES (a mode no statement
 * through sqlgate may set, so only a DBA at the server gives it), sessions
 * end before their first statement runs, with the reason; with the default
 * mode back, the same endpoint serves again.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startMariadb, urlParts, type EmbeddedServer } from '../../../proxy/embedded-servers.js';
import { connect, startEndpoint, testPolicy, type Endpoint } from './helpers.js';

let server: EmbeddedServer;
let ep: Endpoint;

before(async () => {
  server = await startMariadb();
  ep = await startEndpoint({ policy: testPolicy({ upstreamUrl: server.url }) });
});
after(async () => {
  await ep?.close();
  server?.stop();
});

async function globalMode(mode: string): Promise<void> {
  const admin = await mysql.createConnection(urlParts(server.url));
  try {
    await admin.query('SET GLOBAL sql_mode = ?', [mode]);
  } finally {
    await admin.end();
  }
}

test('a server that reads backslashes literally ends each session before its first statement', async () => {
  await globalMode('STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES');
  for (let i = 0; i < 2; i++) {
    const c = await connect(ep.port, { user: 'both' });
    c.on('error', () => undefined);
    await assert.rejects(c.query("SELECT 'a\\\\' AS s"), (e: { errno: number; message: string }) =>
      e.errno === 1235 && /NO_BACKSLASH_ESCAPES/.test(e.message) && /\[rule untracked-setting\]$/.test(e.message));
    c.destroy();
  }
  await globalMode('STRICT_TRANS_TABLES');
  const c = await connect(ep.port, { user: 'both' });
  try {
    const [rows] = await c.query("SELECT 'a\\\\' AS s");
    assert.deepEqual(rows, [{ s: 'a\\' }]);
  } finally {
    await c.end();
  }
});
