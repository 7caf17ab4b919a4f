import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ResponseWalker } from '../../../wire/mysql/result-walker.js';
import { Status } from '../../../wire/mysql/constants.js';

// Independent encoder for whole responses.
function frame(seq: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUIntLE(payload.length, 0, 3);
  h[3] = seq & 0xff;
  return Buffer.concat([h, payload]);
}
const lenenc = (n: number) => (n < 251 ? Buffer.from([n]) : n < 65536 ? Buffer.from([0xfc, n & 0xff, n >> 8]) : Buffer.from([0xfd, n & 0xff, (n >> 8) & 0xff, n >> 16]));
const field = (len: number, fill: number) => Buffer.concat([lenenc(len), Buffer.alloc(len, fill)]);
const coldef = Buffer.concat([Buffer.from([3]), Buffer.from('def'), Buffer.from([0, 0, 0, 1, 0x61, 0]), Buffer.from([0x0c, 45, 0, 0, 1, 0, 0, 0xfd, 0, 0, 0, 0, 0])]);

interface Spec { readonly sets: readonly { readonly cols: number; readonly rows: readonly (readonly number[])[] }[]; readonly deprecateEof: boolean }

function encode(spec: Spec, cap?: number): { bytes: Buffer; expected: Buffer; rows: number } {
  const all: Buffer[] = [];
  const kept: Buffer[] = [];
  let rows = 0;
  spec.sets.forEach((set, si) => {
    const last = si === spec.sets.length - 1;
    const status = Status.AUTOCOMMIT | (last ? 0 : Status.MORE_RESULTS_EXISTS);
    const head = [lenenc(set.cols), ...Array.from({ length: set.cols }, () => coldef), ...(spec.deprecateEof ? [] : [Buffer.from([0xfe, 0, 0, 2, 0])])];
    const body = set.rows.map((r) => Buffer.concat(r.map((len, i) => field(len, i === 0 ? 0xfe : 0x61))));
    const cut = cap !== undefined && body.length > cap;
    const end = (warnings: number) => spec.deprecateEof
      ? Buffer.from([0xfe, 0, 0, status & 0xff, status >> 8, warnings, 0])
      : Buffer.from([0xfe, warnings, 0, status & 0xff, status >> 8]);
    all.push(...head, ...body, end(0));
    const shown = cap === undefined ? body : body.slice(0, cap);
    kept.push(...head, ...shown, end(cut ? 1 : 0));
    rows += shown.length;
  });
  return {
    bytes: Buffer.concat(all.map((p, i) => frame(i + 1, p))),
    expected: Buffer.concat(kept.map((p, i) => frame(i + 1, p))),
    rows,
  };
}

const spec = fc.record({
  deprecateEof: fc.boolean(),
  sets: fc.array(fc.integer({ min: 1, max: 3 }).chain((cols) => fc.record({
    cols: fc.constant(cols),
    rows: fc.array(fc.array(fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constant(20_000)), { minLength: cols, maxLength: cols }), { maxLength: 12 }),
  })), { minLength: 1, maxLength: 3 }),
});

test('property: any response, cut anywhere, is walked to its exact end and relayed byte for byte (with and without a row cap)', () => {
  fc.assert(fc.property(spec, fc.array(fc.nat(), { maxLength: 6 }), fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }), (s, cuts, cap) => {
    const { bytes, expected, rows } = encode(s, cap);
    const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
    const w = new ResponseWalker();
    w.start('query', s.deprecateEof, false, cap);
    const out: Buffer[] = [];
    let from = 0;
    let end = -1;
    for (const p of [...points, bytes.length]) {
      if (p < from) continue;
      const chunk = Buffer.from(bytes.subarray(from, p));
      end = w.feed(chunk);
      out.push(...w.out.map((b) => Buffer.from(b)));
      if (p < bytes.length) assert.equal(end, -1);
      from = p;
    }
    assert.equal(w.done, true);
    assert.ok(Buffer.concat(out).equals(expected));
    assert.equal(w.summary.rows, rows);
    assert.equal(w.summary.resultSets, s.sets.length);
  }), { numRuns: 300 });
});

test('property: takeRow (the masked relay framing each packet itself) walks and counts exactly as feed does', () => {
  const err = Buffer.from([0xff, 0x15, 0x05, 0x23, 0x48, 0x59, 0x30, 0x30, 0x30, 0x78]);
  fc.assert(fc.property(spec, fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }), fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined }), (s, cap, bytesLimit) => {
    const { bytes } = encode(s);
    const packets: Buffer[] = [];
    for (let at = 0; at < bytes.length;) {
      const n = bytes.readUIntLE(at, 3);
      packets.push(bytes.subarray(at, at + 4 + n));
      at += 4 + n;
    }
    const limit = bytesLimit === undefined ? undefined : { limit: bytesLimit, err };
    const walk = (useTakeRow: boolean) => {
      const w = new ResponseWalker();
      w.start('query', s.deprecateEof, false, cap, limit);
      const out: Buffer[] = [];
      let taken = 0;
      for (const p of packets) {
        if (w.done) break;
        if (useTakeRow && w.takeRow(p.subarray(4), p[3])) { out.push(Buffer.from(p)); taken++; continue; }
        w.feed(Buffer.from(p));
        out.push(...w.out.map((b) => Buffer.from(b)));
      }
      return { out: Buffer.concat(out), summary: { ...w.summary, columns: w.summary.columns.length }, done: w.done, taken };
    };
    const reference = walk(false);
    const fast = walk(true);
    assert.ok(fast.out.equals(reference.out), 'the same bytes go out');
    assert.deepEqual(fast.summary, reference.summary);
    assert.equal(fast.done, reference.done);
    const smallRows = s.sets.reduce((n, set) => n + set.rows.filter((r) => r.every((len) => len < 20_000)).length, 0);
    if (cap === undefined && limit === undefined && smallRows > 0) assert.ok(fast.taken > 0, 'plain rows take the fast path');
  }), { numRuns: 400 });
});
