import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../../../governance/audit/log.js';
import { verifyAuditFile } from '../../../../governance/audit/verify.js';
import type { AuditEvent } from '../../../../governance/audit/event.js';

const ev = (i: number): AuditEvent => ({
  time: `2026-01-01T00:00:0${i % 10}.000Z`, node: 'n1', session: 's', user: 'alice', clientIp: '127.0.0.1',
  door: 'postgres', type: 'statement', instance: 'demo_pg', database: 'd', sql: `SELECT ${i}`, fingerprint: undefined,
  decision: 'allowed', rules: [], durationMs: 1, rowsReturned: 1, rowsAffected: undefined, error: undefined,
});

/** A file with five good records; returns its lines (without newlines). */
async function fiveRecords(): Promise<{ dir: string; file: string; lines: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-verify-'));
  const file = join(dir, 'a.jsonl');
  const log = AuditLog.open({ file, node: 'n1' });
  for (let i = 1; i <= 5; i++) log.write(ev(i));
  await log.close();
  return { dir, file, lines: readFileSync(file, 'utf8').split('\n').slice(0, -1) };
}

function check(lines: string[], file: string, trailingNewline = true) {
  writeFileSync(file, lines.join('\n') + (trailingNewline ? '\n' : ''));
  return verifyAuditFile(file);
}

test('intact chain and empty file', async () => {
  const f = await fiveRecords();
  try {
    assert.deepEqual(verifyAuditFile(f.file), { ok: true, records: 5 });
    writeFileSync(f.file, '');
    assert.deepEqual(verifyAuditFile(f.file), { ok: true, records: 0 });
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('edited record: value changed, whitespace changed, key duplicated, hash recomputed naively', async () => {
  const f = await fiveRecords();
  try {
    const l = [...f.lines];
    l[2] = l[2].replace('"decision":"allowed"', '"decision":"refused"');
    assert.deepEqual(check(l, f.file).firstBad?.line, 3);
    assert.match(check(l, f.file).firstBad!.reason, /edited/);
    assert.equal(check(l, f.file).records, 2);

    const w = [...f.lines];
    w[1] = w[1].replace('"seq":2,', '"seq": 2,');
    assert.equal(check(w, f.file).firstBad?.line, 2);

    const d = [...f.lines];
    d[3] = d[3].replace('{"kind":"audit",', '{"kind":"audit","decision":"refused",');
    assert.equal(check(d, f.file).firstBad?.line, 4);

    // An attacker who edits a record and rehashes it still breaks the link from the next one.
    const r = [...f.lines];
    const { createHash } = await import('node:crypto');
    const obj = JSON.parse(r[1]);
    obj.sql = 'SELECT harmless';
    delete obj.hash;
    obj.hash = createHash('sha256').update(JSON.stringify(obj)).digest('hex');
    r[1] = JSON.stringify(obj);
    const res = check(r, f.file);
    assert.equal(res.firstBad?.line, 3);
    assert.match(res.firstBad!.reason, /chain broken/);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('deleted records: first, middle, several', async () => {
  const f = await fiveRecords();
  try {
    const first = check(f.lines.slice(1), f.file);
    assert.equal(first.firstBad?.line, 1);
    assert.match(first.firstBad!.reason, /record 1 is missing/);
    const mid = check([f.lines[0], f.lines[1], f.lines[3], f.lines[4]], f.file);
    assert.equal(mid.firstBad?.line, 3);
    assert.match(mid.firstBad!.reason, /record 3 is missing/);
    assert.equal(mid.records, 2);
    const several = check([f.lines[0], f.lines[4]], f.file);
    assert.match(several.firstBad!.reason, /records 2\.\.4 are missing/);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('reordered and duplicated records', async () => {
  const f = await fiveRecords();
  try {
    const swapped = check([f.lines[0], f.lines[2], f.lines[1], f.lines[3], f.lines[4]], f.file);
    assert.equal(swapped.firstBad?.line, 2);
    const dup = check([f.lines[0], f.lines[1], f.lines[1], f.lines[2]], f.file);
    assert.equal(dup.firstBad?.line, 3);
    assert.match(dup.firstBad!.reason, /out of order/);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('truncated last record, blank line, garbage', async () => {
  const f = await fiveRecords();
  try {
    const cut = [...f.lines];
    cut[4] = cut[4].slice(0, 40);
    const t = check(cut, f.file, false);
    assert.equal(t.firstBad?.line, 5);
    assert.match(t.firstBad!.reason, /truncated/);
    // a complete-looking line cut short is not JSON
    assert.equal(check(cut, f.file, true).firstBad?.line, 5);
    // the last record without its newline is incomplete too
    assert.equal(check(f.lines, f.file, false).firstBad?.line, 5);
    assert.equal(check([f.lines[0], '', f.lines[1]], f.file).firstBad?.line, 2);
    assert.equal(check([f.lines[0], 'hello'], f.file).firstBad?.line, 2);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('an anchor catches records cut off the end', async () => {
  const f = await fiveRecords();
  try {
    const last = JSON.parse(f.lines[4]);
    assert.equal(verifyAuditFile(f.file, { anchor: { seq: 5, hash: last.hash } }).ok, true);
    writeFileSync(f.file, f.lines.slice(0, 3).join('\n') + '\n');
    assert.equal(verifyAuditFile(f.file).ok, true, 'without an anchor a shorter chain is valid');
    const r = verifyAuditFile(f.file, { anchor: { seq: 5, hash: last.hash } });
    assert.equal(r.ok, false);
    assert.equal(r.firstBad?.line, 4);
    assert.match(r.firstBad!.reason, /truncated/);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});
