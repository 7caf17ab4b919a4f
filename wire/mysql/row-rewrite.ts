/**
 * Rewriting result rows field by field, for masking: text-protocol rows
 * (length-encoded strings), binary-protocol rows (NULL bitmap + typed
 * values) and the column definitions of rewritten columns, which become
 * VAR_STRING so that clients expect the masked text. Only the fields asked
 * for are decoded; the rest are copied as bytes.
 * Reference: https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_query_response_text_resultset_row.html,
 * page_protocol_binary_resultset.html (Binary Protocol Resultset Row, value encodings).
 */
import { Type } from './constants.js';
import { readBinaryValue } from './commands.js';
import { PayloadReader, WireError } from './packet-reader.js';
import { PacketWriter } from './packet-writer.js';
import type { ColumnDefinition } from './column-definition.js';
import { InPlaceRow, OutBatch, copyBytes, type FieldRewrite } from '../out-batch.js';
import { SqlgateError } from '../../governance/errors.js';

/** Column flags (ColumnDefinitionFlags). */
const NOT_NULL = 0x1;
const UNSIGNED = 0x20;
const ZEROFILL = 0x40;
const BINARY = 0x80;
const BLOB = 0x10;
const ENUM = 0x100;
const SET = 0x800;
const NUM = 0x8000;

export type { FieldRewrite } from '../out-batch.js';

/**
 * The column definition of a rewritten column: same names, but VAR_STRING in
 * utf8mb4 and nullable, so that the masked text is what clients expect.
 */
export function rewriteColumnDefinition(def: ColumnDefinition): Buffer {
  const out = Buffer.from(def.payload);
  const r = new PayloadReader(out);
  for (let i = 0; i < 6; i++) r.skip(r.lenenc());
  if (def.extended) r.skip(r.lenenc());
  r.lenenc(); // 0x0c
  const at = r.pos;
  out.writeUInt16LE(45, at); // utf8mb4_general_ci
  out.writeUInt32LE(Math.max(def.columnLength, 1024) >>> 0, at + 2);
  out[at + 6] = Type.VAR_STRING;
  out.writeUInt16LE(def.flags & ~(NOT_NULL | UNSIGNED | ZEROFILL | BINARY | BLOB | ENUM | SET | NUM), at + 7);
  out[at + 9] = 0;
  return out;
}

const writer = new PacketWriter(1024);

/** Rewrites the given fields of a text-protocol row (the payload, without a packet header). */
export function rewriteTextRow(payload: Buffer, columns: number, rewrites: ReadonlyMap<number, FieldRewrite>): Buffer {
  const byIndex: FieldRewrite[] = [];
  for (const [i, f] of rewrites) byIndex[i] = f;
  const out = new OutBatch();
  encodeRewrittenTextRow(out, payload, columns, byIndex, 0);
  return Buffer.concat(out.take()).subarray(4);
}

const replaced: (string | null)[] = [];
const replacedLengths: number[] = [];

/** Length of a length-encoded integer's prefix for `n`. */
function lenencSize(n: number): number {
  return n < 0xfb ? 1 : n < 0x10000 ? 3 : n < 0x1000000 ? 4 : 9;
}

/** The last length-encoded length read by `readLenenc`: value (-1 for NULL) and prefix size. */
let lenValue = 0;
let lenHead = 0;

/** Reads the length-encoded length at `o` into lenValue / lenHead (no allocation per field). */
function readLenenc(p: Buffer, o: number): void {
  if (o >= p.length) throw new WireError('text row shorter than its columns');
  const first = p[o];
  if (first < 0xfb) { lenValue = first; lenHead = 1; return; }
  if (first === 0xfb) { lenValue = -1; lenHead = 1; return; }
  if (first === 0xfc) { lenValue = p.readUInt16LE(o + 1); lenHead = 3; return; }
  if (first === 0xfd) { lenValue = p.readUIntLE(o + 1, 3); lenHead = 4; return; }
  if (first === 0xfe) {
    const v = p.readBigUInt64LE(o + 1);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new WireError('length-encoded integer too large');
    lenValue = Number(v);
    lenHead = 9;
    return;
  }
  throw new WireError('invalid length-encoded integer prefix 0xff');
}

