/**
 * `sqlgate start --workers 2`: two processes behind the same ports. Sessions
 * spread over both; each worker chains its own audit file; a PostgreSQL
 * cancel and a MySQL KILL reach the session whatever worker they arrive at;
 * KILL still only reaches the caller's own sessions; a user's connection
 * limit counts the sessions of both workers, and a dead worker's sessions
 * leave the count with it; a policy that cannot
 * start stops the primary with an error instead of restarting forever.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { stringify } from 'yaml';
import { createMysqlDatabase, createPgDatabase, mysqlUrl, pgUrl, serverInfo, type TempDatabase } from '../helpers/db.js';
import { makeVerifiers } from '../../governance/auth/verifiers.js';
import { verifyAuditFile } from '../../governance/audit/verify.js';
import { until } from '../helpers/until.js';

const cli = join(import.meta.dirname, '../../proxy/cli/main.js');
const WORKERS = 2;

let pgDb: TempDatabase;
let myDb: TempDatabase;
let dir: string;
let primary: ChildProcess;
let output = '';
let pgPort = 0;
let myPort = 0;

function policy(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const p = serverInfo(pgUrl());
  const m = serverInfo(mysqlUrl());
  const reader = (who: string) => ({ password: makeVerifiers(who, `${who}-pw`), roles: ['reader'] });
  return {
    version: 1,
    node_id: 'cl',
    listeners: [
      { protocol: 'postgres', listen: '127.0.0.1:0', instance: 'pg' },
      { protocol: 'mysql', listen: '127.0.0.1:0', instance: 'my' },
    ],
    audit: { file: join(dir, 'audit.jsonl') },
    store: { kind: 'sqlite', path: join(dir, 'state.db') },
    instances: {
      pg: { protocol: 'postgres', host: p.host, port: p.port, user: p.user, database: pgDb.name },
      my: { protocol: 'mysql', host: m.host, port: m.port, user: m.user, database: myDb.name },
    },
    users: { ann: reader('ann'), bob: reader('bob'), cap: { ...reader('cap'), max_connections: 2 } },
    roles: {
      reader: {
        grants: [
          { instance: 'pg', database: pgDb.name, table: 't', privileges: ['select'] },
          { instance: 'my', database: myDb.name, table: 't', privileges: ['select'] },
        ],
        // KILL is a statement of kind 'other'; the sleeps are functions a role must be given.
        statement_kinds: ['select', 'set', 'show', 'use', 'transaction', 'other'],
        procedures: ['pg_sleep', 'sleep'],
      },
    },
    ...overrides,
  };
}

before(async () => {
  pgDb = await createPgDatabase('cl', 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT g FROM generate_series(1, 100) g;');
  myDb = await createMysqlDatabase('cl', 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT seq FROM seq_1_to_100;');
  dir = mkdtempSync(join(tmpdir(), 'sqlgate-cluster-'));
  writeFileSync(join(dir, 'policy.yaml'), stringify(policy()));
  primary = spawn(process.execPath, [cli, 'start', '--policy', join(dir, 'policy.yaml'), '--state-dir', dir, '--workers', String(WORKERS)], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the cluster did not start: ${output}`)), 60_000);
    const onOut = (b: Buffer) => {
      output += b.toString();
      if (/2 workers ready/.test(output)) { clearTimeout(timer); resolve(); }
    };
    primary.stdout!.on('data', onOut);
    primary.stderr!.on('data', onOut);
    primary.on('exit', (code) => { clearTimeout(timer); reject(new Error(`the primary exited ${code}: ${output}`)); });
  });
  const ports = (proto: string) => [...output.matchAll(new RegExp(`${proto} listening on 127\\.0\\.0\\.1:(\\d+)`, 'g'))].map((m) => Number(m[1]));
  assert.equal(ports('postgres').length, WORKERS, output);
  assert.equal(new Set(ports('postgres')).size, 1, `every worker serves the same PostgreSQL port: ${output}`);
  assert.equal(new Set(ports('mysql')).size, 1, `every worker serves the same MySQL port: ${output}`);
  pgPort = ports('postgres')[0];
  myPort = ports('mysql')[0];
});

after(async () => {
  if (primary && primary.exitCode === null) {
    primary.kill('SIGTERM');
    await new Promise((r) => primary.once('exit', r));
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  await pgDb?.drop();
  await myDb?.drop();
});

const pgClient = async (user = 'ann') => {
  const c = new pg.Client({ host: '127.0.0.1', port: pgPort, user, password: `${user}-pw`, database: pgDb.name });
  c.on('error', () => undefined);
  await c.connect();
  return c as pg.Client & { processID: number; secretKey: number };
};
const myClient = (user = 'ann') => mysql.createConnection({ host: '127.0.0.1', port: myPort, user, password: `${user}-pw`, database: myDb.name });

/** A PostgreSQL CancelRequest on a connection of its own, as libpq sends it. */
function sendCancel(processId: number, secretKey: number): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(pgPort, '127.0.0.1', () => {
      const b = Buffer.alloc(16);
      b.writeInt32BE(16, 0);
      b.writeInt32BE(80877102, 4);
      b.writeInt32BE(processId, 8);
      b.writeInt32BE(secretKey, 12);
      s.end(b);
    });
    s.on('close', () => resolve());
    s.on('error', () => resolve());
  });
}

