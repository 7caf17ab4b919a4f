import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { summarize, type CpuProfile } from '../../../bench/profile-summary.js';

const frame = (functionName: string, url = '', lineNumber = -1) => ({ functionName, url, lineNumber });

// (root) ─ main (proxy/a.js) ─ helper (governance/b.js) ─ helper (recursive)
//        └ (idle)
const PROFILE: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 5] },
    { id: 2, callFrame: frame('main', 'file:///w/dist/proxy/a.js', 9), children: [3] },
    { id: 3, callFrame: frame('helper', 'file:///w/dist/governance/b.js', 4), children: [4] },
    { id: 4, callFrame: frame('helper', 'file:///w/dist/governance/b.js', 4) },
    { id: 5, callFrame: frame('(idle)') },
  ],
  samples: [3, 4, 2, 5, 4],
  timeDeltas: [100, 200, 300, 1000, 400],
};

test('self, inclusive and per-file time of a profile, idle left out', () => {
  const s = summarize(PROFILE);
  assert.equal(s.busyMs, 1);
  assert.equal(s.idleMs, 1);
  assert.deepEqual(s.self.map((x) => [x.name, x.ms, x.share]), [
    ['helper governance/b.js:5', 0.7, 0.7],
    ['main proxy/a.js:10', 0.3, 0.3],
  ]);
  // The recursive helper counts once per sample, not once per frame.
  assert.deepEqual(s.inclusive.map((x) => [x.name, x.share]), [
    ['main proxy/a.js:10', 1],
    ['helper governance/b.js:5', 0.7],
  ]);
  assert.deepEqual(s.files.map((x) => [x.name, x.share]), [['proxy/a.js', 1], ['governance/b.js', 0.7]]);
  assert.equal(summarize(PROFILE, 1).self.length, 1);
});

test('the command prints the tables for a file or a directory of profiles', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sqlgate-prof-'));
  try {
    writeFileSync(join(dir, 'CPU.1.cpuprofile'), JSON.stringify(PROFILE));
    const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bench', 'profile-summary.js');
    const out = execFileSync(process.execPath, [script, dir, '--top', '5'], { encoding: 'utf8' });
    assert.match(out, /1 ms busy, 1 ms idle/);
    assert.match(out, /70\.0%\s+1\s+helper governance\/b\.js:5/);
    assert.throws(() => execFileSync(process.execPath, [script], { stdio: 'pipe' }), /usage/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
