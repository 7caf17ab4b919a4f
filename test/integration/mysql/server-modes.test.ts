/**
 * A server-wide sql_mode sqlgate cannot read by: on a throw-away MariaDB
 * whose global mode includes NO_BACKSLASH_ESCAPES, ANSI_QUOTES or another
 * mode that changes how text is read (modes no statement through sqlgate
 * may set, so only a DBA at the server gives them), sessions end before
 * their first statement runs, with the reason; with the default mode back,
 * the same endpoint serves again. The same holds for a server that imposes
 * its own client character set, GBK, ignoring what the login asked for.
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

// With ANSI_QUOTES "phone" is a column to the server and a string to the
// analysis: the session must end before such a statement is judged.
for (const mode of ['STRICT_TRANS_TABLES,ANSI_QUOTES', 'ANSI', 'PIPES_AS_CONCAT', 'ORACLE']) {
  test(`a server whose own sql_mode is ${mode} ends each session before its first statement`, async () => {
    // An endpoint of its own: a pooled connection reset before the change keeps the old mode, rightly.
    const own = await startEndpoint({ policy: testPolicy({ upstreamUrl: server.url }) });
    try {
      try {
        await globalMode(mode);
        for (let i = 0; i < 2; i++) {
          const c = await connect(own.port, { user: 'both' });
          c.on('error', () => undefined);
          try {
            await assert.rejects(c.query('SELECT "a" AS s'), (e: { errno: number; message: string }) =>
              e.errno === 1235 && /server's own settings cannot be followed: sql_mode/.test(e.message) && /\[rule untracked-setting\]$/.test(e.message));
          } finally {
            c.destroy();
          }
        }
      } finally {
        await globalMode('STRICT_TRANS_TABLES');
      }
      const c = await connect(own.port, { user: 'both' });
      try {
        const [rows] = await c.query('SELECT "a" AS s');
        assert.deepEqual(rows, [{ s: 'a' }]);
      } finally {
        await c.end();
      }
    } finally {
      await own.close();
    }
  });
}

test('a COM_RESET_CONNECTION takes the server\'s mode again, and it is read again', async () => {
  const own = await startEndpoint({ policy: testPolicy({ upstreamUrl: server.url }) });
  const c = await connect(own.port, { user: 'both' });
  c.on('error', () => undefined);
  try {
    const [before] = await c.query('SELECT "a" AS s');
    assert.deepEqual(before, [{ s: 'a' }]);
    await globalMode('STRICT_TRANS_TABLES,ANSI_QUOTES');
    await c.reset();
    await assert.rejects(c.query('SELECT "a" AS s'), (e: { errno: number; message: string }) => e.errno === 1235 && /ANSI_QUOTES/.test(e.message));
  } finally {
    c.destroy();
    await globalMode('STRICT_TRANS_TABLES');
    await own.close();
  }
});

test('a server that imposes GBK as the client character set ends each session before its first statement', async () => {
  // skip-character-set-client-handshake: the server ignores the login's character set and uses its own.
  const gbk = await startMariadb(['--skip-character-set-client-handshake', '--character-set-server=gbk', '--collation-server=gbk_chinese_ci']);
  const own = await startEndpoint({ policy: testPolicy({ upstreamUrl: gbk.url }) });
  try {
    for (let i = 0; i < 2; i++) {
      const c = await connect(own.port, { user: 'both' });
      c.on('error', () => undefined);
      try {
        // (With GBK, 0xBF5C is one character whose backslash escapes nothing: no statement may run.)
        await assert.rejects(c.query("SELECT 'a' AS s"),
          (e: { errno: number; message: string }) => e.errno === 1235 && /character set gbk/.test(e.message) && /\[rule untracked-setting\]$/.test(e.message));
      } finally {
        c.destroy();
      }
    }
  } finally {
    await own.close();
    gbk.stop();
  }
});

test('a statement longer than the server\'s max_allowed_packet is refused before it is analysed, and the session goes on', async () => {
  const admin = await mysql.createConnection(urlParts(server.url));
  const own = await startEndpoint({ policy: testPolicy({ upstreamUrl: server.url }) });
  try {
    await admin.query('SET GLOBAL max_allowed_packet = 1048576');
    const c = await connect(own.port, { user: 'both' });
    try {
      const ids = (n: number) => Array.from({ length: n }, (_, i) => i + 1).join(',');
      // 0.7 MB: under the limit, analysed and run.
      const [small] = await c.query(`SELECT COUNT(*) AS n FROM (SELECT 1 AS id) t WHERE id IN (${ids(100_000)})`);
      assert.equal(Number((small as { n: unknown }[])[0].n), 1);
      await assert.rejects(c.query(`SELECT 1 FROM (SELECT 1 AS id) t WHERE id IN (${ids(200_000)})`), (e: { errno: number; sqlState: string; message: string }) =>
        e.errno === 1153 && e.sqlState === '08S01' && /max_allowed_packet \(1048576 bytes\)/.test(e.message));
      await assert.rejects(c.prepare(`SELECT 1 FROM (SELECT 1 AS id) t WHERE id IN (${ids(200_000)})`), (e: { errno: number }) => e.errno === 1153);
      const [after] = await c.query('SELECT 2 AS two');
      assert.deepEqual(after, [{ two: 2 }]);
    } finally {
      await c.end();
    }
  } finally {
    await admin.query('SET GLOBAL max_allowed_packet = 268435456');
    await admin.end();
    await own.close();
  }
});
