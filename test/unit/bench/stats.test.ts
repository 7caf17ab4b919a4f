import assert from 'node:assert/strict';
import { test } from 'node:test';
import { median, medianRatio, percentile, ratio, rotate } from '../../../bench/stats.js';

test('median of odd and even counts, ignoring NaN', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([5, NaN, 1, Infinity]), 3);
  assert.ok(Number.isNaN(median([])));
  assert.ok(Number.isNaN(median([NaN])));
});

test('median does not reorder its input', () => {
  const xs = [3, 1, 2];
  median(xs);
  assert.deepEqual(xs, [3, 1, 2]);
});

test('percentile is nearest-rank', () => {
  const xs = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
  assert.equal(percentile(xs, 50), 50);
  assert.equal(percentile(xs, 99), 99);
  assert.equal(percentile(xs, 100), 100);
  assert.equal(percentile(xs, 0), 1);
  assert.equal(percentile([7], 99), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
});

test('ratio refuses missing and zero denominators', () => {
  assert.equal(ratio(3, 4), 0.75);
  assert.ok(Number.isNaN(ratio(3, 0)));
  assert.ok(Number.isNaN(ratio(undefined, 4)));
  assert.ok(Number.isNaN(ratio(3, NaN)));
});

test('medianRatio is the median of per-round ratios, skipping failed rounds', () => {
  // Per-round ratios 0.5, 1.0, (failed), 0.8 → median 0.8; a ratio of means would give 0.7.
  const r = medianRatio([50, 200, undefined, 80], [100, 200, 300, 100]);
  assert.equal(r.count, 3);
  assert.equal(r.ratio, 0.8);
  assert.equal(r.min, 0.5);
  assert.equal(r.max, 1);
  const none = medianRatio([undefined], [1]);
  assert.equal(none.count, 0);
  assert.ok(Number.isNaN(none.ratio));
});

test('rotate gives every item every position over the rounds', () => {
  const items = ['direct', 'pgbouncer', 'sqlgate'];
  assert.deepEqual(rotate(items, 0), items);
  assert.deepEqual(rotate(items, 1), ['pgbouncer', 'sqlgate', 'direct']);
  assert.deepEqual(rotate(items, 4), rotate(items, 1));
  const firsts = new Set([0, 1, 2].map((r) => rotate(items, r)[0]));
  assert.equal(firsts.size, 3);
  assert.deepEqual(rotate([], 3), []);
});
