import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../../governance/store/sqlite-store.js';
import { openStore } from '../../../governance/store/open.js';
import { LATEST_VERSION, MIGRATIONS } from '../../../governance/store/migrations.js';
import { SqlgateError } from '../../../governance/errors.js';

function tempDir(): { dir: string; [Symbol.dispose](): void } {
  const dir = mkdtempSync(join(tmpdir(), 'sqlgate-sqlite-'));
  return { dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

test('openStore with the default sqlite config creates the folder and the file, and state survives a restart', async () => {
  const t = tempDir();
  try {
    const path = join(t.dir, '.sqlgate', 'state.db');
    const s1 = await openStore({ kind: 'sqlite', path });
    assert.equal(s1.kind, 'sqlite');
    assert.ok(existsSync(path));
    await s1.reserveRows('u', '2026-01-01', 10, 100);
    await s1.countQuery('u', '2026-01-01', 5);
    await s1.close();
    await s1.close();
    const s2 = await openStore({ kind: 'sqlite', path });
    assert.deepEqual(await s2.usage('u', '2026-01-01'), { user: 'u', day: '2026-01-01', rowsUsed: 10, queriesUsed: 1 });
    await s2.close();
  } finally {
    t[Symbol.dispose]();
  }
});

test('migrations are recorded once each and versions are strictly increasing', async () => {
  const versions = MIGRATIONS.map((m) => m.version);
  assert.deepEqual(versions, [...versions].sort((a, b) => a - b));
  assert.equal(new Set(versions).size, versions.length);
  const t = tempDir();
  try {
    const path = join(t.dir, 'state.db');
    for (let i = 0; i < 3; i++) await (await openStore({ kind: 'sqlite', path })).close();
    const db = new Database(path, { readonly: true });
    const rows = db.prepare('SELECT version, name FROM sqlgate_migrations ORDER BY version').all();
    db.close();
    assert.deepEqual(rows, MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
  } finally {
    t[Symbol.dispose]();
  }
});

test('a store migrated by a newer sqlgate is refused, not written to', async () => {
  const t = tempDir();
  try {
    const path = join(t.dir, 'state.db');
    await (await openStore({ kind: 'sqlite', path })).close();
    const db = new Database(path);
    db.prepare('INSERT INTO sqlgate_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(LATEST_VERSION + 1, 'future', 'now');
    db.close();
    assert.throws(() => SqliteStore.open({ path }), (e: unknown) => e instanceof SqlgateError && /newer than this sqlgate knows/.test(e.message));
  } finally {
    t[Symbol.dispose]();
  }
});

test('a file that is not a database fails to open with an error, not a silent empty store', async () => {
  const t = tempDir();
  try {
    const path = join(t.dir, 'state.db');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path, 'this is not sqlite, just a text file long enough to have a header page '.repeat(20));
    await assert.rejects(openStore({ kind: 'sqlite', path }));
  } finally {
    t[Symbol.dispose]();
  }
});

test('a fresh store file another process is writing is opened once that process lets go (cluster workers starting together)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-sqlite-busy-'));
  const store = join(dir, 'state.db');
  const driver = pathToFileURL(join(import.meta.dirname, '../../../../node_modules/better-sqlite3/lib/index.js')).href;
  try {
    // Another process holds the write lock of the still rollback-journal file, as a worker
    // that got there first does while it migrates. Switching to WAL does not wait on the busy
    // handler: without a retry the open fails at once with SQLITE_BUSY.
    const holder = spawn(process.execPath, ['--input-type=module', '-e', `
      const { default: Database } = await import(${JSON.stringify(driver)});
      const db = new Database(${JSON.stringify(store)});
      db.exec('BEGIN IMMEDIATE');
      db.exec('CREATE TABLE other_writer (a)');
      console.log('locked');
      setTimeout(() => { db.exec('COMMIT'); db.close(); }, 400);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => holder.stdout!.once('data', resolve));
    const s = SqliteStore.open({ path: store });
    assert.equal((await s.countQuery('u', '2026-01-01', undefined)).allowed, true);
    await s.close();
    await new Promise((resolve) => (holder.exitCode !== null ? resolve(undefined) : holder.once('exit', resolve)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
