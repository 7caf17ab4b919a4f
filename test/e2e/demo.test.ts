/**
 * The newcomer's path: `sqlgate demo --tour-only` seeds the demo databases
 * (on throw-away servers, so the test touches no data it did not create),
 * starts sqlgate on the sample policy and runs the tour through both real
 * endpoints. Every refusal in the tour must come from sqlgate, the allowed
 * reads must return rows, and the audit chain it leaves must verify.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cli = join(import.meta.dirname, '../../proxy/cli/main.js');

test('sqlgate demo --tour-only runs the tour through both endpoints and leaves a verifiable audit log', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sqlgate-demo-'));
  try {
    const r = spawnSync(process.execPath, [cli, 'demo', '--tour-only', '--state-dir', dir, '--mysql-port', '0', '--pg-port', '0', '--embedded'], { encoding: 'utf8', timeout: 240_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /through the MySQL endpoint/);
    assert.match(r.stdout, /through the PostgreSQL endpoint/);
    assert.match(r.stdout, /1 \| Anna Lei \| Hangzhou/, 'granted columns are returned');
    assert.match(r.stdout, /ERROR 1143 \(42501\): sqlgate: no select privilege on column sqlgate_demo\.customers\.phone/);
    assert.match(r.stdout, /136\*\*\*\*6946/, 'support sees the phone masked');
    assert.doesNotMatch(r.stdout, /13697366946/, 'the real phone number never shows');
    const v = spawnSync(process.execPath, [cli, 'audit', 'verify', join(dir, 'audit.jsonl')], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stdout + v.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
