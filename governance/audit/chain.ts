/**
 * The audit hash chain, shared by the writer (log.ts) and the checker
 * (verify.ts). A record is one JSON line:
 *
 *   {"kind":"audit","seq":N,"prev":"<hash of record N-1>", …event…, "hash":"<hex>"}
 *
 * `hash` = SHA-256 of the exact line text without its `hash` member (the
 * writer serializes once with JSON.stringify and appends the hash last). The first record of a file has
 * seq 1 and prev = GENESIS. Because the line must equal the JSON.stringify of
 * its own parse, any byte edit (even whitespace or a duplicated key) breaks it.
 */
import { hash } from 'node:crypto';

export const GENESIS = '0'.repeat(64);

/** Fields the chain adds to every AuditEvent. */
export interface ChainFields {
  readonly kind: 'audit';
  readonly seq: number;
  readonly prev: string;
  readonly hash: string;
}

export function sha256Hex(text: string | Uint8Array): string {
  // The one-shot form: half the cost of a Hash object per record (one record per statement).
  return hash('sha256', text, 'hex');
}

/** Checks one line on its own; returns the parsed record or the reason it is broken. */
export function checkLine(line: string): { record: ChainFields & Record<string, unknown> } | { reason: string } {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch {
    return { reason: 'not valid JSON (truncated or edited)' };
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return { reason: 'not a JSON object' };
  const rec = obj as Record<string, unknown>;
  if (rec.kind !== 'audit') return { reason: 'not an audit record' };
  if (!Number.isSafeInteger(rec.seq) || (rec.seq as number) < 1) return { reason: 'bad seq' };
  if (typeof rec.prev !== 'string' || !/^[0-9a-f]{64}$/.test(rec.prev)) return { reason: 'bad prev' };
  if (typeof rec.hash !== 'string' || !/^[0-9a-f]{64}$/.test(rec.hash)) return { reason: 'bad hash' };
  if (JSON.stringify(rec) !== line) return { reason: 'record text was altered (not in its written form)' };
  const { hash, ...rest } = rec;
  if (Object.keys(rec).at(-1) !== 'hash') return { reason: 'hash is not the last member' };
  if (sha256Hex(JSON.stringify(rest)) !== hash) return { reason: 'hash does not match the record (edited)' };
  return { record: rec as ChainFields & Record<string, unknown> };
}