test('sessions spread over the workers, each worker chains its own audit file', async () => {
  const clients = await Promise.all(Array.from({ length: 6 }, () => pgClient()));
  try {
    for (const c of clients) assert.equal((await c.query('SELECT count(*)::int AS n FROM t')).rows[0].n, 100);
    const owners = new Set(clients.map((c) => c.processID % WORKERS));
    assert.equal(owners.size, WORKERS, `sessions of both workers (cancel keys ${clients.map((c) => c.processID).join(', ')})`);
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
  await new Promise((r) => setTimeout(r, 200));
  for (let i = 0; i < WORKERS; i++) {
    const file = join(dir, `audit.w${i}.jsonl`);
    assert.ok(existsSync(file), `${file} exists`);
    const v = verifyAuditFile(file);
    assert.equal(v.ok, true, JSON.stringify(v));
    const nodes = new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { node: string }).node));
    assert.deepEqual([...nodes], [`cl-w${i}`], 'records name the worker that wrote them');
  }
  assert.equal(existsSync(join(dir, 'audit.jsonl')), false, 'no worker writes the shared name: one writer per chained file');
});

test('a PostgreSQL cancel reaches its session whichever worker the cancel connection lands on', async () => {
  // Five sleeping sessions and five cancels: connections alternate between the workers, so
  // most cancels arrive at the worker that did not mint the key and must be passed on.
  const clients = await Promise.all(Array.from({ length: 5 }, () => pgClient()));
  try {
    const started = Date.now();
    const runs = clients.map((c) => c.query('SELECT pg_sleep(30)').then(() => 'finished', (e: { code?: string }) => e.code ?? 'error'));
    await new Promise((r) => setTimeout(r, 500));
    for (const c of clients) await sendCancel(c.processID, c.secretKey);
    const outcomes = await Promise.all(runs);
    assert.deepEqual(outcomes, Array(5).fill('57014'), 'every statement was cancelled on the server');
    assert.ok(Date.now() - started < 20_000, 'long before pg_sleep(30) would have ended');
    // A forged key cancels nothing, on any worker.
    const c = clients[0];
    const q = c.query('SELECT pg_sleep(1)');
    await sendCancel(c.processID, c.secretKey ^ 1);
    await q;
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
});

test('MySQL KILL QUERY and KILL reach a session of another worker; another user\'s session stays out of reach', async () => {
  const conns = await Promise.all(Array.from({ length: 4 }, () => myClient()));
  const bobs = await Promise.all(Array.from({ length: 2 }, () => myClient('bob')));
  try {
    const worker = (c: mysql.Connection) => c.threadId! % WORKERS;
    const target = conns[0];
    const killer = conns.find((c) => worker(c) !== worker(target));
    assert.ok(killer, `connections on both workers: ids ${conns.map((c) => c.threadId).join(', ')}`);
    const started = Date.now();
    const sleeping = target.query('SELECT SLEEP(30) AS s').then(([rows]) => (rows as { s: number }[])[0].s, (e: { errno?: number }) => e.errno);
    await new Promise((r) => setTimeout(r, 500));
    await killer!.query(`KILL QUERY ${target.threadId}`);
    const out = await sleeping;
    assert.ok(out === 1 || out === 1317, `the sleep was interrupted (${out})`);
    assert.ok(Date.now() - started < 20_000);
    // Bob's sessions are not ann's to kill, on her worker or the other.
    for (const b of bobs) {
      await assert.rejects(killer!.query(`KILL ${b.threadId}`), (e: { errno?: number }) => e.errno === 1094);
    }
    const [[alive]] = await bobs[0].query('SELECT 1 AS one') as unknown as [[{ one: number }]];
    assert.equal(alive.one, 1);
    // KILL (the connection) of her own session on the other worker ends it.
    await killer!.query(`KILL ${target.threadId}`);
    await assert.rejects(target.query('SELECT 1'));
  } finally {
    await Promise.all([...conns, ...bobs].map((c) => c.end().catch(() => undefined)));
  }
});

test('a user\'s max_connections holds over both workers and both doors, not per worker', async () => {
  // Connections alternate between the workers: with the limit counted per worker, cap could hold 2 on each.
  const first = await pgClient('cap');
  const second = await myClient('cap');
  const refused: string[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      await assert.rejects(pgClient('cap'), (e: { code?: string; message?: string }) => {
        refused.push(`pg ${e.code}`);
        return e.code === '53300' && /too many connections/.test(e.message ?? '');
      });
      await assert.rejects(myClient('cap'), (e: { errno?: number }) => {
        refused.push(`mysql ${e.errno}`);
        return e.errno === 1203;
      });
    }
    // Other users are not held back by cap's count.
    const other = await pgClient('bob');
    await other.end();
  } finally {
    await first.end();
  }
  // The slot comes back once the worker has seen the session end; then it can be taken again, at either worker.
  let again: pg.Client | undefined;
  await until('cap\'s first slot is given back', async () => {
    again ??= await pgClient('cap').catch(() => undefined);
    return again !== undefined;
  });
  await assert.rejects(pgClient('cap'), (e: { code?: string }) => e.code === '53300', 'and the limit holds again');
  await Promise.all([again!.end(), second.end()]);
  assert.equal(refused.length, 8);
});

