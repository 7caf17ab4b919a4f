import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdleConnections } from '../../../proxy/idle-connections.js';

interface Conn { readonly id: string; closed: boolean }
const conn = (id: string): Conn => ({ id, closed: false });

test('idle connections: taken newest first or as chosen, bounded per key and in all, closed on expiry and on closeAll', async () => {
  const closed: string[] = [];
  const idle = new IdleConnections<Conn>({ maxPerKey: 2, maxTotal: 3, idleMs: 60_000, close: (c) => { c.closed = true; closed.push(c.id); } });
  const [a1, a2, a3, b1, c1] = ['a1', 'a2', 'a3', 'b1', 'c1'].map(conn);
  assert.ok(idle.keep('a', a1));
  assert.ok(idle.keep('a', a2));
  assert.equal(idle.keep('a', a3), false, 'two per key');
  assert.ok(idle.keep('b', b1));
  assert.equal(idle.keep('c', c1), false, 'three in all');
  assert.equal(idle.size, 3);
  assert.equal(idle.take('a'), a2, 'the most recently kept');
  assert.equal(idle.take('a', () => -1), undefined, 'the chooser may decline');
  assert.equal(idle.take('a', (cs) => cs.findIndex((c) => c.id === 'a1')), a1);
  assert.equal(idle.take('a'), undefined, 'none left under that key');
  assert.equal(idle.take('nothing'), undefined);
  assert.equal(idle.size, 1);
  assert.ok(idle.keep('c', c1), 'room again');
  idle.closeAll();
  assert.deepEqual(closed.sort(), ['b1', 'c1']);
  assert.equal(idle.size, 0);
  assert.equal(a1.closed || a2.closed, false, 'taken connections are the taker\'s');
});

test('idle connections expire after idleMs and are closed; a taken one is not', async () => {
  const closed: string[] = [];
  const idle = new IdleConnections<Conn>({ maxPerKey: 4, maxTotal: 4, idleMs: 30, close: (c) => closed.push(c.id) });
  idle.keep('k', conn('old'));
  idle.keep('k', conn('taken'));
  assert.equal(idle.take('k')?.id, 'taken');
  await new Promise((r) => setTimeout(r, 80));
  assert.deepEqual(closed, ['old']);
  assert.equal(idle.size, 0);
  assert.equal(idle.take('k'), undefined);
});
