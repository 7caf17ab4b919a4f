import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './run-cli.js';
import { AuditLog } from '../../../../governance/audit/log.js';

async function logFile(dir: string, n: number): Promise<string> {
  const file = join(dir, 'audit.jsonl');
  const log = AuditLog.open({ file, node: 'n1' });
  for (let i = 1; i <= n; i++) {
    log.write({
      time: new Date().toISOString(), node: 'n1', session: 's', user: 'bob', clientIp: '127.0.0.1', door: 'cli',
      type: 'operation', instance: undefined, database: undefined, sql: undefined, fingerprint: undefined,
      decision: 'allowed', rules: [], durationMs: undefined, rowsReturned: undefined, rowsAffected: undefined,
      error: undefined, operation: `op${i}`,
    });
  }
  await log.close();
  return file;
}

test('sqlgate audit verify: intact file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-cli-audit-'));
  try {
    const f = await logFile(dir, 3);
    const r = cli(['audit', 'verify', f]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), `${f}: intact, 3 records`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlgate audit verify: edited and deleted records are reported with their line, exit 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-cli-audit-'));
  try {
    const f = await logFile(dir, 4);
    const lines = readFileSync(f, 'utf8').split('\n');
    writeFileSync(f, [lines[0], lines[1].replace('"op2"', '"op9"'), ...lines.slice(2)].join('\n'));
    const edited = cli(['audit', 'verify', f]);
    assert.equal(edited.status, 1);
    assert.match(edited.stdout, new RegExp(`^${f}:2: broken: .*edited.*\\(1 record intact before it\\)`));
    writeFileSync(f, [lines[0], lines[1], lines[3], ''].join('\n'));
    const deleted = cli(['audit', 'verify', f]);
    assert.equal(deleted.status, 1);
    assert.match(deleted.stdout, new RegExp(`^${f}:3: broken: record 3 is missing`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlgate audit: usage errors, missing file, --help', () => {
  assert.equal(cli(['audit']).status, 2);
  assert.equal(cli(['audit', 'check', 'x']).status, 2);
  const missing = cli(['audit', 'verify', '/nonexistent/a.jsonl']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /no such file/);
  const h = cli(['audit', '--help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /usage: sqlgate audit verify FILE/);
});
