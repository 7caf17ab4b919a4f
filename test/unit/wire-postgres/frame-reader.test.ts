import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameReader } from '../../../wire/postgres/frame-reader.js';

const frame = (type: number, body: number): Buffer => {
  const b = Buffer.alloc(5 + body, 0x61);
  b[0] = type;
  b.writeInt32BE(4 + body, 1);
  return b;
};

test('property: takeRun takes the same messages as next(), as one view, never past its limits', () => {
  const msg = fc.tuple(fc.constantFrom(0x44, 0x44, 0x44, 0x43, 0x5a), fc.nat(40));
  fc.assert(fc.property(fc.array(msg, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 5 }), fc.nat(12), fc.nat(600), fc.array(fc.boolean(), { maxLength: 40 }),
    (msgs, cuts, maxCount, maxBytes, tries) => {
      const bytes = Buffer.concat(msgs.map(([t, n]) => frame(t, n)));
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      const r = new FrameReader();
      let from = 0;
      for (const p of [...points, bytes.length]) {
        if (p > from) r.push(Buffer.from(bytes.subarray(from, p)));
        from = p;
      }
      const out: Buffer[] = [];
      let k = 0;
      for (;;) {
        if (tries[k++ % Math.max(1, tries.length)]) {
          const run = r.takeRun(0x44, maxCount, maxBytes);
          if (run) {
            assert.ok(run.count >= 1 && run.count <= maxCount && run.view.length <= maxBytes);
            // every message in the run is a complete DataRow
            let at = 0;
            for (let i = 0; i < run.count; i++) {
              assert.equal(run.view[at], 0x44);
              at += 1 + run.view.readInt32BE(at + 1);
            }
            assert.equal(at, run.view.length);
            out.push(Buffer.from(run.view));
            continue;
          }
        }
        const f = r.next();
        if (!f) break;
        out.push(Buffer.from(f.raw));
      }
      assert.deepEqual(Buffer.concat(out), bytes, 'every byte once, in order');
      assert.equal(r.buffered, 0);
    }), { numRuns: 400 });
});

test('takeRun leaves a bad length for next() to report', () => {
  const r = new FrameReader(1024);
  const bad = Buffer.alloc(5);
  bad[0] = 0x44;
  bad.writeInt32BE(2, 1);
  r.push(Buffer.concat([frame(0x44, 3), bad]));
  assert.equal(r.takeRun(0x44, 10, 1e9)?.count, 1);
  assert.equal(r.takeRun(0x44, 10, 1e9), undefined);
  assert.throws(() => r.next(), /invalid message length 2/);
});

test('a message spread over many chunks is joined, and the bytes after it stay as they came', () => {
  const big = frame(0x44, 100_000);
  const after = Buffer.concat([frame(0x43, 3), frame(0x5a, 1)]);
  const all = Buffer.concat([frame(0x54, 7), big, after]);
  const r = new FrameReader();
  for (let at = 0; at < all.length; at += 1000) r.push(Buffer.from(all.subarray(at, at + 1000)));
  const got = [r.next()!, r.next()!, r.next()!, r.next()!];
  assert.deepEqual(got.map((f) => f.type), [0x54, 0x44, 0x43, 0x5a]);
  assert.deepEqual(got[1].raw, big);
  assert.deepEqual(Buffer.concat([got[2].raw, got[3].raw]), after);
  assert.equal(r.next(), undefined);
  assert.equal(r.buffered, 0);
});
