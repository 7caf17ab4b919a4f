/**
 * Reads the few things sqlgate needs from a server's messages while relaying
 * them as bytes: completion tags and row counts, transaction status,
 * parameter status, cancel keys, error fields, authentication requests.
 * Reference: https://www.postgresql.org/docs/15/protocol-message-formats.html
 */
import { SqlgateError } from '../../governance/errors.js';
import type { ErrorFields, TransactionStatus } from './messages.js';

function cstringAt(body: Buffer, offset: number): [string, number] {
  const end = body.indexOf(0, offset);
  if (end < 0) throw new SqlgateError('PROTOCOL_VIOLATION', 'upstream message: missing string terminator');
  return [body.toString('utf8', offset, end), end + 1];
}

/** CommandComplete: the tag, e.g. `SELECT 3`, `INSERT 0 1`. */
export function parseCommandComplete(body: Buffer): string {
  return cstringAt(body, 0)[0];
}

/** Rows a completion tag reports, split into returned (SELECT, FETCH, COPY out) and affected. */
export interface TagRows {
  readonly command: string;
  readonly rows: number | undefined;
}

/** `INSERT 0 5` → {INSERT, 5}; `SELECT 3` → {SELECT, 3}; `CREATE TABLE` → {CREATE TABLE, undefined}. */
export function tagRows(tag: string): TagRows {
  const m = /^(INSERT) \d+ (\d+)$|^(SELECT|UPDATE|DELETE|MERGE|FETCH|MOVE|COPY) (\d+)$/.exec(tag);
  if (!m) return { command: tag, rows: undefined };
  return m[1] ? { command: m[1], rows: Number(m[2]) } : { command: m[3], rows: Number(m[4]) };
}

/** Each RowDescription field's source: relation OID and attribute number (0, 0 for a computed column). */
export function rowDescriptionOrigins(body: Buffer): { tableOid: number; attnum: number }[] {
  const n = body.readInt16BE(0);
  const out: { tableOid: number; attnum: number }[] = [];
  let o = 2;
  for (let i = 0; i < n; i++) {
    o = body.indexOf(0, o) + 1;
    out.push({ tableOid: body.readUInt32BE(o), attnum: body.readInt16BE(o + 4) });
    o += 4 + 2 + 4 + 2 + 4 + 2;
  }
  return out;
}

/** Each RowDescription field's name and type OID. */
export function rowDescriptionFields(body: Buffer): { name: string; typeOid: number }[] {
  const n = body.readInt16BE(0);
  const out: { name: string; typeOid: number }[] = [];
  let o = 2;
  for (let i = 0; i < n; i++) {
    const end = body.indexOf(0, o);
    const name = body.toString('utf8', o, end);
    o = end + 1;
    out.push({ name, typeOid: body.readUInt32BE(o + 6) });
    o += 4 + 2 + 4 + 2 + 4 + 2;
  }
  return out;
}

export function parseReadyForQuery(body: Buffer): TransactionStatus {
  const s = String.fromCharCode(body[0]);
  if (s !== 'I' && s !== 'T' && s !== 'E') throw new SqlgateError('PROTOCOL_VIOLATION', 'upstream ReadyForQuery: bad status');
  return s;
}

export function parseParameterStatus(body: Buffer): { name: string; value: string } {
  const [name, next] = cstringAt(body, 0);
  const [value] = cstringAt(body, next);
  return { name, value };
}

export function parseBackendKeyData(body: Buffer): { processId: number; secretKey: number } {
  if (body.length !== 8) throw new SqlgateError('PROTOCOL_VIOLATION', 'upstream BackendKeyData: bad length');
  return { processId: body.readInt32BE(0), secretKey: body.readInt32BE(4) };
}

/** ErrorResponse / NoticeResponse fields by their one-letter codes. */
export function parseErrorFields(body: Buffer): ErrorFields & { readonly all: ReadonlyMap<string, string> } {
  const all = new Map<string, string>();
  let offset = 0;
  while (offset < body.length && body[offset] !== 0) {
    const code = String.fromCharCode(body[offset]);
    const [value, next] = cstringAt(body, offset + 1);
    all.set(code, value);
    offset = next;
  }
  return {
    severity: all.get('V') ?? all.get('S') ?? 'ERROR', code: all.get('C') ?? 'XX000', message: all.get('M') ?? '',
    detail: all.get('D'), hint: all.get('H'), all,
  };
}

/** Authentication request: its sub-code and the rest (salt, mechanisms, SASL data). */
export function parseAuthentication(body: Buffer): { code: number; data: Buffer } {
  if (body.length < 4) throw new SqlgateError('PROTOCOL_VIOLATION', 'upstream Authentication: too short');
  return { code: body.readInt32BE(0), data: body.subarray(4) };
}

/** SASL mechanisms listed in AuthenticationSASL. */
export function parseSaslMechanisms(data: Buffer): string[] {
  const out: string[] = [];
  let offset = 0;
  while (offset < data.length && data[offset] !== 0) {
    const [m, next] = cstringAt(data, offset);
    out.push(m);
    offset = next;
  }
  return out;
}
