import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { DailyQuota } from '../../../governance/quota/daily-quota.js';
import { IDLE_RETURN_MS, leaseSize } from '../../../governance/quota/leases.js';
import { SqliteStore } from '../../../governance/store/sqlite-store.js';
import type { ControlStore } from '../../../governance/store/control-store.js';

const DAY = '2026-03-01';
let store: SqliteStore;
let trips: Record<string, number>;
let counted: ControlStore;
const clock = () => new Date('2026-03-01T10:00:00Z');

/** The store, counting the calls that reach it. */
function counting(s: ControlStore): ControlStore {
  return new Proxy(s, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        trips[String(prop)] = (trips[String(prop)] ?? 0) + 1;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

beforeEach(() => {
  store = SqliteStore.open({ path: ':memory:' });
  trips = {};
  counted = counting(store);
});
afterEach(async () => { await store.close(); });

test('lease sizes: a fraction of what is left, at least one, at most the cap', () => {
  assert.equal(leaseSize(undefined, 0, 1000), 1000);
  assert.equal(leaseSize(1e12, 5, 1000), 1000);
  assert.equal(leaseSize(800, 0, 1000), 100);
  assert.equal(leaseSize(800, 760, 1000), 5);
  assert.equal(leaseSize(800, 799, 1000), 1);
  assert.equal(leaseSize(800, 800, 1000), 1, 'asking for one at the limit gets 0 from the store');
  assert.equal(leaseSize(3, 0, 1000), 1, 'small quotas are counted one by one, exactly');
});

test('one store trip serves many statements', async () => {
  const q = new DailyQuota({ store: counted, timeZone: 'UTC', now: clock });
  for (let i = 0; i < 5000; i++) {
    assert.equal((await q.countQuery('app', 1e9)).allowed, true);
    const g = await q.reserveRows('app', 500, 1e12);
    assert.equal(g.granted, 500);
    await q.releaseRows(g, 499);
  }
  const storeCalls = Object.values(trips).reduce((a, b) => a + b, 0);
  assert.ok(storeCalls <= 12, `10,000 charges took ${storeCalls} store calls: ${JSON.stringify(trips)}`);
  assert.deepEqual(await q.usage('app'), { user: 'app', day: DAY, rowsUsed: 5000, queriesUsed: 5000 });
  await q.close();
  assert.deepEqual(await store.usage('app', DAY), { user: 'app', day: DAY, rowsUsed: 5000, queriesUsed: 5000 },
    'closing gives the unused leases back: the store then holds exactly what was used');
});

test('two nodes on one store: together they get exactly the query quota, in any interleaving', async () => {
  for (const limit of [1, 7, 100, 2500]) {
    const user = `u${limit}`;
    const nodes = [new DailyQuota({ store, timeZone: 'UTC', now: clock }), new DailyQuota({ store, timeZone: 'UTC', now: clock })];
    const allowed = [0, 0];
    let open = [true, true];
    for (let i = 0; open.some(Boolean); i++) {
      const n = (i * 7919) % 3 === 0 ? 1 : 0;
      if (!open[n]) continue;
      if ((await nodes[n].countQuery(user, limit)).allowed) allowed[n]++;
      else open = open.map((o, j) => (j === n ? false : o));
    }
    // The node that stopped first may have left some quota to the other: drain both.
    for (const n of [0, 1]) while ((await nodes[n].countQuery(user, limit)).allowed) allowed[n]++;
    assert.equal(allowed[0] + allowed[1], limit, `limit ${limit}: ${allowed.join(' + ')}`);
    await Promise.all(nodes.map((q) => q.close()));
    assert.equal((await store.usage(user, DAY)).queriesUsed, limit);
  }
});

test('near the limit leases shrink: a second node still gets what the first does not use', async () => {
  const a = new DailyQuota({ store, timeZone: 'UTC', now: clock });
  const b = new DailyQuota({ store, timeZone: 'UTC', now: clock });
  const limit = 1000;
  // a takes one row: its lease is an eighth of what is left, not the whole quota.
  const g = await a.reserveRows('r', 1, limit);
  await a.releaseRows(g, 0);
  let got = 0;
  for (;;) {
    const x = await b.reserveRows('r', 10, limit);
    if (x.granted === 0) break;
    got += x.granted;
  }
  const heldByA = (await store.usage('r', DAY)).rowsUsed - got - 1;
  assert.ok(heldByA < limit / 4, `a holds ${heldByA} unused rows`);
  await a.close();
  // What a gave back is b's to take.
  for (;;) {
    const x = await b.reserveRows('r', 10, limit);
    if (x.granted === 0) break;
    got += x.granted;
  }
  assert.equal(got + 1, limit);
  await b.close();
});

test('a lease idle for a second goes back to the store by itself', async () => {
  const q = new DailyQuota({ store, timeZone: 'UTC', now: clock });
  await q.countQuery('idle', undefined);
  const g = await q.reserveRows('idle', 10, undefined);
  await q.releaseRows(g, 10);
  assert.ok((await store.usage('idle', DAY)).queriesUsed > 1, 'a lease of several statements is held');
  await sleep(IDLE_RETURN_MS * 2.5);
  assert.deepEqual(await store.usage('idle', DAY), { user: 'idle', day: DAY, rowsUsed: 0, queriesUsed: 1 });
  await q.close();
});

test('a lower limit after a policy reload gives the held lease back first, and holds', async () => {
  const q = new DailyQuota({ store, timeZone: 'UTC', now: clock });
  for (let i = 0; i < 10; i++) assert.equal((await q.countQuery('reload', 1e6)).allowed, true);
  let more = 0;
  while ((await q.countQuery('reload', 15)).allowed) more++;
  assert.equal(more, 5, 'the new limit counts the 10 already run');
  await q.close();
  assert.equal((await store.usage('reload', DAY)).queriesUsed, 15);
});

test('a new day starts a new lease and gives the old day its unused part back', async () => {
  let now = new Date('2026-03-01T23:59:59Z');
  const q = new DailyQuota({ store, timeZone: 'UTC', now: () => now });
  await q.countQuery('night', undefined);
  now = new Date('2026-03-02T00:00:01Z');
  await q.countQuery('night', undefined);
  await q.close();
  assert.equal((await store.usage('night', '2026-03-01')).queriesUsed, 1);
  assert.equal((await store.usage('night', '2026-03-02')).queriesUsed, 1);
});

test('takeNow charges from the leases without waiting, all or nothing, and never past a limit', async () => {
  const q = new DailyQuota({ store: counted, timeZone: 'UTC', now: clock });
  assert.equal(q.takeNow('app', 20, { want: 5, limit: 100 }), undefined, 'no lease yet: the caller must go to the store');
  // Take leases the waiting way (what the first statement of a session does).
  assert.equal((await q.countQuery('app', 20)).allowed, true);
  const first = await q.reserveRows('app', 5, 100);
  q.releaseRowsNow(first, 5);
  const before = { ...trips };
  let queries = 1;
  let rows = 0;
  for (;;) {
    const t = q.takeNow('app', 20, { want: 5, limit: 100 });
    if (!t) break;
    queries++;
    rows += t.grant!.granted;
    assert.equal(t.grant!.granted, 5);
  }
  assert.deepEqual(trips, before, 'takeNow never calls the store');
  assert.ok(queries > 1, 'the leases served statements');
  assert.ok(queries <= 20 && rows <= 100, `never past a limit (${queries} queries, ${rows} rows)`);
  assert.equal(q.takeNow('app', 21, { want: 1, limit: 100 }), undefined, 'another query limit: the lease is replaced on the waiting path');
  assert.equal(q.takeNow('app', 20, { want: 1, limit: 99 }), undefined, 'another row limit: likewise');
  // All or nothing: rows short means the statement is not counted either.
  const u = await q.usage('app');
  assert.equal(q.takeNow('app', 20, { want: 1_000_000, limit: 100 }), undefined);
  assert.deepEqual(await q.usage('app'), u, 'a refused takeNow took nothing');
  // The waiting path stays exact to the limit from here on.
  let more = 0;
  while ((await q.countQuery('app', 20)).allowed) more++;
  assert.equal(queries + more, 20);
  await q.close();
  assert.equal((await store.usage('app', DAY)).queriesUsed, 20);
});

test('releaseRowsNow puts rows back into the lease, and says no once the lease is gone', async () => {
  const q = new DailyQuota({ store: counted, timeZone: 'UTC', now: clock });
  const g = await q.reserveRows('app', 10, 1000);
  assert.equal(q.releaseRowsNow(g, 11), false, 'never more than was granted');
  assert.equal(q.releaseRowsNow(g, 4), true);
  await q.returnLeases();
  assert.equal(q.releaseRowsNow(g, 2), false, 'the lease went back to the store: the rows must go there too');
  await q.releaseRows(g, 2);
  assert.equal((await store.usage('app', DAY)).rowsUsed, 4);
  await q.close();
});
