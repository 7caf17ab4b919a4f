import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { AuditLog } from '../../../../governance/audit/log.js';
import type { AuditEvent } from '../../../../governance/audit/event.js';
import { GENESIS } from '../../../../governance/audit/chain.js';
import { verifyAuditFile } from '../../../../governance/audit/verify.js';
import { SqlgateError } from '../../../../governance/errors.js';
import { SECRET_STATEMENTS } from './secret-statements.js';

function event(i: number, over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), node: '', session: `s${i}`, user: 'alice',
    clientIp: '127.0.0.1', door: 'mysql', type: 'statement', instance: 'demo_mysql', database: 'sqlgate_demo',
    sql: `SELECT ${i}`, fingerprint: 'SELECT ?', decision: 'allowed', rules: [], durationMs: 1.5,
    rowsReturned: 1, rowsAffected: undefined, error: undefined, ...over,
  };
}

function tmp() {
  const dir = mkdtempSync(join(tmpdir(), 'sg-audit-'));
  return { dir, file: join(dir, 'sub', 'audit.jsonl'), done: () => rmSync(dir, { recursive: true, force: true }) };
}

const readLines = (f: string) => readFileSync(f, 'utf8').split('\n').filter(Boolean);

test('records are JSON lines chained by hash, seq from 1', async () => {
  const t = tmp();
  try {
    const log = AuditLog.open({ file: t.file, node: 'n1' });
    const r1 = log.write(event(1));
    const r2 = log.write(event(2, { decision: 'refused', rules: ['column-acl'], error: { code: 'COLUMN_ACCESS_DENIED', message: 'no' } }));
    await log.close();
    const lines = readLines(t.file).map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.equal(lines[0].kind, 'audit');
    assert.equal(lines[0].seq, 1);
    assert.equal(lines[0].prev, GENESIS);
    assert.equal(lines[0].hash, r1.hash);
    assert.equal(lines[0].node, 'n1', 'node filled in when the event leaves it empty');
    assert.equal(lines[0].sql, 'SELECT 1');
    assert.equal(lines[1].prev, r1.hash);
    assert.equal(lines[1].hash, r2.hash);
    assert.deepEqual(lines[1].rules, ['column-acl']);
    assert.deepEqual(verifyAuditFile(t.file), { ok: true, records: 2 });
  } finally {
    t.done();
  }
});

test('the chain continues across restarts', async () => {
  const t = tmp();
  try {
    let log = AuditLog.open({ file: t.file, node: 'n1' });
    log.write(event(1));
    log.write(event(2));
    await log.close();
    log = AuditLog.open({ file: t.file, node: 'n1' });
    assert.equal(log.seq, 2);
    const r = log.write(event(3));
    assert.equal(r.seq, 3);
    await log.close();
    assert.deepEqual(verifyAuditFile(t.file), { ok: true, records: 3 });
  } finally {
    t.done();
  }
});

test('open refuses to continue a file whose last record is partial or edited', async () => {
  const t = tmp();
  try {
    const log = AuditLog.open({ file: t.file, node: 'n1' });
    log.write(event(1));
    await log.close();
    appendFileSync(t.file, '{"kind":"audit","seq":2,');
    assert.throws(() => AuditLog.open({ file: t.file, node: 'n1' }), (e: unknown) =>
      e instanceof SqlgateError && e.code === 'AUDIT_UNAVAILABLE' && /partial/.test(e.message));
    writeFileSync(t.file, readLines(t.file)[0].replace('SELECT 1', 'SELECT 2') + '\n');
    assert.throws(() => AuditLog.open({ file: t.file, node: 'n1' }), /broken/);
  } finally {
    t.done();
  }
});

test('fail closed: a failed sink refuses every later write', async () => {
  // /dev/full accepts open() and fails every write with ENOSPC.
  const log = AuditLog.open({ file: '/dev/full', node: 'n1' });
  assert.throws(() => log.write(event(1)), (e: unknown) => e instanceof SqlgateError && e.code === 'AUDIT_UNAVAILABLE');
  assert.throws(() => log.write(event(2)), (e: unknown) => e instanceof SqlgateError && e.code === 'AUDIT_UNAVAILABLE');
  assert.ok(log.failure);
  assert.throws(() => log.flush(), (e: unknown) => e instanceof SqlgateError && e.code === 'AUDIT_UNAVAILABLE');
  await log.close();
});

