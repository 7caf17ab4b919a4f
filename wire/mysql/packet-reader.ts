/**
 * Reading MySQL packets: a framer that cuts a byte stream into packets
 * (4-byte header: 3-byte little-endian payload length, 1-byte sequence id;
 * payloads of 0xFFFFFF bytes continue in the next packet) and a cursor over
 * one payload.
 * Reference: https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_packets.html
 * and page_protocol_basic_dt_integers.html / page_protocol_basic_dt_strings.html.
 */
import { MAX_PACKET } from './constants.js';

const EMPTY = Buffer.alloc(0);

/** One logical packet: its payload (joined when it was split) and the sequence id of its first piece. */
export interface Packet {
  readonly seq: number;
  /** Sequence id of the last physical piece (equal to seq unless split). */
  readonly lastSeq: number;
  readonly payload: Buffer;
  /** Header and payload as received, when they arrived in one piece (not a split packet). */
  readonly raw?: Buffer;
}

/** Thrown for malformed input: the caller answers with an error and closes. */
export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

/**
 * Cuts a stream into logical packets. Payloads inside one chunk are views
 * over it (no copy); pieces that straddle chunks, or 16 MB splits, are joined.
 * `maxPayload` bounds what a peer can make us buffer.
 */
export class PacketFramer {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Pieces of a split packet waiting for their last piece. */
  private parts: Buffer[] = [];
  private partsLength = 0;
  private partsSeq = -1;
  /** Largest logical payload accepted; may be raised once a peer is trusted (after login). */
  maxPayload: number;

  constructor(maxPayload = 1 << 30) {
    this.maxPayload = maxPayload;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** Bytes held that do not yet make a whole packet. */
  get pending(): number {
    return this.buffered + this.partsLength;
  }

  /** The next complete logical packet, or undefined until more bytes arrive. */
  next(): Packet | undefined {
    for (;;) {
      if (this.buffered < 4) return undefined;
      const head = this.peek(4);
      const length = head[0] | (head[1] << 8) | (head[2] << 16);
      const seq = head[3];
      // Refuse before buffering: a peer must not make us hold what we will not accept.
      if (this.partsLength + length > this.maxPayload) throw new WireError(`packet larger than ${this.maxPayload} bytes`);
      if (this.buffered < 4 + length) return undefined;
      const first = this.chunks[0];
      if (length < MAX_PACKET && this.parts.length === 0 && first.length >= 4 + length) {
        // The common case: the whole packet is in the first chunk; hand out views, no copy.
        const raw = this.take(4 + length);
        return { seq, lastSeq: seq, payload: raw.subarray(4), raw };
      }
      this.take(4);
      const payload = this.take(length);
      if (length === MAX_PACKET) {
        if (this.parts.length === 0) this.partsSeq = seq;
        this.parts.push(payload);
        this.partsLength += length;
        continue;
      }
      if (this.parts.length > 0) {
        this.parts.push(payload);
        const joined = Buffer.concat(this.parts, this.partsLength + length);
        const first = this.partsSeq;
        this.parts = [];
        this.partsLength = 0;
        return { seq: first, lastSeq: seq, payload: joined };
      }
      return { seq, lastSeq: seq, payload };
    }
  }

  /** Bytes received but not yet consumed (used when a socket is handed to TLS). */
  drain(): Buffer {
    const rest = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [];
    this.buffered = 0;
    return rest;
  }

  /** The next n bytes (n <= buffered), without consuming them: a header split over chunks is copied alone. */
  private peek(n: number): Buffer {
    const first = this.chunks[0];
    if (first.length >= n) return first;
    const out = Buffer.allocUnsafe(n);
    for (let at = 0, k = 0; at < n; k++) at += this.chunks[k].copy(out, at, 0, Math.min(this.chunks[k].length, n - at));
    return out;
  }

  private take(n: number): Buffer {
    if (n === 0) return EMPTY;
    this.buffered -= n;
    const first = this.chunks[0];
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0];
      const want = n - at;
      if (c.length <= want) {
        c.copy(out, at);
        at += c.length;
        this.chunks.shift();
      } else {
        c.copy(out, at, 0, want);
        this.chunks[0] = c.subarray(want);
        at += want;
      }
    }
    return out;
  }
}

/** A cursor over one payload. Reads past the end throw WireError. */
export class PayloadReader {
  buf: Buffer;
  pos: number;

  constructor(buf: Buffer = Buffer.alloc(0), pos = 0) {
    this.buf = buf;
    this.pos = pos;
  }

  /** Point the (reusable) reader at another payload. */
  reset(buf: Buffer, pos = 0): this {
    this.buf = buf;
    this.pos = pos;
    return this;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new WireError(`truncated packet: need ${n} bytes at ${this.pos} of ${this.buf.length}`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u24(): number {
    this.need(3);
    const v = this.buf.readUIntLE(this.pos, 3);
    this.pos += 3;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Length-encoded integer; null for the 0xFB NULL marker. Values above 2^53 are refused. */
  lenencOrNull(): number | null {
    const first = this.u8();
    if (first < 0xfb) return first;
    if (first === 0xfb) return null;
    if (first === 0xfc) return this.u16();
    if (first === 0xfd) return this.u24();
    if (first === 0xfe) {
      const v = this.u64();
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new WireError('length-encoded integer too large');
      return Number(v);
    }
    throw new WireError('invalid length-encoded integer prefix 0xff');
  }

  lenenc(): number {
    const v = this.lenencOrNull();
    if (v === null) throw new WireError('unexpected NULL length');
    return v;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  lenencBytes(): Buffer {
    return this.bytes(this.lenenc());
  }

  lenencString(): string {
    return this.lenencBytes().toString('utf8');
  }

  /** NUL-terminated bytes; without a terminator, the rest of the payload. */
  nulBytes(): Buffer {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) return this.rest();
    const v = this.buf.subarray(this.pos, end);
    this.pos = end + 1;
    return v;
  }

  /** NUL-terminated bytes; the terminator is required. */
  nulBytesStrict(): Buffer {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) throw new WireError('missing NUL terminator');
    const v = this.buf.subarray(this.pos, end);
    this.pos = end + 1;
    return v;
  }

  nulString(): string {
    return this.nulBytes().toString('utf8');
  }

  rest(): Buffer {
    const v = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return v;
  }
}
