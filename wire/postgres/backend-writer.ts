/**
 * Server side of the PostgreSQL protocol: builds what a server sends.
 * Fixed messages are built once at module load.
 * Reference: https://www.postgresql.org/docs/15/protocol-message-formats.html
 */
import { AuthCode, BackendCode, type ErrorFields, type TransactionStatus } from './messages.js';
import { InPlaceRow, OutBatch, copyBytes, type FieldRewrite } from '../out-batch.js';

/** A growable writer for one message at a time: type byte, length back-filled. */
class MessageWriter {
  private buf = Buffer.allocUnsafe(256);
  private offset = 0;

  private ensure(n: number): void {
    if (this.offset + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.offset + n));
    this.buf.copy(next, 0, 0, this.offset);
    this.buf = next;
  }

  start(type: number): this {
    this.offset = 0;
    this.ensure(5);
    this.buf[0] = type;
    this.offset = 5;
    return this;
  }

  int16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.offset);
    this.offset += 2;
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v | 0, this.offset);
    this.offset += 4;
    return this;
  }

  byte(v: number): this {
    this.ensure(1);
    this.buf[this.offset++] = v;
    return this;
  }

  cstring(s: string): this {
    const n = Buffer.byteLength(s, 'utf8');
    this.ensure(n + 1);
    this.buf.write(s, this.offset, 'utf8');
    this.offset += n;
    this.buf[this.offset++] = 0;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.offset);
    this.offset += b.length;
    return this;
  }

  /** The finished message, as a fresh buffer. */
  end(): Buffer {
    this.buf.writeInt32BE(this.offset - 1, 1);
    return Buffer.from(this.buf.subarray(0, this.offset));
  }
}

const w = new MessageWriter();

function fixed(type: number, body: number[] = []): Buffer {
  const b = Buffer.alloc(5 + body.length);
  b[0] = type;
  b.writeInt32BE(4 + body.length, 1);
  b.set(body, 5);
  return b;
}

export const AUTHENTICATION_OK = w.start(BackendCode.Authentication).int32(AuthCode.Ok).end();
export const AUTHENTICATION_CLEARTEXT = w.start(BackendCode.Authentication).int32(AuthCode.CleartextPassword).end();
/** Offers SCRAM-SHA-256 only: sqlgate terminates TLS, so channel binding (-PLUS) cannot be honoured. */
export const AUTHENTICATION_SASL_SCRAM = w.start(BackendCode.Authentication).int32(AuthCode.SASL).cstring('SCRAM-SHA-256').byte(0).end();
export const PARSE_COMPLETE = fixed(BackendCode.ParseComplete);
export const BIND_COMPLETE = fixed(BackendCode.BindComplete);
export const CLOSE_COMPLETE = fixed(BackendCode.CloseComplete);
export const NO_DATA = fixed(BackendCode.NoData);
export const PORTAL_SUSPENDED = fixed(BackendCode.PortalSuspended);
export const EMPTY_QUERY_RESPONSE = fixed(BackendCode.EmptyQueryResponse);
export const COPY_DONE = fixed(BackendCode.CopyDone);
const READY: Record<TransactionStatus, Buffer> = {
  I: fixed(BackendCode.ReadyForQuery, [0x49]),
  T: fixed(BackendCode.ReadyForQuery, [0x54]),
  E: fixed(BackendCode.ReadyForQuery, [0x45]),
};
/** Single-byte answers to SSLRequest / GSSENCRequest. */
export const SSL_ACCEPT = Buffer.from('S');
export const SSL_DECLINE = Buffer.from('N');

export function readyForQuery(status: TransactionStatus): Buffer {
  return READY[status];
}

export function authenticationMd5(salt: Buffer): Buffer {
  return w.start(BackendCode.Authentication).int32(AuthCode.MD5Password).bytes(salt).end();
}