test('fail closed: async sink failure shows on the next write; closed log refuses', async () => {
  const log = AuditLog.open({ file: '/dev/full', node: 'n1', sync: false });
  try { log.write(event(1)); } catch { /* may already fail */ }
  // The failure arrives asynchronously: wait for it (bounded) rather than a fixed sleep that a loaded machine outruns.
  for (let i = 0; i < 200 && !log.failure; i++) await new Promise((r) => setTimeout(r, 25));
  assert.throws(() => log.write(event(2)), (e: unknown) => e instanceof SqlgateError && e.code === 'AUDIT_UNAVAILABLE');
  await log.close();
  const t = tmp();
  try {
    const ok = AuditLog.open({ file: t.file, node: 'n1' });
    await ok.close();
    assert.throws(() => ok.write(event(1)), (e: unknown) => e instanceof SqlgateError && e.code === 'AUDIT_UNAVAILABLE');
  } finally {
    t.done();
  }
});

test('an unopenable file is AUDIT_UNAVAILABLE at open', () => {
  const t = tmp();
  try {
    writeFileSync(join(t.dir, 'plain'), 'x');
    assert.throws(() => AuditLog.open({ file: join(t.dir, 'plain', 'audit.jsonl'), node: 'n1' }), (e: unknown) =>
      e instanceof SqlgateError && e.code === 'AUDIT_UNAVAILABLE');
  } finally {
    t.done();
  }
});

test('passwords and secrets never reach the file', async () => {
  const t = tmp();
  try {
    const log = AuditLog.open({ file: t.file, node: 'n1' });
    SECRET_STATEMENTS.forEach(([sql, secret], i) => {
      log.write(event(i, {
        sql, decision: 'failed',
        // servers echo the statement in syntax errors
        error: { code: 'UPSTREAM', message: `You have an error in your SQL syntax near '${secret}' at line 1` },
        detail: { conn: `postgres://svc:${secret}@db/x`, note: `password=${secret}` },
      }));
    });
    log.write(event(99, { sql: 'SELECT 1', detail: { dsn: 'mysql://root:TopS3cret-DSN@127.0.0.1/x' } }));
    log.write(event(100, { sql: 'SELECT 1', detail: { password: 'TopS3cret-KEY', nested: { apiKey: ['TopS3cret-KEY'], serviceToken: 'TopS3cret-KEY' } } }));
    await log.close();
    const text = readFileSync(t.file, 'utf8');
    for (const [, secret] of SECRET_STATEMENTS) assert.ok(!text.includes(secret), `leaked: ${secret}`);
    assert.ok(!text.includes('TopS3cret-DSN'));
    assert.ok(!text.includes('TopS3cret-KEY'));
    assert.ok(verifyAuditFile(t.file).ok);
  } finally {
    t.done();
  }
});

test('property: any event text round-trips into a verifiable chain', async () => {
  const t = tmp();
  try {
    const log = AuditLog.open({ file: t.file, node: 'n1' });
    let n = 0;
    fc.assert(fc.property(fc.string({ unit: 'binary' }), fc.string(), fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.double(), fc.integer(), fc.constant(null))),
      (sql, user, detail) => {
        log.write(event(++n, { sql, user, detail }));
      }), { numRuns: 300 });
    await log.close();
    assert.deepEqual(verifyAuditFile(t.file), { ok: true, records: n });
  } finally {
    t.done();
  }
});

