/**
 * Turning a MaskDirective into the value the client sees. Works on the
 * field's text as the server would print it, by Unicode code points.
 * Shared by both database doors, so a column masks the same way on each.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { MaskDirective } from '../governance/decision.js';
import type { FieldRewrite } from '../wire/mysql/row-rewrite.js';

let processKey: Buffer | undefined;

const ASCII = /^[\x00-\x7f]*$/;

/** The keyed-hash key: the policy's `mask_key_env` variable, else a random per-process key. */
export function maskKey(envName: string | undefined): Buffer {
  const fromEnv = envName ? process.env[envName] : undefined;
  if (fromEnv) return Buffer.from(fromEnv, 'utf8');
  processKey ??= randomBytes(32);
  return processKey;
}

/** `138****5678`: keep the ends, replace the middle (everything, when the value is too short to keep ends). */
export function partialMask(text: string, keepFirst: number, keepLast: number, maskChar: string): string {
  // Most masked values (phones, ids, cards) are ASCII: one code unit per code point, no array needed.
  if (ASCII.test(text)) {
    const n = text.length;
    if (n <= keepFirst + keepLast) return maskChar.repeat(n);
    return text.slice(0, keepFirst) + maskChar.repeat(n - keepFirst - keepLast) + text.slice(n - keepLast);
  }
  const chars = [...text];
  if (chars.length <= keepFirst + keepLast) return maskChar.repeat(chars.length);
  return chars.slice(0, keepFirst).join('') + maskChar.repeat(chars.length - keepFirst - keepLast) + chars.slice(chars.length - keepLast).join('');
}

/** The rewrite for one masked output; NULL stays NULL except that `null` masks everything to NULL. */
export function fieldMask(d: MaskDirective, key: Buffer): FieldRewrite {
  switch (d.kind) {
    case 'null': return () => null;
    case 'alias': return (t) => (t === null ? null : d.alias);
    case 'hash': return (t) => (t === null ? null : createHmac('sha256', key).update(t, 'utf8').digest('hex').slice(0, 16));
    case 'partial': {
      const f = (t: string | null) => (t === null ? null : partialMask(t, d.keepFirst, d.keepLast, d.maskChar));
      const c = d.maskChar.length === 1 ? d.maskChar.charCodeAt(0) : -1;
      if (c < 0 || c > 0x7f) return f;
      // ASCII text with a one-byte mask character keeps its length: masked over its bytes, as partialMask would.
      const { keepFirst, keepLast } = d;
      return Object.assign(f, {
        asciiInPlace: (buf: Buffer, start: number, end: number) => {
          const keep = end - start > keepFirst + keepLast;
          // A loop: for a field's few bytes, Buffer#fill costs more than the writes.
          for (let i = keep ? start + keepFirst : start, to = keep ? end - keepLast : end; i < to; i++) buf[i] = c;
        },
      });
    }
  }
}