export function authenticationSaslContinue(data: string): Buffer {
  return w.start(BackendCode.Authentication).int32(AuthCode.SASLContinue).bytes(Buffer.from(data, 'utf8')).end();
}

export function authenticationSaslFinal(data: string): Buffer {
  return w.start(BackendCode.Authentication).int32(AuthCode.SASLFinal).bytes(Buffer.from(data, 'utf8')).end();
}

export function parameterStatus(name: string, value: string): Buffer {
  return w.start(BackendCode.ParameterStatus).cstring(name).cstring(value).end();
}

export function backendKeyData(processId: number, secretKey: number): Buffer {
  return w.start(BackendCode.BackendKeyData).int32(processId).int32(secretKey).end();
}

/** Answers a StartupMessage asking for protocol 3.x with x > 0: we speak 3.0, and list unknown `_pq_.` options. */
export function negotiateProtocolVersion(minor: number, unrecognised: readonly string[]): Buffer {
  w.start(BackendCode.NegotiateProtocolVersion).int32(minor).int32(unrecognised.length);
  for (const o of unrecognised) w.cstring(o);
  return w.end();
}

function fields(type: number, f: ErrorFields): Buffer {
  // S is the localized severity, V the non-localized one (since 9.6); both are sent as servers do.
  w.start(type).byte(0x53).cstring(f.severity).byte(0x56).cstring(f.severity).byte(0x43).cstring(f.code).byte(0x4d).cstring(f.message);
  if (f.detail !== undefined) w.byte(0x44).cstring(f.detail);
  if (f.hint !== undefined) w.byte(0x48).cstring(f.hint);
  return w.byte(0).end();
}

/** An ErrorResponse with every field of `all` as the server sent it, but `replace`d ones. */
export function errorResponseFrom(all: ReadonlyMap<string, string>, replace: ReadonlyMap<string, string>): Buffer {
  w.start(BackendCode.ErrorResponse);
  for (const [code, value] of all) w.byte(code.charCodeAt(0)).cstring(replace.get(code) ?? value);
  return w.byte(0).end();
}

export function errorResponse(f: ErrorFields): Buffer {
  return fields(BackendCode.ErrorResponse, f);
}

export function noticeResponse(f: ErrorFields): Buffer {
  return fields(BackendCode.NoticeResponse, f);
}

export function commandComplete(tag: string): Buffer {
  return w.start(BackendCode.CommandComplete).cstring(tag).end();
}

/** A column of a synthesized RowDescription (text format, type by OID). */
export interface SyntheticColumn {
  readonly name: string;
  readonly typeOid: number;
  /** pg_type.typlen: -1 for varlena types such as text. */
  readonly typeSize?: number;
}

export function rowDescription(columns: readonly SyntheticColumn[]): Buffer {
  w.start(BackendCode.RowDescription).int16(columns.length);
  for (const c of columns) {
    w.cstring(c.name).int32(0).int16(0).int32(c.typeOid).int16(c.typeSize ?? -1).int32(-1).int16(0);
  }
  return w.end();
}

/** A DataRow of text values; null is SQL NULL. */
export function dataRow(values: readonly (string | Buffer | null)[]): Buffer {
  w.start(BackendCode.DataRow).int16(values.length);
  for (const v of values) {
    if (v === null) {
      w.int32(-1);
    } else {
      const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
      w.int32(b.length).bytes(b);
    }
  }
  return w.end();
}

/** OID of `text`: masked columns are described as text, since masked values are text. */
export const TEXT_OID = 25;

/**
 * RowDescription with the given columns re-described as `text` (type OID, size
 * and modifier), everything else (names, table OIDs, formats) as received.
 */
