/**
 * A worker's connection slots under `--workers`: the worker asks the primary
 * (here, the test) and counts nothing itself; a slot given back reaches the
 * primary once; no answer in time refuses with INTERNAL, and a grant that
 * comes after that is given back rather than counted forever.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import cluster, { type Worker } from 'node:cluster';
import { join } from 'node:path';

const fixture = join(import.meta.dirname, '../../fixtures/slot-worker.js');

interface SlotMessage { sg?: string; fixture?: string; req?: number; user?: string; limit?: number | null; ok?: boolean; error?: string }

/** Forks the fixture as worker 0 of 2 and collects what it sends. */
function fork(): { worker: Worker; next: (what: (m: SlotMessage) => boolean) => Promise<SlotMessage>; seen: SlotMessage[] } {
  cluster.setupPrimary({ exec: fixture, silent: true });
  const worker = cluster.fork({ SQLGATE_WORKER_INDEX: '0', SQLGATE_WORKER_COUNT: '2', SQLGATE_FIXTURE_USER: 'ann', SQLGATE_FIXTURE_LIMIT: '1' });
  const seen: SlotMessage[] = [];
  const waiting: { what: (m: SlotMessage) => boolean; resolve: (m: SlotMessage) => void }[] = [];
  worker.on('message', (m: SlotMessage) => {
    const w = waiting.findIndex((x) => x.what(m));
    if (w >= 0) waiting.splice(w, 1)[0].resolve(m);
    else seen.push(m);
  });
  const next = (what: (m: SlotMessage) => boolean) => {
    const i = seen.findIndex(what);
    if (i >= 0) return Promise.resolve(seen.splice(i, 1)[0]);
    return new Promise<SlotMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no such message from the worker; got ${JSON.stringify(seen)}`)), 10_000);
      waiting.push({ what, resolve: (m) => { clearTimeout(timer); resolve(m); } });
    });
  };
  return { worker, next, seen };
}

const exited = (w: Worker) => new Promise<void>((r) => (w.isDead() ? r() : w.once('exit', () => r())));

test('a worker asks the primary for the slot, with the user and the limit, and gives it back once', async () => {
  const { worker, next, seen } = fork();
  try {
    const ask = await next((m) => m.sg === 'slot');
    assert.deepEqual({ user: ask.user, limit: ask.limit }, { user: 'ann', limit: 1 });
    worker.send({ sg: 'slot-answer', to: 0, req: ask.req, ok: true });
    assert.deepEqual(await next((m) => m.fixture === 'taken'), { fixture: 'taken', ok: true });
    worker.send({ fixture: 'release' });
    const back = await next((m) => m.sg === 'slot-release');
    assert.equal(back.user, 'ann');
    await exited(worker);
    assert.deepEqual(seen.filter((m) => m.sg === 'slot-release'), [], 'released twice, given back once');
  } finally {
    worker.kill();
  }
});

test('a refusal from the primary is a refusal', async () => {
  const { worker, next } = fork();
  try {
    const ask = await next((m) => m.sg === 'slot');
    worker.send({ sg: 'slot-answer', to: 0, req: ask.req, ok: false });
    assert.deepEqual(await next((m) => m.fixture === 'taken'), { fixture: 'taken', ok: false });
  } finally {
    worker.kill();
    await exited(worker);
  }
});

test('no answer in time refuses with INTERNAL; a grant that comes later is given back', async () => {
  const { worker, next } = fork();
  try {
    const ask = await next((m) => m.sg === 'slot');
    assert.deepEqual(await next((m) => m.fixture === 'taken'), { fixture: 'taken', error: 'INTERNAL' });
    worker.send({ sg: 'slot-answer', to: 0, req: ask.req, ok: true });
    const back = await next((m) => m.sg === 'slot-release');
    assert.equal(back.user, 'ann');
  } finally {
    worker.kill();
    await exited(worker);
  }
});
