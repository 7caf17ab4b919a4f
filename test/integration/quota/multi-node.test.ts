/**
 * Several sqlgate nodes — separate node processes — sharing one control store
 * and hammering the same user's quota at once. PostgreSQL is the multi-node
 * store; SQLite is run too because two processes on one host may share its
 * file by mistake, and the quota must still hold then.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../../governance/store/open.js';
import type { ControlStore } from '../../../governance/store/control-store.js';
import { BACKENDS, freshStore, type FreshStore } from '../store/backends.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/quota-node.js', import.meta.url));
const DAY = '2026-03-01'; // SQLGATE_FIXTURE_NOW's day in Asia/Tokyo

interface NodeRun { ready: Promise<void>; go(): void; result: Promise<Record<string, number>> }

function startNode(fresh: FreshStore, env: Record<string, string>): NodeRun {
  const child = spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, ...fresh.env, SQLGATE_FIXTURE_STORE: JSON.stringify(fresh.config), ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const lines = createInterface({ input: child.stdout });
  let onReady!: () => void;
  const ready = new Promise<void>((r) => { onReady = r; });
  let last = '';
  lines.on('line', (line) => { if (line === 'ready') onReady(); else last = line; });
  const result = new Promise<Record<string, number>>((resolve, reject) => {
    child.on('exit', (code) => {
      if (code === 0) resolve(JSON.parse(last) as Record<string, number>);
      else reject(new Error(`node exited ${code}: ${stderr}`));
    });
  });
  // A child that dies before "ready" must fail the test, not hang it.
  const readyOrDied = Promise.race([ready, result.then(() => { throw new Error('node ended before ready'); })]);
  return { ready: readyOrDied, go: () => child.stdin.end('go\n'), result };
}

async function runNodes(fresh: FreshStore, count: number, env: Record<string, string>): Promise<Record<string, number>[]> {
  const nodes = Array.from({ length: count }, (_, i) => startNode(fresh, { ...env, SQLGATE_FIXTURE_SEED: String(i + 1) }));
  await Promise.all(nodes.map((n) => n.ready));
  for (const n of nodes) n.go();
  return Promise.all(nodes.map((n) => n.result));
}

for (const kind of BACKENDS) {
  describe(`quota shared by two node processes (${kind} store)`, () => {
    let fresh: FreshStore;
    let store: ControlStore | undefined;
    before(async () => { fresh = await freshStore(kind, 'quotanodes'); });
    after(async () => { await store?.close(); await fresh?.cleanup(); });
    const usage = async (user: string) => {
      store ??= await openStore(fresh.config, fresh.env);
      return store.usage(user, DAY);
    };

    // The first test's nodes open a store nobody has migrated yet: they race to migrate it.
    test('rows: demand beyond the quota gets exactly the quota, split between the nodes', async () => {
      const limit = 30_000;
      const results = await runNodes(fresh, 2, {
        SQLGATE_FIXTURE_MODE: 'rows', SQLGATE_FIXTURE_USER: 'rows', SQLGATE_FIXTURE_LIMIT: String(limit), SQLGATE_FIXTURE_SESSIONS: '8',
      });
      const sent = results.map((r) => r.sent);
      assert.equal(sent[0] + sent[1], limit, `nodes sent ${sent.join(' + ')}`);
      // SQLite serialises writers with a polling busy handler, so one process
      // may well take everything: correct, not fair. PostgreSQL queues them.
      if (kind === 'postgres') assert.ok(sent[0] > 0 && sent[1] > 0, `both nodes took part: ${sent.join(' + ')}`);
      assert.ok(results[0].trips + results[1].trips > 200, 'many reservations raced');
      assert.equal((await usage('rows')).rowsUsed, limit);
    });

    test('rows given back: rows sent equal rows counted and never pass the quota', async () => {
      const limit = 20_000;
      const results = await runNodes(fresh, 2, {
        SQLGATE_FIXTURE_MODE: 'rows-give', SQLGATE_FIXTURE_USER: 'give', SQLGATE_FIXTURE_LIMIT: String(limit), SQLGATE_FIXTURE_SESSIONS: '12',
      });
      const total = results[0].sent + results[1].sent;
      assert.ok(total <= limit, `sent ${total} > ${limit}`);
      assert.equal((await usage('give')).rowsUsed, total);
    });

    test('queries: the two nodes together are allowed exactly the query quota', async () => {
      const limit = 400;
      const results = await runNodes(fresh, 2, {
        SQLGATE_FIXTURE_MODE: 'queries', SQLGATE_FIXTURE_USER: 'queries', SQLGATE_FIXTURE_LIMIT: String(limit), SQLGATE_FIXTURE_SESSIONS: '6',
      });
      assert.equal(results[0].allowed + results[1].allowed, limit);
      assert.equal((await usage('queries')).queriesUsed, limit);
    });
  });
}