export function rewriteRowDescription(body: Buffer, columns: ReadonlySet<number>): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out[0] = BackendCode.RowDescription;
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  const n = body.readInt16BE(0);
  let o = 2;
  for (let i = 0; i < n; i++) {
    const end = body.indexOf(0, o);
    o = end + 1 + 6; // name, table OID, attribute number
    if (columns.has(i)) {
      out.writeInt32BE(TEXT_OID, 5 + o);
      out.writeInt16BE(-1, 5 + o + 4);
      out.writeInt32BE(-1, 5 + o + 6);
    }
    o += 4 + 2 + 4 + 2; // type OID, size, modifier, format
  }
  return out;
}

/** A DataRow with some fields replaced (text values; null is SQL NULL); the others copied as received. */
export function rewriteDataRow(body: Buffer, rewrite: ReadonlyMap<number, (text: string | null) => string | null>): Buffer {
  const byIndex: ((text: string | null) => string | null)[] = [];
  for (const [i, f] of rewrite) byIndex[i] = f;
  const out = new OutBatch();
  encodeRewrittenDataRow(out, body, byIndex);
  return Buffer.concat(out.take());
}

const replaced: (string | null)[] = [];
const replacedLengths: number[] = [];

/**
 * Appends a DataRow with some fields replaced straight into `out` (the
 * result of one rewrite function per field index; a missing one keeps the
 * field). Untouched fields are copied as bytes, in spans between the
 * rewritten ones; the row is built once, where it will be sent from.
 */
export function encodeRewrittenDataRow(out: OutBatch, body: Buffer, rewrites: readonly (FieldRewrite | undefined)[]): void {
  if (encodeInPlace(out, body, rewrites)) return;
  const n = body.readInt16BE(0);
  replaced.length = 0;
  replacedLengths.length = 0;
  let size = 1 + 4 + body.length;
  let o = 2;
  for (let i = 0; i < n; i++) {
    const len = body.readInt32BE(o);
    o += 4;
    const f = rewrites[i];
    if (f) {
      const t = f(len < 0 ? null : body.toString('utf8', o, o + len));
      const bl = t === null ? -1 : Buffer.byteLength(t, 'utf8');
      size += Math.max(bl, 0) - Math.max(len, 0);
      replaced.push(t);
      replacedLengths.push(bl);
    }
    if (len > 0) o += len;
  }
  const buf = out.room(size);
  let w = out.at;
  buf[w] = BackendCode.DataRow;
  buf.writeInt32BE(size - 1, w + 1);
  w += 5;
  let span = 0;
  let k = 0;
  o = 2;
  for (let i = 0; i < n; i++) {
    const field = o;
    const len = body.readInt32BE(o);
    o += 4 + Math.max(len, 0);
    if (!rewrites[i]) continue;
    w += copyBytes(body, span, field, buf, w);
    const bl = replacedLengths[k];
    buf.writeInt32BE(bl, w);
    w += 4;
    if (bl > 0) w += buf.write(replaced[k]!, w, 'utf8');
    k++;
    span = o;
  }
  w += copyBytes(body, span, body.length, buf, w);
  out.at = w;
}

const inPlace = new InPlaceRow();

/**
 * The common case of a masked row: every rewritten field is NULL or ASCII
 * with a same-length rewrite. The row is copied once and masked in place.
 * false (nothing written) when any rewritten field is not such a field.
 */
function encodeInPlace(out: OutBatch, body: Buffer, rewrites: readonly (FieldRewrite | undefined)[]): boolean {
  inPlace.reset();
  const n = body.readInt16BE(0);
  let o = 2;
  for (let i = 0; i < n; i++) {
    const len = body.readInt32BE(o);
    const start = o + 4;
    o = start + Math.max(len, 0);
    const f = rewrites[i];
    if (f && !inPlace.field(f, body, start, len < 0 ? -1 : o)) return false;
  }
  const buf = out.room(5 + body.length);
  const w = out.at;
  buf[w] = BackendCode.DataRow;
  buf.writeInt32BE(4 + body.length, w + 1);
  copyBytes(body, 0, body.length, buf, w + 5);
  inPlace.apply(buf, w + 5);
  out.at = w + 5 + body.length;
  return true;
}