test('property: every member of any event lands in the record, as JSON.stringify would write it, in the fixed order', async () => {
  const t = tmp();
  try {
    const log = AuditLog.open({ file: t.file, node: 'n1', groupCommit: true });
    // Quotes, escapes, control characters, astral and lone surrogates: what a serializer gets wrong.
    const text = fc.string({ unit: fc.constantFrom('a', 'é', '😀', '\ud800', '\udfff', '"', '\\', '\n', '\u0000', '\u2028', '$1') });
    const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
    const events: AuditEvent[] = [];
    fc.assert(fc.property(fc.record({
      time: text, node: fc.constantFrom('', 'n2'), session: text, user: maybe(text), clientIp: text,
      door: fc.constantFrom('mysql', 'postgres', 'console', 'ticket', 'cli'), type: fc.constantFrom('statement', 'login', 'operation'),
      instance: maybe(text), database: maybe(text), sql: maybe(fc.constantFrom('SELECT 1', 'UPDATE t SET a = 2 WHERE id = 3')),
      fingerprint: maybe(text), decision: fc.constantFrom('allowed', 'refused', 'masked', 'cut', 'needs-approval', 'failed', 'raw'),
      rules: fc.array(text, { maxLength: 3 }), durationMs: maybe(fc.double()), rowsReturned: maybe(fc.integer()), rowsAffected: maybe(fc.integer()),
      error: maybe(fc.record({ code: fc.string(), message: fc.constantFrom('boom', 'sqlgate: refused [rule column-acl]') })),
      operation: maybe(fc.string()), detail: maybe(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null)))),
    }), (e) => {
      events.push(e as AuditEvent);
      log.write(e as AuditEvent);
    }), { numRuns: 300 });
    await log.close();
    assert.deepEqual(verifyAuditFile(t.file), { ok: true, records: events.length });
    const order = ['kind', 'seq', 'prev', 'time', 'node', 'session', 'user', 'clientIp', 'door', 'type', 'instance', 'database', 'sql',
      'fingerprint', 'decision', 'rules', 'durationMs', 'rowsReturned', 'rowsAffected', 'error', 'operation', 'detail', 'hash'];
    readLines(t.file).forEach((line, i) => {
      const r = JSON.parse(line) as Record<string, unknown>;
      const e = events[i];
      const keys = Object.keys(r);
      assert.deepEqual(keys, order.filter((k) => keys.includes(k)), 'members in the fixed order');
      assert.equal(r.time, e.time);
      assert.equal(r.node, e.node || 'n1');
      for (const k of ['session', 'user', 'clientIp', 'instance', 'database'] as const) assert.equal(r[k], e[k], k);
      assert.equal(r.door, e.door);
      assert.equal(r.decision, e.decision);
      assert.equal(r.sql, e.sql);
      assert.deepEqual(r.rules, e.rules);
      if (e.fingerprint === undefined) assert.equal(r.fingerprint, undefined);
      else assert.equal(typeof r.fingerprint, 'string');
      assert.deepEqual(r.durationMs, e.durationMs === undefined ? undefined : JSON.parse(JSON.stringify(e.durationMs)));
      assert.equal(r.rowsReturned, e.rowsReturned);
      assert.equal(r.rowsAffected, e.rowsAffected);
      assert.equal((r.error as { code?: string } | undefined)?.code, e.error?.code);
      assert.equal(r.operation, e.operation);
      assert.equal(r.detail === undefined, e.detail === undefined);
    });
  } finally {
    t.done();
  }
});

test('group commit: the records of one turn reach the file together at its end, chained', async () => {
  const t = tmp();
  try {
    const log = AuditLog.open({ file: t.file, node: 'n1', groupCommit: true });
    for (let i = 1; i <= 3; i++) log.write(event(i));
    assert.equal(readFileSync(t.file, 'utf8'), '', 'nothing written mid-turn');
    await new Promise((r) => setImmediate(r));
    assert.equal(readLines(t.file).length, 3);
    log.write(event(4));
    log.writePending();
    assert.equal(readLines(t.file).length, 4, 'writePending writes at once (a door calls it before answering)');
    log.write(event(5));
    await log.close();
    assert.deepEqual(verifyAuditFile(t.file), { ok: true, records: 5 }, 'close writes what is pending');
  } finally {
    t.done();
  }
});

test('group commit fails closed: a failed turn write refuses every later record', async () => {
  const log = AuditLog.open({ file: '/dev/full', node: 'n1', groupCommit: true });
  log.write(event(1));
  await new Promise((r) => setImmediate(r));
  assert.ok(log.failure, 'the write at the end of the turn failed');
  assert.throws(() => log.write(event(2)), (e: unknown) => e instanceof SqlgateError && e.code === 'AUDIT_UNAVAILABLE');
  assert.throws(() => log.flush(), (e: unknown) => e instanceof SqlgateError && e.code === 'AUDIT_UNAVAILABLE');
  await log.close();
});
