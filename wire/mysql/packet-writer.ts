/**
 * Writing MySQL packets: a growable payload writer, framed on `finish(seq)`
 * into physical packets of at most 0xFFFFFF payload bytes (a payload that is
 * an exact multiple of 0xFFFFFF ends with an empty packet).
 * Reference: https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_packets.html
 */
import { MAX_PACKET } from './constants.js';

/** Builds one payload, then frames it. Reuse it: `finish` resets it. */
export class PacketWriter {
  private buf: Buffer;
  private pos = 4; // room for the first header

  constructor(size = 256) {
    this.buf = Buffer.allocUnsafe(Math.max(size, 16));
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Drops anything written since the last `finish` (after an error half-way through a message). */
  reset(): this {
    this.pos = 4;
    return this;
  }

  get length(): number {
    return this.pos - 4;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16LE(v & 0xffff, this.pos);
    this.pos += 2;
    return this;
  }

  u24(v: number): this {
    this.ensure(3);
    this.buf.writeUIntLE(v & 0xffffff, this.pos, 3);
    this.pos += 3;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  u64(v: bigint | number): this {
    this.ensure(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.pos);
    this.pos += 8;
    return this;
  }

  lenenc(v: number): this {
    if (v < 0xfb) return this.u8(v);
    if (v <= 0xffff) return this.u8(0xfc).u16(v);
    if (v <= 0xffffff) return this.u8(0xfd).u24(v);
    return this.u8(0xfe).u64(v);
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  zeros(n: number): this {
    this.ensure(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
    return this;
  }

  string(s: string): this {
    const n = Buffer.byteLength(s);
    this.ensure(n);
    this.buf.write(s, this.pos, 'utf8');
    this.pos += n;
    return this;
  }

  nulString(s: string): this {
    return this.string(s).u8(0);
  }

  lenencBytes(b: Uint8Array): this {
    return this.lenenc(b.length).bytes(b);
  }

  lenencString(s: string): this {
    return this.lenenc(Buffer.byteLength(s)).string(s);
  }

  /** Frames the payload with sequence ids from `seq` and resets the writer. Returns a fresh buffer. */
  finish(seq: number): Buffer {
    const length = this.pos - 4;
    let out: Buffer;
    if (length < MAX_PACKET) {
      this.buf.writeUIntLE(length, 0, 3);
      this.buf[3] = seq & 0xff;
      out = Buffer.from(this.buf.subarray(0, this.pos));
    } else {
      out = framePayload(this.buf.subarray(4, this.pos), seq);
    }
    this.pos = 4;
    return out;
  }
}

/** Number of physical packets a payload of `length` bytes takes. */
export function packetCount(length: number): number {
  return Math.floor(length / MAX_PACKET) + 1;
}

/** Frames an existing payload into physical packets starting at `seq`. */
export function framePayload(payload: Uint8Array, seq: number): Buffer {
  const pieces = packetCount(payload.length);
  const out = Buffer.allocUnsafe(payload.length + 4 * pieces);
  let at = 0;
  let from = 0;
  for (let i = 0; i < pieces; i++) {
    const n = Math.min(MAX_PACKET, payload.length - from);
    out.writeUIntLE(n, at, 3);
    out[at + 3] = (seq + i) & 0xff;
    out.set(payload.subarray(from, from + n), at + 4);
    at += 4 + n;
    from += n;
  }
  return out;
}
