import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ColumnDefinition } from '../../../wire/mysql/column-definition.js';
import { binaryValueText, encodeRewrittenTextRow, rewriteBinaryRow, rewriteColumnDefinition, rewriteTextRow } from '../../../wire/mysql/row-rewrite.js';
import { OutBatch } from '../../../wire/out-batch.js';
import { Type } from '../../../wire/mysql/constants.js';
import { fieldMask, partialMask } from '../../../proxy/mask.js';
import type { MaskDirective } from '../../../governance/decision.js';

const lenstr = (s: string | Buffer) => { const b = Buffer.from(s); return Buffer.concat([Buffer.from([b.length]), b]); };
function coldef(name: string, type: number, flags = 0, charset = 63): Buffer {
  const fixed = Buffer.alloc(13);
  fixed[0] = 0x0c; fixed.writeUInt16LE(charset, 1); fixed.writeUInt32LE(11, 3); fixed[7] = type; fixed.writeUInt16LE(flags, 8);
  return Buffer.concat([lenstr('def'), lenstr('shop'), lenstr('c'), lenstr('customers'), lenstr(name), lenstr(name), fixed]);
}

test('partial masks keep the ends by code point', () => {
  assert.equal(partialMask('13812345678', 3, 4, '*'), '138****5678');
  assert.equal(partialMask('😀bcdef😀', 1, 1, '#'), '😀#####😀');
  assert.equal(partialMask('abc', 3, 4, '*'), '***');
  assert.equal(partialMask('', 3, 4, '*'), '');
});

test('text rows: only the asked fields are rewritten; NULL stays NULL unless the rewrite says otherwise', () => {
  const row = Buffer.concat([lenstr('1'), lenstr('13812345678'), Buffer.from([0xfb]), lenstr('x')]);
  const out = rewriteTextRow(row, 4, new Map([[1, (t: string | null) => (t === null ? null : partialMask(t, 3, 4, '*'))], [2, (t: string | null) => (t === null ? 'N' : t)]]));
  assert.ok(out.equals(Buffer.concat([lenstr('1'), lenstr('138****5678'), lenstr('N'), lenstr('x')])));
  assert.throws(() => rewriteTextRow(row, 3, new Map()));
});

test('column definitions of rewritten columns become nullable utf8mb4 VAR_STRING, names untouched', () => {
  const def = new ColumnDefinition(coldef('age', Type.LONG, 0x1 | 0x20 | 0x8000));
  const out = new ColumnDefinition(rewriteColumnDefinition(def));
  assert.deepEqual([out.orgTable, out.name, out.orgName, out.type, out.charset, out.flags & 0x8021], ['customers', 'age', 'age', Type.VAR_STRING, 45, 0]);
});

test('binary rows: typed values become text for the mask, NULL bitmap kept right', () => {
  const defs = [new ColumnDefinition(coldef('id', Type.LONG)), new ColumnDefinition(coldef('phone', Type.VAR_STRING, 0, 45)),
    new ColumnDefinition(coldef('age', Type.TINY, 0x20)), new ColumnDefinition(coldef('born', Type.DATETIME)), new ColumnDefinition(coldef('gone', Type.LONGLONG))];
  // id=7, phone='13812345678', age=200 (unsigned), born=2024-02-29 12:34:56.000123, gone=NULL (bit 4+2=6)
  const born = Buffer.from([11, 0xe8, 0x07, 2, 29, 12, 34, 56, 0x7b, 0, 0, 0]);
  const row = Buffer.concat([Buffer.from([0x00, 0b01000000]), Buffer.from([7, 0, 0, 0]), lenstr('13812345678'), Buffer.from([200]), born]);
  const out = rewriteBinaryRow(row, defs, new Map([[1, (t: string | null) => partialMask(t!, 3, 4, '*')], [2, (t: string | null) => `<${t}>`], [3, (t: string | null) => t], [4, () => 'was null']]));
  const expected = Buffer.concat([Buffer.from([0x00, 0b00000000]), Buffer.from([7, 0, 0, 0]), lenstr('138****5678'), lenstr('<200>'), lenstr('2024-02-29 12:34:56.000123'), lenstr('was null')]);
  assert.ok(out.equals(expected), out.toString('hex'));
  // masking to NULL sets the bit and drops the value
  const nulled = rewriteBinaryRow(row, defs, new Map([[1, () => null]]));
  assert.ok(nulled.equals(Buffer.concat([Buffer.from([0x00, 0b01001000]), Buffer.from([7, 0, 0, 0]), Buffer.from([200]), born])));
  assert.equal(binaryValueText(Type.TIME, 0, Buffer.from([12, 1, 1, 0, 0, 0, 2, 3, 4, 1, 0, 0, 0])), '-26:03:04.000001');
  assert.equal(binaryValueText(Type.LONGLONG, 0x20, Buffer.from('ffffffffffffffff', 'hex')), '18446744073709551615');
  assert.equal(binaryValueText(Type.DOUBLE, 0, Buffer.from(new Float64Array([1.5]).buffer)), '1.5');
});

