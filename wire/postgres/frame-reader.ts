/**
 * Splits a byte stream into PostgreSQL protocol messages, whatever the
 * chunking: a message may span many socket chunks, a chunk may hold many
 * messages. Frames are views over the received bytes; a message that spans
 * chunks is copied once, when it is complete.
 * Reference: https://www.postgresql.org/docs/15/protocol-overview.html#PROTOCOL-MESSAGE-CONCEPTS
 */
import { SqlgateError } from '../../governance/errors.js';
import type { Frame } from './messages.js';

/** PostgreSQL's own cap on a startup packet (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_LENGTH = 10_000;
/** PostgreSQL caps regular messages at 1 GiB - 1 (PQ_LARGE_MESSAGE_LIMIT). */
export const MAX_MESSAGE_LENGTH = 0x3fffffff;

export class FrameReader {
  private chunks: Buffer[] = [];
  /** Bytes of chunks[0] already returned: reading moves an offset rather than slicing the chunk again. */
  private off = 0;
  private total = 0;
  private readonly maxLength: number;

  /** maxLength bounds the declared length of one message (length field included). */
  constructor(maxLength: number = MAX_MESSAGE_LENGTH) {
    this.maxLength = maxLength;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /** Bytes received and not yet returned as frames. */
  get buffered(): number {
    return this.total;
  }

  /** Everything buffered, removed from the reader (used when switching to TLS or to raw relay). */
  drain(): Buffer {
    if (this.off > 0) this.chunks[0] = this.chunks[0].subarray(this.off);
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.total);
    this.chunks = [];
    this.off = 0;
    this.total = 0;
    return all;
  }

  /** The next typed message, or undefined until one is complete. Throws PROTOCOL_VIOLATION on a bad length. */
  next(): Frame | undefined {
    if (this.total < 5) return undefined;
    const first = this.head(5);
    const length = first.readInt32BE(this.off + 1);
    if (length < 4 || length > this.maxLength) {
      throw new SqlgateError('PROTOCOL_VIOLATION', `invalid message length ${length}`);
    }
    const raw = this.take(1 + length);
    if (!raw) return undefined;
    return { type: raw[0], body: raw.subarray(5), raw };
  }

  /**
   * Consecutive complete messages of one `type` that come next in the current
   * chunk, at most `maxCount` of them and `maxBytes` bytes in all: one view
   * over them and how many, or undefined when the next message is not one.
   * For relaying a result's rows as they came, without a frame per row. A
   * message it does not take (a bad length, one past a limit, the end of the
   * chunk) is left for next().
   */
  takeRun(type: number, maxCount: number, maxBytes: number): { readonly view: Buffer; readonly count: number } | undefined {
    if (this.chunks.length === 0) return undefined;
    const c = this.chunks[0];
    const start = this.off;
    let at = start;
    let count = 0;
    while (count < maxCount && at + 5 <= c.length && c[at] === type) {
      const length = c.readInt32BE(at + 1);
      if (length < 4 || length > this.maxLength) break;
      const end = at + 1 + length;
      if (end > c.length || end - start > maxBytes) break;
      at = end;
      count++;
    }
    if (count === 0) return undefined;
    this.off = at;
    this.total -= at - start;
    if (this.off === c.length) {
      this.chunks.shift();
      this.off = 0;
    }
    return { view: c.subarray(start, at), count };
  }

  /**
   * The next untyped startup-phase packet (SSLRequest, StartupMessage,
   * CancelRequest...): its body after the length, or undefined until complete.
   */
  nextStartup(): Buffer | undefined {
    if (this.total < 4) return undefined;
    const length = this.head(4).readInt32BE(this.off);
    if (length < 8 || length > MAX_STARTUP_LENGTH) {
      throw new SqlgateError('PROTOCOL_VIOLATION', `invalid startup packet length ${length}`);
    }
    const raw = this.take(length);
    return raw?.subarray(4);
  }

  /** chunks[0] holding at least n unread bytes from `off` (only called with n <= total). */
  private head(n: number): Buffer {
    if (this.chunks[0].length - this.off < n) this.merge(n);
    return this.chunks[0];
  }

  /**
   * Makes the next n bytes contiguous. Only they are copied (the message that
   * spans chunks); what follows them stays a view of the chunk it came in.
   * Copying everything buffered copied every byte of a streamed result once
   * more, and allocated a chunk-sized buffer per chunk.
   */
  private merge(n: number): void {
    const out = Buffer.allocUnsafe(n);
    let w = this.chunks[0].copy(out, 0, this.off);
    let k = 1;
    while (w < n) {
      const c = this.chunks[k];
      const part = Math.min(c.length, n - w);
      c.copy(out, w, 0, part);
      w += part;
      if (part < c.length) {
        this.chunks[k] = c.subarray(part);
        break;
      }
      k++;
    }
    this.chunks.splice(0, k, out);
    this.off = 0;
  }

  private take(n: number): Buffer | undefined {
    if (this.total < n) return undefined;
    const first = this.head(n);
    const start = this.off;
    const out = first.subarray(start, start + n);
    this.off = start + n;
    if (this.off === first.length) {
      this.chunks.shift();
      this.off = 0;
    }
    this.total -= n;
    return out;
  }
}
