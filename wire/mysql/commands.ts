/**
 * Command phase: parsing what a client sends (we act as the server) and
 * building the few commands sqlgate itself sends upstream.
 * Reference: https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_command_phase.html
 * (page_protocol_com_query.html incl. query attributes, page_protocol_com_stmt_execute.html,
 * page_protocol_com_change_user.html, page_protocol_binary_resultset.html for value sizes).
 */
import { Cap, Com, Type } from './constants.js';
import { PacketWriter } from './packet-writer.js';
import { PayloadReader, WireError } from './packet-reader.js';

/** A query attribute (CLIENT_QUERY_ATTRIBUTES): name, type and raw binary value (null for NULL). */
export interface QueryAttribute {
  readonly name: string;
  readonly type: number;
  readonly value: Buffer | null;
}

/** A parsed client command. Byte fields are views over the payload. */
export type Command =
  | { readonly kind: 'query'; readonly sql: string; readonly attributes: readonly QueryAttribute[] }
  | { readonly kind: 'init-db'; readonly database: string }
  | { readonly kind: 'ping' }
  | { readonly kind: 'quit' }
  | { readonly kind: 'statistics' }
  | { readonly kind: 'reset-connection' }
  | { readonly kind: 'process-kill'; readonly id: number }
  | { readonly kind: 'field-list'; readonly table: string; readonly wildcard: string }
  | { readonly kind: 'set-option'; readonly option: number }
  | { readonly kind: 'stmt-prepare'; readonly sql: string }
  | { readonly kind: 'stmt-execute'; readonly id: number; readonly flags: number }
  | { readonly kind: 'stmt-close'; readonly id: number }
  | { readonly kind: 'stmt-reset'; readonly id: number }
  | { readonly kind: 'stmt-send-long-data'; readonly id: number; readonly param: number }
  | { readonly kind: 'stmt-fetch'; readonly id: number; readonly rows: number }
  | { readonly kind: 'change-user'; readonly user: string; readonly authData: Buffer; readonly database: string | undefined; readonly collation: number | undefined; readonly plugin: string | undefined }
  | { readonly kind: 'unsupported'; readonly code: number };

/** COM_STMT_EXECUTE flag: parameter_count is sent (with CLIENT_QUERY_ATTRIBUTES). */
export const PARAMETER_COUNT_AVAILABLE = 0x08;

/** Skips one binary-protocol value of the given type and returns it. */
export function readBinaryValue(r: PayloadReader, type: number): Buffer {
  const start = r.pos;
  switch (type & 0xff) {
    case Type.NULL: break;
    case Type.TINY: r.skip(1); break;
    case Type.SHORT: case Type.YEAR: r.skip(2); break;
    case Type.LONG: case Type.INT24: case Type.FLOAT: r.skip(4); break;
    case Type.LONGLONG: case Type.DOUBLE: r.skip(8); break;
    case Type.DATE: case Type.DATETIME: case Type.TIMESTAMP: case Type.TIME:
    case Type.DATETIME2: case Type.TIMESTAMP2: case Type.TIME2:
      r.skip(r.u8()); break;
    default: r.skip(r.lenenc());
  }
  return r.buf.subarray(start, r.pos);
}

function parseAttributes(r: PayloadReader): QueryAttribute[] {
  const count = r.lenenc();
  r.lenenc(); // parameter_set_count, always 1
  if (count === 0) return [];
  if (count > r.remaining) throw new WireError('query attribute count overruns the packet');
  const nulls = r.bytes((count + 7) >> 3);
  const bind = r.u8();
  if (bind !== 1) throw new WireError('query attributes without types');
  const meta: { type: number; name: string }[] = [];
  for (let i = 0; i < count; i++) meta.push({ type: r.u16(), name: r.lenencString() });
  return meta.map((m, i) => ({
    name: m.name, type: m.type,
    value: nulls[i >> 3] & (1 << (i & 7)) ? null : readBinaryValue(r, m.type),
  }));
}

