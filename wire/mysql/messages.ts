/**
 * Generic response packets: OK, ERR, EOF (builders for the server side,
 * parsers for the client side).
 * Reference: https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_ok_packet.html,
 * page_protocol_basic_err_packet.html, page_protocol_basic_eof_packet.html.
 */
import { Header, Status } from './constants.js';
import { PacketWriter } from './packet-writer.js';
import { PayloadReader, WireError } from './packet-reader.js';

/** An OK packet's fields. */
export interface OkPacket {
  readonly affectedRows: number;
  readonly lastInsertId: number;
  readonly status: number;
  readonly warnings: number;
  readonly info: string;
}

/** An ERR packet's fields. */
export interface ErrPacket {
  readonly errno: number;
  readonly sqlstate: string;
  readonly message: string;
}

/** An EOF packet's fields. */
export interface EofPacket {
  readonly warnings: number;
  readonly status: number;
}

const writer = new PacketWriter(256);

/** OK packet (0x00 header, or 0xFE when it stands in for EOF under CLIENT_DEPRECATE_EOF). */
export function buildOk(seq: number, fields: Partial<OkPacket> = {}, asEof = false): Buffer {
  writer.u8(asEof ? Header.EOF : Header.OK)
    .lenenc(fields.affectedRows ?? 0)
    .lenenc(fields.lastInsertId ?? 0)
    .u16(fields.status ?? Status.AUTOCOMMIT)
    .u16(fields.warnings ?? 0);
  if (fields.info) writer.string(fields.info);
  return writer.finish(seq);
}

/** ERR packet with errno, `#` + five-character SQLSTATE, and the message. */
export function buildErr(seq: number, errno: number, sqlstate: string, message: string): Buffer {
  const state = /^[0-9A-Z]{5}$/.test(sqlstate) ? sqlstate : 'HY000';
  return writer.u8(Header.ERR).u16(errno).string('#').string(state).string(message).finish(seq);
}

/** EOF packet (protocol 4.1 form). */
export function buildEof(seq: number, status: number = Status.AUTOCOMMIT, warnings = 0): Buffer {
  return writer.u8(Header.EOF).u16(warnings).u16(status).finish(seq);
}

/** Parses an OK packet payload (header 0x00 or 0xFE). */
export function parseOk(payload: Buffer): OkPacket {
  const r = new PayloadReader(payload, 1);
  const affectedRows = r.lenenc();
  const lastInsertId = r.lenenc();
  const status = r.remaining >= 2 ? r.u16() : 0;
  const warnings = r.remaining >= 2 ? r.u16() : 0;
  const info = r.rest().toString('utf8');
  return { affectedRows, lastInsertId, status, warnings, info };
}

/** Parses an ERR packet payload (header 0xFF). */
export function parseErr(payload: Buffer): ErrPacket {
  if (payload[0] !== Header.ERR) throw new WireError('not an ERR packet');
  const r = new PayloadReader(payload, 1);
  const errno = r.u16();
  let sqlstate = 'HY000';
  if (r.remaining > 0 && payload[r.pos] === 0x23 /* # */) {
    r.skip(1);
    sqlstate = r.bytes(Math.min(5, r.remaining)).toString('latin1');
  }
  return { errno, sqlstate, message: r.rest().toString('utf8') };
}

/** Parses an EOF packet payload. */
export function parseEof(payload: Buffer): EofPacket {
  const r = new PayloadReader(payload, 1);
  const warnings = r.remaining >= 2 ? r.u16() : 0;
  const status = r.remaining >= 2 ? r.u16() : 0;
  return { warnings, status };
}

/** True for an EOF packet, or an OK packet standing in for one, as opposed to a row starting with 0xFE. */
export function isEofLike(payload: Buffer, deprecateEof: boolean): boolean {
  return payload.length > 0 && payload[0] === Header.EOF && (deprecateEof ? payload.length < 0xffffff : payload.length < 9);
}
