/**
 * Per-user connection limits: the count a cluster's primary keeps over its
 * workers (SlotCounts) and the slots a single process hands its listeners.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlotCounts } from '../../../proxy/slot-counts.js';
import { UserSlots, type UserSlot } from '../../../proxy/user-slots.js';

test('the limit holds over all holders: two workers together, not each', () => {
  const c = new SlotCounts();
  assert.equal(c.take(0, 'ann', 2), true);
  assert.equal(c.take(1, 'ann', 2), true);
  assert.equal(c.take(1, 'ann', 2), false, 'a third session on either worker is over the limit');
  assert.equal(c.take(0, 'ann', 2), false);
  assert.equal(c.take(0, 'bob', 2), true, 'another user has a count of its own');
  assert.equal(c.count('ann'), 2);
  c.release(1, 'ann');
  assert.equal(c.take(0, 'ann', 2), true, 'a slot given back can be taken at another worker');
  assert.equal(c.count('ann'), 2);
});

test('no limit: sessions are counted all the same, so a limit set later sees them', () => {
  const c = new SlotCounts();
  for (let i = 0; i < 3; i++) assert.equal(c.take(i % 2, 'ann', undefined), true);
  assert.equal(c.count('ann'), 3);
  assert.equal(c.take(0, 'ann', 3), false);
});

test('a worker that dies takes its sessions with it; releases it never made change nothing', () => {
  const c = new SlotCounts();
  c.take(0, 'ann', 3);
  c.take(1, 'ann', 3);
  c.take(1, 'ann', 3);
  c.release(0, 'bob');
  c.release(2, 'ann');
  assert.equal(c.count('ann'), 3);
  c.dropHolder(1);
  assert.equal(c.count('ann'), 1);
  assert.equal(c.take(1, 'ann', 3), true, 'the replacement worker starts from nothing');
  c.release(0, 'ann');
  c.release(1, 'ann');
  assert.equal(c.count('ann'), 0);
});

test('a single process: slots are counted here, given back once however often released', async () => {
  const slots = new UserSlots();
  const take = (): Promise<UserSlot | undefined> => slots.take('carol', 2);
  const a = await take();
  const b = await take();
  assert.ok(a && b);
  assert.equal(await take(), undefined, 'the third is refused');
  a.release();
  a.release();
  const c = await take();
  assert.ok(c, 'the slot a gave back');
  assert.equal(await take(), undefined, 'a second release of a gave nothing more back');
  b.release();
  c.release();
});