test('column definitions with MariaDB extended metadata: the block is skipped (and read) before the fixed fields', () => {
  const plain = coldef('j', Type.BLOB, 0x10, 45);
  const ext = Buffer.concat([Buffer.from([1]), lenstr('json')]);
  const at = plain.length - 13;
  const withExt = Buffer.concat([plain.subarray(0, at), lenstr(ext), plain.subarray(at)]);
  const d = new ColumnDefinition(withExt, true);
  assert.deepEqual([d.name, d.format, d.type, d.charset, d.flags], ['j', 'json', Type.BLOB, 45, 0x10]);
  const rewritten = new ColumnDefinition(rewriteColumnDefinition(d), true);
  assert.deepEqual([rewritten.name, rewritten.format, rewritten.type], ['j', 'json', Type.VAR_STRING]);
});

test('property: partial masking works on code points, ASCII fast path or not', () => {
  const reference = (text: string, kf: number, kl: number, c: string): string => {
    const chars = [...text];
    if (chars.length <= kf + kl) return c.repeat(chars.length);
    return chars.slice(0, kf).join('') + c.repeat(chars.length - kf - kl) + chars.slice(chars.length - kl).join('');
  };
  fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' })), fc.nat(6), fc.nat(6), fc.constantFrom('*', '#', '＊'), (t, kf, kl, c) => {
    assert.equal(partialMask(t, kf, kl, c), reference(t, kf, kl, c));
  }), { numRuns: 500 });
});

test('property: text rows rewritten into a shared batch equal rows built field by field (every length prefix size)', () => {
  const lenenc = (v: string | null): Buffer => {
    if (v === null) return Buffer.from([0xfb]);
    const b = Buffer.from(v, 'utf8');
    const n = b.length;
    const head = n < 0xfb ? Buffer.from([n]) : n < 0x10000 ? Buffer.from([0xfc, n & 0xff, n >> 8]) : Buffer.from([0xfd, n & 0xff, (n >> 8) & 0xff, n >> 16]);
    return Buffer.concat([head, b]);
  };
  const value = fc.oneof(fc.constant(null), fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('x'.repeat(250), 'y'.repeat(251), 'z'.repeat(70_000)));
  // The policy's own partial masks carry the ASCII in-place path.
  const partial = (keepFirst: number, keepLast: number, maskChar: string) =>
    fieldMask({ kind: 'partial', keepFirst, keepLast, maskChar } as MaskDirective, Buffer.alloc(32));
  const rewrite = fc.oneof(fc.constant(undefined), fc.constant(() => null),
    fc.constant(partial(3, 4, '*')), fc.constant(partial(0, 1, '#')), fc.constant(partial(2, 0, '＊')), fc.constant((t: string | null) => (t === null ? 'n' : 'ＭＡＳＫ'.repeat(t.length % 90))),
    fc.constant((t: string | null) => 'w'.repeat(300)));
  fc.assert(fc.property(fc.array(fc.tuple(value, rewrite), { minLength: 1, maxLength: 8 }), fc.nat(255), (fields, seq) => {
    const payload = Buffer.concat(fields.map(([v]) => lenenc(v)));
    const out = new OutBatch();
    encodeRewrittenTextRow(out, payload, fields.length, fields.map(([, f]) => f), seq);
    const want = Buffer.concat(fields.map(([v, f]) => lenenc(f ? f(v) : v)));
    const got = Buffer.concat(out.take());
    assert.equal(got.readUIntLE(0, 3), want.length);
    assert.equal(got[3], seq);
    assert.deepEqual(got.subarray(4), want);
  }), { numRuns: 200 });
});
