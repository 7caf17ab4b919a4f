/**
 * Server side of the PostgreSQL protocol: parses what a client sends.
 * (pg-protocol parses only what a server sends; this is the other half.)
 * Reference: https://www.postgresql.org/docs/15/protocol-message-formats.html
 */
import { SqlgateError } from '../../governance/errors.js';
import {
  CANCEL_REQUEST_CODE, FrontendCode, GSSENC_REQUEST_CODE, PROTOCOL_3_0, SSL_REQUEST_CODE,
  type Frame, type FrontendMessage, type SaslInitialResponse, type StartupPacket,
} from './messages.js';

function violation(message: string): SqlgateError {
  return new SqlgateError('PROTOCOL_VIOLATION', message);
}

/** A cursor over one message body; every read is bounds-checked. */
class BodyReader {
  private offset = 0;
  constructor(private readonly buf: Buffer) {}

  int16(): number {
    if (this.offset + 2 > this.buf.length) throw violation('message too short');
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  int32(): number {
    if (this.offset + 4 > this.buf.length) throw violation('message too short');
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  byte(): number {
    if (this.offset + 1 > this.buf.length) throw violation('message too short');
    return this.buf[this.offset++];
  }

  cstring(): string {
    const end = this.buf.indexOf(0, this.offset);
    if (end < 0) throw violation('missing string terminator');
    const s = this.buf.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return s;
  }

  bytes(n: number): Buffer {
    if (n < 0 || this.offset + n > this.buf.length) throw violation('message too short');
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  end(): void {
    if (this.offset !== this.buf.length) throw violation('trailing bytes in message');
  }
}

/** Parses an untyped startup-phase packet body (after its length). */
export function parseStartupPacket(body: Buffer): StartupPacket {
  const r = new BodyReader(body);
  const code = r.int32();
  switch (code) {
    case SSL_REQUEST_CODE:
      r.end();
      return { kind: 'ssl-request' };
    case GSSENC_REQUEST_CODE:
      r.end();
      return { kind: 'gssenc-request' };
    case CANCEL_REQUEST_CODE: {
      const processId = r.int32();
      const secretKey = r.int32();
      r.end();
      return { kind: 'cancel-request', processId, secretKey };
    }
  }
  if (code >>> 16 !== 3) throw violation(`unsupported frontend protocol ${code >>> 16}.${code & 0xffff}`);
  const params = new Map<string, string>();
  for (;;) {
    if (r.remaining === 0) throw violation('startup packet has no terminator');
    const name = r.cstring();
    if (name === '') break;
    if (params.has(name)) throw violation(`duplicate startup parameter "${name}"`);
    params.set(name, r.cstring());
  }
  r.end();
  return { kind: 'startup', protocolVersion: code, params };
}

/** True for protocol 3.0 exactly; 3.x minor versions are answered with NegotiateProtocolVersion. */
export function isProtocol30(version: number): boolean {
  return version === PROTOCOL_3_0;
}

/** Parses a typed frontend message. Unknown types are a protocol violation. */
export function parseFrontendMessage(frame: Frame): FrontendMessage {
  const r = new BodyReader(frame.body);
  let msg: FrontendMessage;
  switch (frame.type) {
    case FrontendCode.Query:
      msg = { kind: 'query', sql: r.cstring() };
      break;
    case FrontendCode.Parse: {
      const name = r.cstring();
      const sql = r.cstring();
      const n = r.int16();
      if (n < 0) throw violation('negative parameter count');
      const paramTypes: number[] = [];
      for (let i = 0; i < n; i++) paramTypes.push(r.int32() >>> 0);
      msg = { kind: 'parse', name, sql, paramTypes };
      break;
    }
    case FrontendCode.Bind: {
      const portal = r.cstring();
      const statement = r.cstring();
      // The rest (formats, values, result formats) is relayed untouched, but
      // still checked so a malformed Bind never reaches the server.
      const nf = r.int16();
      if (nf < 0) throw violation('negative format count');
      r.bytes(nf * 2);
      const nv = r.int16();
      if (nv < 0) throw violation('negative parameter count');
      for (let i = 0; i < nv; i++) {
        const len = r.int32();
        if (len < -1) throw violation('invalid parameter length');
        if (len > 0) r.bytes(len);
      }
      const nr = r.int16();
      if (nr < 0) throw violation('negative result format count');
      const resultFormats: number[] = [];
      for (let i = 0; i < nr; i++) resultFormats.push(r.int16());
      msg = { kind: 'bind', portal, statement, resultFormats };
      break;
    }
    case FrontendCode.Describe:
    case FrontendCode.Close: {
      const t = r.byte();
      if (t !== 0x53 && t !== 0x50) throw violation(`invalid ${frame.type === FrontendCode.Close ? 'Close' : 'Describe'} target`);
      const name = r.cstring();
      msg = { kind: frame.type === FrontendCode.Close ? 'close' : 'describe', target: t === 0x53 ? 'S' : 'P', name };
      break;
    }
    case FrontendCode.Execute: {
      const portal = r.cstring();
      const maxRows = r.int32();
      msg = { kind: 'execute', portal, maxRows };
      break;
    }
    case FrontendCode.Sync:
      msg = { kind: 'sync' };
      break;
    case FrontendCode.Flush:
      msg = { kind: 'flush' };
      break;
    case FrontendCode.CopyData:
      return { kind: 'copy-data', data: frame.body };
    case FrontendCode.CopyDone:
      msg = { kind: 'copy-done' };
      break;
    case FrontendCode.CopyFail:
      msg = { kind: 'copy-fail', message: r.cstring() };
      break;
    case FrontendCode.FunctionCall:
      return { kind: 'function-call' };
    case FrontendCode.Terminate:
      msg = { kind: 'terminate' };
      break;
    case FrontendCode.Password:
      return { kind: 'password', body: frame.body };
    default:
      throw violation(`invalid frontend message type ${frame.type}`);
  }
  r.end();
  return msg;
}

/** Decodes a PasswordMessage body: the password as a string. */
export function parsePasswordMessage(body: Buffer): string {
  const r = new BodyReader(body);
  const pw = r.cstring();
  r.end();
  return pw;
}

/** Decodes a SASLInitialResponse body. */
export function parseSaslInitialResponse(body: Buffer): SaslInitialResponse {
  const r = new BodyReader(body);
  const mechanism = r.cstring();
  const len = r.int32();
  const data = len === -1 ? undefined : r.bytes(len);
  r.end();
  return { mechanism, data };
}
