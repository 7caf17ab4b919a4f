/** The live catalog provider against the real MariaDB and PostgreSQL, with a policy naming them as instances. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMysqlDatabase, createPgDatabase, mysqlConnect, pgConnect, serverInfo, mysqlUrl, pgUrl } from '../../helpers/db.js';
import { CATALOG_APPLICATION_NAME, liveCatalogs } from '../../../governance/catalog/live.js';
import { policySchema } from '../../../rules/policy-schema.js';
import { createGate } from '../../../governance/gate-impl.js';
import { initAnalysis } from '../../../governance/analyze/analyze.js';
import { shopPolicy } from '../../security/policy-fixture.js';

const SHOP = `CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(50), email VARCHAR(80), phone VARCHAR(20), id_card VARCHAR(20), city VARCHAR(40), created_at TIMESTAMP NULL);
CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT, amount DECIMAL(10,2), status VARCHAR(20), created_at TIMESTAMP NULL);`;

function policyFor(mysqlDb: string, pgDb: string) {
  const m = serverInfo(mysqlUrl());
  const p = serverInfo(pgUrl());
  process.env.SG_LIVE_MYSQL_PW = m.password;
  process.env.SG_LIVE_PG_PW = p.password;
  const base = shopPolicy();
  return policySchema.parse({
    ...base,
    instances: {
      ...base.instances,
      shop_mysql: { ...base.instances.shop_mysql, host: m.host, port: m.port, user: m.user, password_env: 'SG_LIVE_MYSQL_PW', database: mysqlDb },
      shop_pg: { ...base.instances.shop_pg, host: p.host, port: p.port, user: p.user, password_env: 'SG_LIVE_PG_PW', database: pgDb },
    },
  });
}

test('live catalogs: loaded from MariaDB and PostgreSQL with the service account, cached, refreshed; the gate judges on them', async () => {
  await initAnalysis();
  const my = await createMysqlDatabase('live', SHOP);
  const pgdb = await createPgDatabase('live', SHOP.replace(/DECIMAL/g, 'numeric').replace(/ NULL\)/g, ')'));
  try {
    const policy = policyFor(my.name, pgdb.name);
    const live = liveCatalogs(() => policy, { ttlMs: 0 });
    const mc = await live.catalogFor('shop_mysql', my.name);
    assert.deepEqual(mc.lookup(my.name, undefined, 'customers')?.columns.map((c) => c.name), ['id', 'name', 'email', 'phone', 'id_card', 'city', 'created_at']);
    assert.ok(mc.lookup('information_schema', undefined, 'TABLES'), 'information_schema is loaded for client tools');
    assert.equal(await live.catalogFor('shop_mysql', 'other'), mc, 'one MySQL catalog per instance, cached');
    const pc = await live.catalogFor('shop_pg', pgdb.name);
    assert.ok(pc.lookup(pgdb.name, 'public', 'orders'));
    // a refresh sees DDL and carries a newer version
    const c = await mysqlConnect(my.url);
    try { await c.query('ALTER TABLE customers ADD COLUMN nickname VARCHAR(20)'); } finally { await c.end(); }
    const mc2 = await live.refresh('shop_mysql', my.name);
    assert.ok(mc2.version > mc.version);
    assert.ok(mc2.lookup(my.name, undefined, 'customers')?.columns.some((x) => x.name === 'nickname'));
    const pcl = await pgConnect(pgdb.url);
    try { await pcl.query('ALTER TABLE customers ADD COLUMN nickname text'); } finally { await pcl.end(); }
    assert.ok((await live.refresh('shop_pg', pgdb.name)).lookup(pgdb.name, 'public', 'customers')?.columns.some((x) => x.name === 'nickname'));

    const gate = createGate({ policy: () => policy, audit: { write() {} }, catalogFor: live.catalogFor });
    const base = { clientIp: '127.0.0.1', searchPath: [] as string[], door: 'mysql' as const, sessionId: 'live' };
    const j = await gate.judge({ ...base, user: 'support', instance: 'shop_mysql', dialect: 'mysql', database: my.name }, 'SELECT * FROM customers');
    assert.equal(j.verdict, 'allow');
    assert.deepEqual(j.statements[0].directives.masks.map((m) => m.index), [2, 3, 4]);
    const k = await gate.judge({ ...base, user: 'analyst', instance: 'shop_pg', dialect: 'postgres', database: pgdb.name, searchPath: ['public'] }, 'SELECT nickname, phone FROM customers');
    assert.equal(k.verdict, 'deny');
    assert.match(k.refusal!.error!.message, /customers\.nickname|customers\.phone/);
    // an unreachable upstream refuses rather than guesses
    const bad = policySchema.parse({ ...policy, instances: { ...policy.instances, shop_pg: { ...policy.instances.shop_pg, port: 1 } } });
    const down = createGate({ policy: () => bad, audit: { write() {} }, catalogFor: liveCatalogs(() => bad).catalogFor });
    const d = await down.judge({ ...base, user: 'dba', instance: 'shop_pg', dialect: 'postgres', database: pgdb.name, searchPath: ['public'] }, 'SELECT 1');
    assert.equal(d.refusal?.error?.code, 'UPSTREAM_UNAVAILABLE');
  } finally {
    await my.drop();
    await pgdb.drop();
  }
});

test('live catalogs: PostgreSQL ending the catalog connection (a kill, a restart) fails that load, not the process', async () => {
  const pgdb = await createPgDatabase('livekill', 'CREATE TABLE t (id int)');
  const killer = await pgConnect();
  try {
    const policy = policyFor('unused', pgdb.name);
    const live = liveCatalogs(() => policy, { ttlMs: 0 });
    let stop = false;
    let kills = 0;
    // Kill this test's catalog connections as fast as they appear, also between two of the loader's queries.
    const killing = (async () => {
      while (!stop) {
        const r = await killer.query('SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2) k', [pgdb.name, CATALOG_APPLICATION_NAME]);
        kills += r.rows[0].n;
      }
    })();
    let failed = 0;
    for (let i = 0; i < 150; i++) await live.refresh('shop_pg', pgdb.name).catch(() => { failed++; });
    stop = true;
    await killing;
    assert.ok(kills > 0 && failed > 0, `the loads met the kills (${kills} kills, ${failed} failed loads)`);
    // Still serving: the next load works.
    assert.ok((await live.refresh('shop_pg', pgdb.name)).lookup(pgdb.name, 'public', 't'));
  } finally {
    await killer.end();
    await pgdb.drop();
  }
});
