/**
 * Bytes on their way to one socket, gathered so that a burst of messages
 * leaves in one write instead of one write (and one Buffer) each:
 *   - pass-through messages are kept as the views they came in as, and
 *     views adjacent in one received chunk are merged back into one;
 *   - rewritten messages (masked rows) are encoded straight into a shared
 *     growing buffer (`room`, then advance `at`), not built one by one.
 * Order is kept across both kinds. Bytes handed out by `take` are never
 * written again: encoding only ever goes past `at`.
 */

/** Size of a fresh encode buffer; a bigger message gets a buffer of its own size. */
const CHUNK = 64 * 1024;

export class OutBatch {
  private readonly queue: Buffer[] = [];
  private runBuf: ArrayBufferLike | undefined;
  private runStart = 0;
  private runEnd = 0;
  /** The encode buffer: [start, at) is encoded and not yet queued. */
  buf: Buffer = Buffer.alloc(0);
  private start = 0;
  /** Where the next encoded byte goes in `buf`. */
  at = 0;

  /** Queues a message as it is (no copy). */
  push(view: Buffer): void {
    if (this.at > this.start) this.endEncoded();
    if (this.runBuf === view.buffer && this.runEnd === view.byteOffset) {
      this.runEnd += view.length;
      return;
    }
    this.endRun();
    this.runBuf = view.buffer;
    this.runStart = view.byteOffset;
    this.runEnd = view.byteOffset + view.length;
  }

  /** Queues a copy of `bytes` in the encode buffer (for small pieces that would each be a write of their own). */
  copy(bytes: Buffer): void {
    const buf = this.room(bytes.length);
    bytes.copy(buf, this.at);
    this.at += bytes.length;
  }

  /** Makes room for `n` bytes at `buf[at]`; encode them there, then advance `at`. */
  room(n: number): Buffer {
    this.endRun();
    if (this.buf.length - this.at < n) {
      this.endEncoded();
      this.buf = Buffer.allocUnsafe(Math.max(CHUNK, n));
      this.start = this.at = 0;
    }
    return this.buf;
  }

  /** True when nothing is queued. */
  get empty(): boolean {
    return this.queue.length === 0 && this.runBuf === undefined && this.at === this.start;
  }

  /** Everything queued, in order, as few Buffers as the pieces allow; the batch is empty after. */
  take(): Buffer[] {
    this.endRun();
    this.endEncoded();
    return this.queue.splice(0);
  }

  private endRun(): void {
    if (this.runBuf === undefined) return;
    this.queue.push(Buffer.from(this.runBuf, this.runStart, this.runEnd - this.runStart));
    this.runBuf = undefined;
  }

  private endEncoded(): void {
    if (this.at === this.start) return;
    this.queue.push(this.buf.subarray(this.start, this.at));
    this.start = this.at;
  }
}

/**
 * Copies src[start, end) to dst at `at` and returns the byte count. Short
 * spans (a few fields of a row) are copied in a loop: Buffer#copy makes a
 * typed-array view per call, which costs more than the bytes.
 */
export function copyBytes(src: Buffer, start: number, end: number, dst: Buffer, at: number): number {
  const n = end - start;
  if (n > 64) return src.copy(dst, at, start, end);
  for (let i = 0; i < n; i++) dst[at + i] = src[start + i];
  return n;
}

/**
 * How a masked field is rewritten: its text (null for SQL NULL) to what the
 * client may see. `asciiInPlace`, when present, promises that NULL stays
 * NULL and that for a field whose bytes are all ASCII the result has the
 * same length, and writes it over those bytes: the encoders then copy the
 * row once and mask in place,
 * without decoding the field into a string and encoding it back.
 */
export interface FieldRewrite {
  (text: string | null): string | null;
  readonly asciiInPlace?: (buf: Buffer, start: number, end: number) => void;
}

/** True when every byte in [start, end) is ASCII (so the UTF-8 text has one code unit per byte). */
export function isAscii(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] > 0x7f) return false;
  return true;
}

/**
 * The in-place masking of one row (see FieldRewrite.asciiInPlace), shared by
 * the encoders of both protocols: `field` for each rewritten field as the
 * row is read, then `apply` to the row's copy.
 */
export class InPlaceRow {
  private readonly spans: number[] = [];
  private readonly rewrites: FieldRewrite[] = [];

  reset(): void {
    this.spans.length = 0;
    this.rewrites.length = 0;
  }

  /**
   * A rewritten field at [start, end) of `row` (end < 0: NULL). false when it
   * cannot be rewritten in place (no in-place form, non-ASCII bytes, or past
   * the row's end): the row then takes the general path.
   */
  field(f: FieldRewrite, row: Buffer, start: number, end: number): boolean {
    if (!f.asciiInPlace) return false;
    if (end < 0) return true; // NULL stays NULL under an in-place rewrite
    if (end > row.length || !isAscii(row, start, end)) return false;
    this.spans.push(start, end);
    this.rewrites.push(f);
    return true;
  }

  /** Masks the fields in `dst`, which holds a copy of the row from `offset` on. */
  apply(dst: Buffer, offset: number): void {
    for (let k = 0; k < this.rewrites.length; k++) this.rewrites[k].asciiInPlace!(dst, offset + this.spans[2 * k], offset + this.spans[2 * k + 1]);
  }
}