/**
 * Appends a text-protocol row packet (header with sequence `seq`, then the
 * row with the given fields rewritten) straight into `out`. Untouched fields
 * are copied as bytes, in spans between the rewritten ones.
 */
export function encodeRewrittenTextRow(out: OutBatch, payload: Buffer, columns: number, rewrites: readonly (FieldRewrite | undefined)[], seq: number): void {
  if (encodeInPlace(out, payload, columns, rewrites, seq)) return;
  replaced.length = 0;
  replacedLengths.length = 0;
  let size = payload.length;
  let o = 0;
  for (let i = 0; i < columns; i++) {
    readLenenc(payload, o);
    const len = lenValue;
    const head = lenHead;
    const f = rewrites[i];
    if (f) {
      const t = f(len < 0 ? null : payload.toString('utf8', o + head, o + head + len));
      const bl = t === null ? -1 : Buffer.byteLength(t, 'utf8');
      size += (bl < 0 ? 1 : lenencSize(bl) + bl) - (head + Math.max(len, 0));
      replaced.push(t);
      replacedLengths.push(bl);
    }
    o += head + Math.max(len, 0);
  }
  if (o !== payload.length) throw new WireError(o > payload.length ? 'text row shorter than its columns' : 'text row longer than its columns');
  // One packet holds less than 16 MB; a masked row is not split over several.
  if (size >= 0xffffff) throw new SqlgateError('RESULT_TOO_LARGE', 'sqlgate: a masked row over 16 MB');
  const buf = out.room(4 + size);
  let w = out.at;
  buf.writeUIntLE(size, w, 3);
  buf[w + 3] = seq;
  w += 4;
  let span = 0;
  let k = 0;
  o = 0;
  for (let i = 0; i < columns; i++) {
    const field = o;
    readLenenc(payload, o);
    o += lenHead + Math.max(lenValue, 0);
    if (!rewrites[i]) continue;
    w += copyBytes(payload, span, field, buf, w);
    const bl = replacedLengths[k];
    if (bl < 0) {
      buf[w++] = 0xfb;
    } else {
      if (bl < 0xfb) buf[w++] = bl;
      else if (bl < 0x10000) { buf[w] = 0xfc; buf.writeUInt16LE(bl, w + 1); w += 3; }
      else if (bl < 0x1000000) { buf[w] = 0xfd; buf.writeUIntLE(bl, w + 1, 3); w += 4; }
      else { buf[w] = 0xfe; buf.writeBigUInt64LE(BigInt(bl), w + 1); w += 9; }
      w += buf.write(replaced[k]!, w, 'utf8');
    }
    k++;
    span = o;
  }
  w += copyBytes(payload, span, payload.length, buf, w);
  out.at = w;
}

const inPlace = new InPlaceRow();

/**
 * The common case of a masked row: every rewritten field is NULL or ASCII
 * with a same-length rewrite. The row is copied once and masked in place.
 * false (nothing written) when any rewritten field is not such a field.
 */
