import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../../../governance/store/open.js';
import { LATEST_VERSION } from '../../../governance/store/migrations.js';
import { SqlgateError } from '../../../governance/errors.js';
import { BACKENDS, freshStore, openBackend, type OpenedBackend } from './backends.js';
import { pgConnect } from '../../helpers/db.js';

for (const kind of BACKENDS) {
  describe(`control store (${kind})`, () => {
    let b: OpenedBackend;
    before(async () => { b = await openBackend(kind, 'store'); });
    after(async () => { await b?.dispose(); });

    test('migrates to the latest version at open, and reopening is idempotent', async () => {
      assert.equal(await b.store.schemaVersion(), LATEST_VERSION);
      const again = await b.reopen();
      assert.equal(await again.schemaVersion(), LATEST_VERSION);
    });

    test('several nodes opening a fresh store at once all migrate cleanly', async () => {
      // Nobody has opened this store yet: all eight race to create the schema.
      const fresh = await freshStore(kind, 'storerace');
      const opened = await Promise.allSettled(Array.from({ length: 8 }, () => openStore(fresh.config, fresh.env)));
      const handles = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
      try {
        assert.deepEqual(opened.map((o) => (o.status === 'fulfilled' ? 'ok' : String(o.reason))), Array(8).fill('ok'));
        for (const h of handles) assert.equal(await h.schemaVersion(), LATEST_VERSION);
        await handles[0].countQuery('u', '2026-01-01', undefined);
        assert.equal((await handles[7].usage('u', '2026-01-01')).queriesUsed, 1);
      } finally {
        for (const h of handles) await h.close();
        await fresh.cleanup();
      }
    });

    test('countQuery counts up to the limit and refuses after, without counting refusals', async () => {
      const day = '2026-03-01';
      const got = [];
      for (let i = 0; i < 5; i++) got.push(await b.store.countQuery('alice', day, 3));
      assert.deepEqual(got.map((g) => g.allowed), [true, true, true, false, false]);
      assert.deepEqual(got.map((g) => g.used), [1, 2, 3, 3, 3]);
      assert.equal((await b.store.usage('alice', day)).queriesUsed, 3);
      // Another day and another user have their own counters.
      assert.equal((await b.store.countQuery('alice', '2026-03-02', 3)).used, 1);
      assert.equal((await b.store.countQuery('bob', day, 3)).used, 1);
      // A limit of 0 refuses at once; no limit counts on.
      assert.equal((await b.store.countQuery('carol', day, 0)).allowed, false);
      assert.equal((await b.store.countQuery('alice', day, undefined)).used, 4);
    });

    test('reserveRows grants all, then what is left, then 0', async () => {
      const day = '2026-03-01';
      assert.deepEqual(await b.store.reserveRows('rows', day, 400, 1000), { granted: 400, used: 400 });
      assert.deepEqual(await b.store.reserveRows('rows', day, 400, 1000), { granted: 400, used: 800 });
      assert.deepEqual(await b.store.reserveRows('rows', day, 400, 1000), { granted: 200, used: 1000 });
      assert.deepEqual(await b.store.reserveRows('rows', day, 400, 1000), { granted: 0, used: 1000 });
      await b.store.releaseRows('rows', day, 150);
      assert.deepEqual(await b.store.reserveRows('rows', day, 400, 1000), { granted: 150, used: 1000 });
      // First reservation of a day larger than the quota gets exactly the quota.
      assert.deepEqual(await b.store.reserveRows('rows', '2026-03-02', 5000, 1000), { granted: 1000, used: 1000 });
      // A lowered limit (policy reload) grants nothing until the day turns.
      assert.deepEqual(await b.store.reserveRows('rows', day, 10, 500), { granted: 0, used: 1000 });
      // No limit: everything is granted and counted.
      assert.deepEqual(await b.store.reserveRows('free', day, 7, undefined), { granted: 7, used: 7 });
    });

    test('releaseRows never takes the counter below zero and negative counts are refused', async () => {
      const day = '2026-03-05';
      await b.store.reserveRows('rel', day, 10, 100);
      await b.store.releaseRows('rel', day, 50);
      assert.equal((await b.store.usage('rel', day)).rowsUsed, 0);
      await assert.rejects(b.store.releaseRows('rel', day, -5), SqlgateError);
      await assert.rejects(b.store.reserveRows('rel', day, -5, 100), SqlgateError);
      await assert.rejects(b.store.reserveRows('rel', day, 1.5, 100), SqlgateError);
      await assert.rejects(b.store.reserveRows('rel', day, 5, -1), SqlgateError);
      assert.equal((await b.store.usage('rel', day)).rowsUsed, 0);
    });

    test('racing reservations in one process never pass the limit and use it up exactly', async () => {
      const day = '2026-04-01';
      const limit = 10_000;
      const other = await b.reopen();
      const wants = Array.from({ length: 120 }, (_, i) => 37 + (i * 53) % 211);
      const results = await Promise.all(wants.map((w, i) => (i % 2 ? other : b.store).reserveRows('race', day, w, limit)));
      const total = results.reduce((s, r) => s + r.granted, 0);
      assert.ok(wants.reduce((s, w) => s + w, 0) > limit, 'demand exceeds the quota');
      assert.equal(total, limit);
      assert.ok(results.every((r) => r.used <= limit));
      assert.equal((await b.store.usage('race', day)).rowsUsed, limit);
    });

    test('racing query counts allow exactly the limit', async () => {
      const day = '2026-04-01';
      const results = await Promise.all(Array.from({ length: 60 }, () => b.store.countQuery('qrace', day, 25)));
      assert.equal(results.filter((r) => r.allowed).length, 25);
      assert.deepEqual(results.filter((r) => r.allowed).map((r) => r.used).sort((x, y) => x - y),
        Array.from({ length: 25 }, (_, i) => i + 1));
    });

    test('query leases grant all, then what is left, then 0; racing leases use the limit up exactly', async () => {
      const day = '2026-04-02';
      assert.deepEqual(await b.store.leaseQueries('ql', day, 40, 100), { granted: 40, used: 40 });
      assert.deepEqual(await b.store.leaseQueries('ql', day, 50, 100), { granted: 50, used: 90 });
      assert.deepEqual(await b.store.leaseQueries('ql', day, 50, 100), { granted: 10, used: 100 });
      assert.deepEqual(await b.store.leaseQueries('ql', day, 5, 100), { granted: 0, used: 100 });
      await b.store.releaseQueries('ql', day, 30);
      assert.equal((await b.store.usage('ql', day)).queriesUsed, 70);
      await b.store.releaseQueries('ql', day, 500);
      assert.equal((await b.store.usage('ql', day)).queriesUsed, 0, 'never below zero');
      await assert.rejects(b.store.releaseQueries('ql', day, -1), SqlgateError);
      await assert.rejects(b.store.leaseQueries('ql', day, -1, 100), SqlgateError);
      const other = await b.reopen();
      const results = await Promise.all(Array.from({ length: 80 }, (_, i) => (i % 2 ? other : b.store).leaseQueries('qlr', day, 1 + (i % 9), 200)));
      assert.equal(results.reduce((s, r) => s + r.granted, 0), 200);
      assert.equal((await b.store.usage('qlr', day)).queriesUsed, 200);
    });

    test('pruneQuotaBefore removes old days only', async () => {
      await b.store.countQuery('old', '2025-12-30', undefined);
      await b.store.countQuery('old', '2026-05-01', undefined);
      assert.ok(await b.store.pruneQuotaBefore('2026-01-01') >= 1);
      assert.equal((await b.store.usage('old', '2025-12-30')).queriesUsed, 0);
      assert.equal((await b.store.usage('old', '2026-05-01')).queriesUsed, 1);
    });
  });
}

test('openStore: a postgres store whose url_env is unset is a policy error', async () => {
  await assert.rejects(openStore({ kind: 'postgres', url_env: 'SQLGATE_SURELY_UNSET_VAR' }, {}),
    (e: unknown) => e instanceof SqlgateError && e.code === 'POLICY_INVALID' && /SQLGATE_SURELY_UNSET_VAR/.test(e.message));
});

test('postgres store refuses a schema newer than it knows', async () => {
  const b = await openBackend('postgres', 'storenewer');
  try {
    const c = await pgConnect(b.env.SQLGATE_TEST_STORE_URL);
    await c.query(`INSERT INTO sqlgate_migrations (version, name, applied_at) VALUES (${LATEST_VERSION + 1}, 'future', 'now')`);
    await c.end();
    await assert.rejects(b.reopen(), (e: unknown) => e instanceof SqlgateError && /newer than this sqlgate knows/.test(e.message));
  } finally {
    await b.dispose();
  }
});
