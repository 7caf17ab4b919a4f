import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isoTime } from '../../../../governance/audit/event.js';

test('isoTime: the ISO form of the given millisecond, remembered or not', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 4_102_444_800_000 }), { minLength: 1, maxLength: 20 }), (times) => {
    // Repeats in a row exercise the remembered value; changes the fresh one.
    for (const ms of times.flatMap((t) => [t, t, t + 1, t])) assert.equal(isoTime(ms), new Date(ms).toISOString());
  }));
  const before = Date.now();
  const now = Date.parse(isoTime());
  assert.ok(now >= before && now <= Date.now(), 'the default is now');
});
