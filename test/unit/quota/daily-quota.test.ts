import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { DailyQuota } from '../../../governance/quota/daily-quota.js';
import { SqliteStore } from '../../../governance/store/sqlite-store.js';
import { SqlgateError } from '../../../governance/errors.js';
import type { ControlStore } from '../../../governance/store/control-store.js';

let store: ControlStore;
let clock: Date;
let quota: DailyQuota;

beforeEach(() => {
  store = SqliteStore.open({ path: ':memory:' });
  clock = new Date('2026-03-01T10:00:00Z');
  quota = new DailyQuota({ store, timeZone: 'Asia/Tokyo', now: () => clock, chunkRows: 100 });
});
afterEach(async () => { await store.close(); });

test('countQuery counts exactly up to the limit', async () => {
  const got = [];
  for (let i = 0; i < 4; i++) got.push(await quota.countQuery('alice', 3));
  assert.deepEqual(got, [
    { allowed: true, used: 1, limit: 3 }, { allowed: true, used: 2, limit: 3 },
    { allowed: true, used: 3, limit: 3 }, { allowed: false, used: 3, limit: 3 },
  ]);
  assert.equal((await quota.usage('alice')).queriesUsed, 3);
});

test('the query quota rolls over at midnight in the quota zone, not at UTC midnight', async () => {
  clock = new Date('2026-03-01T14:00:00Z'); // 23:00 in Tokyo
  assert.equal((await quota.countQuery('alice', 1)).allowed, true);
  assert.equal((await quota.countQuery('alice', 1)).allowed, false);
  clock = new Date('2026-03-01T14:59:59.999Z');
  assert.equal((await quota.countQuery('alice', 1)).allowed, false);
  clock = new Date('2026-03-01T15:00:00Z'); // Tokyo midnight; UTC still 1 March
  assert.equal(quota.today(), '2026-03-02');
  assert.deepEqual(await quota.countQuery('alice', 1), { allowed: true, used: 1, limit: 1 });
});

test('admit refuses with QUOTA_EXCEEDED naming the rule, and does not count refusals', async () => {
  const limits = { maxQueriesPerDay: 2, maxRowsPerDay: undefined };
  await quota.admit('bob', limits);
  await quota.admit('bob', limits);
  await assert.rejects(quota.admit('bob', limits), (e: unknown) =>
    e instanceof SqlgateError && e.code === 'QUOTA_EXCEEDED' && e.rule === 'daily-query-quota'
    && e.sqlstate === '54000' && e.errno === 1226 && /bob/.test(e.message) && /Asia\/Tokyo/.test(e.message));
  assert.equal((await quota.usage('bob')).queriesUsed, 2);
});

test('admit refuses every statement once the row quota is used up, until the day turns', async () => {
  const limits = { maxQueriesPerDay: undefined, maxRowsPerDay: 250 };
  await quota.admit('carol', limits);
  const meter = quota.rowMeter('carol', 250);
  let sent = 0;
  for (let row = 0; row < 1000; row++) {
    if (meter.available() === 0 && (await meter.refill()) === 0) break;
    meter.spend(1);
    sent++;
  }
  await meter.close();
  assert.equal(sent, 250, 'the query that crosses the quota gets exactly what is left');
  assert.equal(meter.exhausted, true);
  await assert.rejects(quota.admit('carol', limits), (e: unknown) =>
    e instanceof SqlgateError && e.code === 'QUOTA_EXCEEDED' && e.rule === 'daily-row-quota');
  assert.equal((await quota.usage('carol')).queriesUsed, 1, 'the refused statement was not counted');
  clock = new Date('2026-03-02T15:00:00Z');
  await quota.admit('carol', limits);
});

test('a query crossing the row quota mid-result gets exactly the remainder, then 0', async () => {
  assert.equal((await quota.reserveRows('dave', 900, 1000)).granted, 900);
  const m = quota.rowMeter('dave', 1000, 64);
  let sent = 0;
  while (true) {
    if (m.available() === 0 && (await m.refill()) === 0) break;
    m.spend(1);
    sent++;
  }
  await m.close();
  assert.equal(sent, 100);
  assert.equal((await quota.reserveRows('dave', 10, 1000)).granted, 0);
  assert.equal((await quota.usage('dave')).rowsUsed, 1000);
});

test('a meter gives back what it reserved and did not send', async () => {
  const m = quota.rowMeter('erin', 1000, 300);
  assert.equal(await m.refill(), 300);
  m.spend(42);
  assert.equal((await quota.usage('erin')).rowsUsed, 300);
  await m.close();
  await m.close();
  assert.equal((await quota.usage('erin')).rowsUsed, 42);
  assert.equal(m.sent, 42);
  assert.throws(() => m.spend(1), SqlgateError);
  await assert.rejects(m.refill(), SqlgateError);
});

