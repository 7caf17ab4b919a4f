/**
 * Checks an audit file's hash chain (chain.ts) and reports the first record
 * that is edited, missing, out of order or truncated, by line number.
 *
 * A chain alone cannot tell that records were cut off the END of a file
 * (the shorter file is a valid chain); pass `anchor` — a seq/hash noted
 * elsewhere, e.g. in the store or a later rotated file — to catch that too.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { GENESIS, checkLine } from './chain.js';

export interface VerifyResult {
  /** True when every line is intact and chained. */
  readonly ok: boolean;
  /** Records that checked out before the first bad one (all of them when ok). */
  readonly records: number;
  /** 1-based line of the first problem and what it is. */
  readonly firstBad?: { readonly line: number; readonly reason: string };
}

export interface VerifyOptions {
  /** A record known to exist: its seq must be present with this hash. */
  readonly anchor?: { readonly seq: number; readonly hash: string };
}

/** Lines of a file, read in chunks; `complete` is false for a last line without its newline. */
function* lines(path: string): Generator<{ text: string; complete: boolean }> {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(1024 * 1024);
    let carry: Buffer[] = [];
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      let from = 0;
      for (;;) {
        const nl = buf.indexOf(0x0a, from);
        if (nl < 0 || nl >= n) break;
        carry.push(Buffer.from(buf.subarray(from, nl)));
        yield { text: Buffer.concat(carry).toString('utf8'), complete: true };
        carry = [];
        from = nl + 1;
      }
      if (from < n) carry.push(Buffer.from(buf.subarray(from, n)));
    }
    if (carry.length) yield { text: Buffer.concat(carry).toString('utf8'), complete: false };
  } finally {
    closeSync(fd);
  }
}

export function verifyAuditFile(path: string, opts: VerifyOptions = {}): VerifyResult {
  let lineNo = 0;
  let records = 0;
  let expectSeq = 1;
  let prev = GENESIS;
  let anchorSeen = false;
  const bad = (reason: string): VerifyResult => ({ ok: false, records, firstBad: { line: lineNo, reason } });
  for (const { text, complete } of lines(path)) {
    lineNo++;
    if (!complete) return bad('truncated: the last record is incomplete');
    if (text === '') return bad('blank line where a record should be');
    const r = checkLine(text);
    if ('reason' in r) return bad(r.reason);
    const { seq, hash } = r.record;
    if (seq > expectSeq) {
      return bad(expectSeq === seq - 1
        ? `record ${expectSeq} is missing (deleted)`
        : `records ${expectSeq}..${seq - 1} are missing (deleted)`);
    }
    if (seq < expectSeq) return bad(`record ${seq} is out of order (reordered or duplicated; expected ${expectSeq})`);
    if (r.record.prev !== prev) {
      return bad('chain broken: prev does not match the hash of the record before (deleted, reordered or replaced)');
    }
    if (opts.anchor && seq === opts.anchor.seq) {
      if (hash !== opts.anchor.hash) return bad(`record ${seq} does not match the anchor hash (replaced)`);
      anchorSeen = true;
    }
    records++;
    expectSeq = seq + 1;
    prev = hash;
  }
  if (opts.anchor && !anchorSeen) {
    lineNo++;
    return bad(`records from ${expectSeq} to at least ${opts.anchor.seq} are missing (truncated)`);
  }
  return { ok: true, records };
}
