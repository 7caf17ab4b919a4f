/**
 * Scale-out (DESIGN.md decision 9): two `sqlgate start` processes share one
 * PostgreSQL control store. Clients hammer both nodes concurrently; the rows
 * they get together equal the user's daily row quota and never exceed it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { createPgDatabase, pgUrl, serverInfo, type TempDatabase } from '../helpers/db.js';
import { makeVerifiers } from '../../governance/auth/verifiers.js';

const cli = join(import.meta.dirname, '../../proxy/cli/main.js');
const QUOTA = 300;

let data: TempDatabase;
let storeDb: TempDatabase;
let dir: string;
const nodes: ChildProcess[] = [];
const ports: number[] = [];

function startNode(name: string): Promise<number> {
  const child = spawn(process.execPath, [cli, 'start', '--policy', join(dir, `policy-${name}.yaml`), '--state-dir', join(dir, name)], {
    env: { ...process.env, SQLGATE_STORE_URL: storeDb.url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  nodes.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`node ${name} did not start: ${out} ${err}`)), 60_000);
    child.stderr!.on('data', (b: Buffer) => { err += b.toString(); });
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /postgres listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`node ${name} exited ${code}: ${out} ${err}`)); });
  });
}

before(async () => {
  data = await createPgDatabase('mnq', `CREATE TABLE t (id int PRIMARY KEY);
    INSERT INTO t SELECT g FROM generate_series(1, 1000) g; ANALYZE t;`);
  storeDb = await createPgDatabase('mnqstore');
  dir = mkdtempSync(join(tmpdir(), 'sqlgate-multinode-'));
  const up = serverInfo(pgUrl());
  for (const name of ['n1', 'n2']) {
    const policy = {
      version: 1,
      node_id: name,
      listeners: [{ protocol: 'postgres', listen: '127.0.0.1:0', instance: 'pg' }],
      audit: { file: join(dir, name, 'audit.jsonl') },
      store: { kind: 'postgres', url_env: 'SQLGATE_STORE_URL' },
      instances: { pg: { protocol: 'postgres', host: up.host, port: up.port, user: up.user, database: data.name } },
      users: { ann: { password: makeVerifiers('ann', 'ann-pw'), roles: ['reader'], limits: { max_rows_per_day: QUOTA, max_rows_per_query: 40 } } },
      roles: { reader: { grants: [{ instance: 'pg', database: data.name, table: 't', privileges: ['select'] }] } },
    };
    // One policy file per node: only node_id and the audit file differ.
    writeFileSync(join(dir, `policy-${name}.yaml`), stringify(policy));
  }
  ports.push(...(await Promise.all(['n1', 'n2'].map(startNode))));
});

after(async () => {
  for (const n of nodes) n.kill('SIGTERM');
  await Promise.all(nodes.map((n) => new Promise((r) => (n.exitCode !== null ? r(undefined) : n.once('exit', r)))));
  rmSync(dir, { recursive: true, force: true });
  await storeDb?.drop();
  await data?.drop();
});

test('two nodes sharing a PostgreSQL store: combined rows equal the quota and never exceed it', async () => {
  let refused = 0;
  let answered = 0;
  const worker = async (port: number): Promise<number> => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'ann', password: 'ann-pw', database: data.name });
    await c.connect();
    let rows = 0;
    try {
      for (let i = 0; i < 20; i++) {
        try {
          rows += (await c.query('SELECT id FROM t ORDER BY id')).rows.length;
          answered++;
        } catch (e) {
          assert.equal((e as { code?: string }).code, '54000', String(e));
          refused++;
        }
      }
    } finally {
      await c.end();
    }
    return rows;
  };
  const got = await Promise.all([0, 1, 2, 3].map((i) => worker(ports[i % 2])));
  const total = got.reduce((a, b) => a + b, 0);
  assert.equal(total, QUOTA, `rows per client: ${got.join(', ')}`);
  assert.ok(refused > 0, 'demand exceeded the quota, so later queries were refused');
  assert.equal(answered + refused, 80, 'every query was answered by its node, with rows or a quota refusal');
});