test('spending more than reserved is refused (no row leaves unaccounted)', async () => {
  const m = quota.rowMeter('frank', 10, 5);
  assert.throws(() => m.spend(1), SqlgateError);
  await m.refill();
  assert.throws(() => m.spend(6), SqlgateError);
  assert.throws(() => m.spend(-1), SqlgateError);
  m.spend(5);
  await m.close();
});

test('a meter reserved before midnight gives its rest back to that day and draws from the new one', async () => {
  clock = new Date('2026-03-01T14:59:00Z'); // 23:59 Tokyo, 1 March
  const m = quota.rowMeter('gina', 500, 200);
  await m.refill();
  m.spend(150);
  clock = new Date('2026-03-01T15:01:00Z'); // 00:01 Tokyo, 2 March
  m.spend(50); // reserved yesterday: counted yesterday
  assert.equal(await m.refill(), 200);
  m.spend(10);
  await m.close();
  await quota.returnLeases();
  assert.equal((await store.usage('gina', '2026-03-01')).rowsUsed, 200);
  assert.equal((await store.usage('gina', '2026-03-02')).rowsUsed, 10);
});

test('a balance left from the old day is released there when the next refill lands on the new day', async () => {
  clock = new Date('2026-03-01T14:59:00Z');
  const m = quota.rowMeter('hal', 500, 200);
  await m.refill();
  m.spend(20);
  clock = new Date('2026-03-01T15:00:00Z');
  assert.equal(await m.refill(100), 100, 'the 180 left from yesterday are not carried into today');
  await m.close();
  await quota.returnLeases();
  assert.equal((await store.usage('hal', '2026-03-01')).rowsUsed, 20);
  assert.equal((await store.usage('hal', '2026-03-02')).rowsUsed, 0);
});

test('releaseRows cannot give back more than was granted', async () => {
  const g = await quota.reserveRows('ivy', 10, 100);
  await assert.rejects(quota.releaseRows(g, 11), SqlgateError);
  await quota.releaseRows(g, 4);
  assert.equal((await quota.usage('ivy')).rowsUsed, 6);
});

async function session(user: string, limit: number, chunk: number, demand: number): Promise<number> {
  const m = quota.rowMeter(user, limit, chunk);
  let sent = 0;
  for (let row = 0; row < demand; row++) {
    if (m.available() === 0 && (await m.refill()) === 0) break;
    m.spend(1);
    sent++;
    if (row % 17 === 0) await new Promise((r) => setImmediate(r));
  }
  await m.close();
  return sent;
}

test('many meters racing in one process use the quota up exactly when demand exceeds it', async () => {
  const limit = 5_000;
  const sent = await Promise.all(Array.from({ length: 40 }, (_, i) => session('race', limit, 50 + i * 7, Infinity)));
  assert.equal(sent.reduce((a, b) => a + b, 0), limit);
  assert.equal((await quota.usage('race')).rowsUsed, limit);
});

test('racing meters that give rows back: rows sent equal rows counted and never pass the quota', async () => {
  const limit = 5_000;
  const sent = await Promise.all(Array.from({ length: 40 }, (_, i) => session('race2', limit, 50 + i * 7, 100 + (i * 37) % 300)));
  const total = sent.reduce((a, b) => a + b, 0);
  assert.ok(total <= limit);
  assert.equal((await quota.usage('race2')).rowsUsed, total);
});

test('a store that cannot be reached refuses (fail closed) with an error naming the quota rule', async () => {
  const broken = SqliteStore.open({ path: ':memory:' });
  const q = new DailyQuota({ store: broken, timeZone: 'UTC', now: () => clock });
  const m = q.rowMeter('x', 100, 10);
  await m.refill();
  await broken.close();
  await assert.rejects(q.admit('x', { maxQueriesPerDay: 5, maxRowsPerDay: 100 }), (e: unknown) =>
    e instanceof SqlgateError && e.code === 'INTERNAL' && e.rule === 'daily-row-quota' && /not run/.test(e.message));
  await assert.rejects(q.countQuery('x', 5), (e: unknown) => e instanceof SqlgateError && e.rule === 'daily-query-quota');
  // What the node's lease already holds was granted by the store; past it, nothing goes out.
  let sent = 0;
  const refused = await (async () => {
    for (;;) {
      m.spend(m.available());
      sent = m.sent;
      try {
        await m.refill();
      } catch (e) {
        return e;
      }
      if (sent > 100) return undefined;
    }
  })();
  assert.ok(refused instanceof SqlgateError && refused.rule === 'daily-row-quota', String(refused));
  assert.ok(sent <= 100, `sent ${sent}`);
});

test('prune keeps the recent days and drops the old ones', async () => {
  clock = new Date('2026-01-01T10:00:00Z');
  await quota.countQuery('p', undefined);
  clock = new Date('2026-03-01T10:00:00Z');
  await quota.countQuery('p', undefined);
  assert.equal(await quota.prune(35), 1);
  assert.equal((await store.usage('p', '2026-01-01')).queriesUsed, 0);
  assert.equal((await quota.usage('p')).queriesUsed, 1);
});