/** Parses one command packet payload; `capabilities` are those negotiated with this client. */
export function parseCommand(payload: Buffer, capabilities: number): Command {
  if (payload.length === 0) throw new WireError('empty command packet');
  const r = new PayloadReader(payload, 1);
  switch (payload[0]) {
    case Com.QUERY: {
      const attributes = capabilities & Cap.QUERY_ATTRIBUTES ? parseAttributes(r) : [];
      return { kind: 'query', sql: r.rest().toString('utf8'), attributes };
    }
    case Com.INIT_DB: return { kind: 'init-db', database: r.rest().toString('utf8') };
    case Com.PING: return { kind: 'ping' };
    case Com.QUIT: return { kind: 'quit' };
    case Com.STATISTICS: return { kind: 'statistics' };
    case Com.RESET_CONNECTION: return { kind: 'reset-connection' };
    case Com.PROCESS_KILL: return { kind: 'process-kill', id: r.u32() };
    case Com.FIELD_LIST: {
      const table = r.nulString();
      return { kind: 'field-list', table, wildcard: r.rest().toString('utf8') };
    }
    case Com.SET_OPTION: return { kind: 'set-option', option: r.u16() };
    case Com.STMT_PREPARE: return { kind: 'stmt-prepare', sql: r.rest().toString('utf8') };
    case Com.STMT_EXECUTE: {
      const id = r.u32();
      const flags = r.u8();
      r.u32(); // iteration count, always 1
      return { kind: 'stmt-execute', id, flags };
    }
    case Com.STMT_CLOSE: return { kind: 'stmt-close', id: r.u32() };
    case Com.STMT_RESET: return { kind: 'stmt-reset', id: r.u32() };
    case Com.STMT_SEND_LONG_DATA: return { kind: 'stmt-send-long-data', id: r.u32(), param: r.u16() };
    case Com.STMT_FETCH: return { kind: 'stmt-fetch', id: r.u32(), rows: r.u32() };
    case Com.CHANGE_USER: {
      const user = r.nulBytesStrict().toString('utf8');
      const authData = capabilities & Cap.SECURE_CONNECTION ? r.bytes(r.u8()) : r.nulBytes();
      const database = r.remaining > 0 ? r.nulString() || undefined : undefined;
      const collation = r.remaining >= 2 ? r.u16() : undefined;
      const plugin = capabilities & Cap.PLUGIN_AUTH && r.remaining > 0 ? r.nulString() : undefined;
      // Connection attributes may follow; sqlgate does not use them.
      return { kind: 'change-user', user, authData, database, collation, plugin };
    }
    default:
      return { kind: 'unsupported', code: payload[0] };
  }
}

const writer = new PacketWriter(256);

/** COM_QUERY as sqlgate sends it upstream (no attributes unless `withAttributeHeader`). */
export function buildQuery(sql: string, withAttributeHeader = false): Buffer {
  writer.u8(Com.QUERY);
  if (withAttributeHeader) writer.lenenc(0).lenenc(1);
  return writer.string(sql).finish(0);
}

/** COM_QUERY payload with attributes (client side; used by tests and by upstreams that accept them). */
export function buildQueryWithAttributes(sql: string, attributes: readonly QueryAttribute[]): Buffer {
  writer.u8(Com.QUERY).lenenc(attributes.length).lenenc(1);
  if (attributes.length > 0) {
    const nulls = Buffer.alloc((attributes.length + 7) >> 3);
    attributes.forEach((a, i) => { if (a.value === null) nulls[i >> 3] |= 1 << (i & 7); });
    writer.bytes(nulls).u8(1);
    for (const a of attributes) writer.u16(a.type).lenencString(a.name);
    for (const a of attributes) if (a.value !== null) writer.bytes(a.value);
  }
  return writer.string(sql).finish(0);
}

/** A command that is a single byte plus an optional body. */
export function buildCommand(code: number, body?: Uint8Array | string): Buffer {
  writer.u8(code);
  if (typeof body === 'string') writer.string(body);
  else if (body) writer.bytes(body);
  return writer.finish(0);
}