test('a worker that dies takes its sessions off the user\'s count', async () => {
  const heldPg = await pgClient('cap');
  const heldMy = await myClient('cap');
  heldMy.on('error', () => undefined);
  await assert.rejects(pgClient('cap'), (e: { code?: string }) => e.code === '53300', 'cap is at the limit');
  // Both workers die, one after the other, with cap's two sessions; the primary replaces each.
  // (One at a time: with none left the primary would close the listening sockets, and the
  // replacements would listen anew, on other ports, as this policy asks for port 0.)
  const workers = readFileSync(`/proc/${primary.pid}/task/${primary.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  assert.equal(workers.length, WORKERS, `the primary's children: ${workers.join(', ')}`);
  for (const pid of workers) {
    const before = output.length;
    process.kill(pid, 'SIGKILL');
    await until(`worker ${pid} replaced and listening`, () => {
      const since = output.slice(before);
      return /starting another/.test(since) && /postgres listening/.test(since) && /mysql listening/.test(since);
    }, 15_000);
  }
  // With the dead workers' sessions still counted, cap would be refused for good.
  const again: pg.Client[] = [];
  await until('cap can hold two sessions again', async () => {
    const c = again.length < 2 ? await pgClient('cap').catch(() => undefined) : undefined;
    if (c) again.push(c);
    return again.length === 2;
  }, 20_000);
  await assert.rejects(pgClient('cap'), (e: { code?: string }) => e.code === '53300', 'and no more');
  await Promise.all([...again.map((c) => c.end()), heldPg.end().catch(() => undefined), heldMy.end().catch(() => undefined)]);
});

test('a cluster whose workers cannot start stops with an error rather than restarting them forever', async () => {
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, stringify(policy({ listeners: [{ protocol: 'postgres', listen: `127.0.0.1:${pgPort}`, instance: 'nope' }] })));
  const child = spawn(process.execPath, [cli, 'start', '--policy', bad, '--state-dir', join(dir, 'bad'), '--workers', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(null); }, 30_000);
    child.once('exit', (c) => { clearTimeout(timer); resolve(c); });
  });
  assert.notEqual(code, 0, out);
  assert.notEqual(code, null, `still running after 30 s: ${out}`);
  assert.match(out, /could not start/);
});