function encodeInPlace(out: OutBatch, payload: Buffer, columns: number, rewrites: readonly (FieldRewrite | undefined)[], seq: number): boolean {
  inPlace.reset();
  let o = 0;
  for (let i = 0; i < columns; i++) {
    readLenenc(payload, o);
    const start = o + lenHead;
    o = start + Math.max(lenValue, 0);
    const f = rewrites[i];
    if (f && !inPlace.field(f, payload, start, lenValue < 0 ? -1 : o)) return false;
  }
  if (o !== payload.length) return false; // the general path says what is wrong with the row
  const buf = out.room(4 + payload.length);
  const w = out.at;
  buf.writeUIntLE(payload.length, w, 3);
  buf[w + 3] = seq;
  copyBytes(payload, 0, payload.length, buf, w + 4);
  inPlace.apply(buf, w + 4);
  out.at = w + 4 + payload.length;
  return true;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** A binary-protocol value as the text protocol would show it (what a mask works on). */
export function binaryValueText(type: number, flags: number, v: Buffer): string {
  const unsigned = (flags & UNSIGNED) !== 0;
  switch (type) {
    case Type.TINY: return String(unsigned ? v.readUInt8(0) : v.readInt8(0));
    case Type.SHORT: case Type.YEAR: return String(unsigned || type === Type.YEAR ? v.readUInt16LE(0) : v.readInt16LE(0));
    case Type.LONG: case Type.INT24: return String(unsigned ? v.readUInt32LE(0) : v.readInt32LE(0));
    case Type.LONGLONG: return String(unsigned ? v.readBigUInt64LE(0) : v.readBigInt64LE(0));
    case Type.FLOAT: return String(v.readFloatLE(0));
    case Type.DOUBLE: return String(v.readDoubleLE(0));
    case Type.DATE: case Type.DATETIME: case Type.TIMESTAMP: case Type.DATETIME2: case Type.TIMESTAMP2: {
      const n = v[0];
      if (n === 0) return '0000-00-00' + (type === Type.DATE ? '' : ' 00:00:00');
      const date = `${pad(v.readUInt16LE(1), 4)}-${pad(v[3])}-${pad(v[4])}`;
      if (type === Type.DATE) return date;
      const time = n >= 7 ? `${pad(v[5])}:${pad(v[6])}:${pad(v[7])}` : '00:00:00';
      return `${date} ${time}${n >= 11 ? '.' + pad(v.readUInt32LE(8), 6) : ''}`;
    }
    case Type.TIME: case Type.TIME2: {
      const n = v[0];
      if (n === 0) return '00:00:00';
      const neg = v[1] === 1;
      const hours = v.readUInt32LE(2) * 24 + v[6];
      return `${neg ? '-' : ''}${pad(hours)}:${pad(v[7])}:${pad(v[8])}${n >= 12 ? '.' + pad(v.readUInt32LE(9), 6) : ''}`;
    }
    default: {
      // length-encoded: strings, DECIMAL, JSON, BIT, ENUM/SET, blobs
      const r = new PayloadReader(v);
      return r.bytes(r.lenenc()).toString('utf8');
    }
  }
}

/** Rewrites the given fields of a binary-protocol row; rewritten columns become length-encoded strings. */
export function rewriteBinaryRow(payload: Buffer, columns: readonly ColumnDefinition[], rewrites: ReadonlyMap<number, FieldRewrite>): Buffer {
  const n = columns.length;
  const bitmapLength = (n + 7 + 2) >> 3;
  const r = new PayloadReader(payload, 1);
  const bitmap = Buffer.from(r.bytes(bitmapLength));
  const values: (Buffer | null)[] = [];
  for (let i = 0; i < n; i++) {
    const bit = i + 2;
    const isNull = (bitmap[bit >> 3] & (1 << (bit & 7))) !== 0;
    values.push(isNull ? null : readBinaryValue(r, columns[i].type));
  }
  if (r.remaining !== 0) throw new WireError('binary row longer than its columns');
  writer.reset().u8(0x00);
  const bitmapAt = writer.length;
  writer.bytes(bitmap);
  const out: (Buffer | string | null)[] = values.map((v, i) => {
    const f = rewrites.get(i);
    if (!f) return v;
    return f(v === null ? null : binaryValueText(columns[i].type, columns[i].flags, v));
  });
  out.forEach((v, i) => {
    const bit = i + 2;
    if (v === null) {
      bitmap[bit >> 3] |= 1 << (bit & 7);
      return;
    }
    bitmap[bit >> 3] &= ~(1 << (bit & 7));
    if (typeof v === 'string') writer.lenencString(v);
    else writer.bytes(v);
  });
  const framed = writer.finish(0);
  bitmap.copy(framed, 4 + bitmapAt);
  return framed.subarray(4);
}
