/**
 * Connection phase packets, both sides: HandshakeV10 (server greeting),
 * SSLRequest, HandshakeResponse41, AuthSwitchRequest, AuthMoreData.
 * Reference: https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html
 * (page_protocol_connection_phase_packets_protocol_handshake_v10.html,
 * ..._protocol_handshake_response.html, ..._protocol_ssl_request.html,
 * ..._protocol_auth_switch_request.html, ..._protocol_auth_more_data.html).
 */
import { Cap, Header } from './constants.js';
import { PacketWriter } from './packet-writer.js';
import { PayloadReader, WireError } from './packet-reader.js';

/** The server greeting. */
export interface HandshakeV10 {
  readonly serverVersion: string;
  readonly connectionId: number;
  /** 20-byte nonce (auth-plugin-data parts 1 and 2, without the trailing NUL). */
  readonly seed: Buffer;
  readonly capabilities: number;
  readonly collation: number;
  readonly status: number;
  readonly plugin: string;
  /** MariaDB extended capabilities (only when LONG_PASSWORD is clear). */
  readonly mariadbCapabilities?: number;
}

/** The client's answer to the greeting (also the fields an SSLRequest carries). */
export interface HandshakeResponse {
  readonly capabilities: number;
  /** MariaDB extended capabilities (0 unless the client cleared LONG_PASSWORD). */
  readonly mariadbCapabilities: number;
  readonly maxPacket: number;
  readonly collation: number;
  /** True when this is only an SSLRequest (the full response follows over TLS). */
  readonly sslRequest: boolean;
  readonly user: string;
  readonly authData: Buffer;
  readonly database: string | undefined;
  readonly plugin: string | undefined;
  readonly attributes: ReadonlyMap<string, string>;
}

const writer = new PacketWriter(256);

/** Builds the HandshakeV10 greeting. Compression is never offered. */
export function buildHandshakeV10(h: HandshakeV10): Buffer {
  if (h.seed.length !== 20) throw new Error('seed must be 20 bytes');
  const caps = (h.capabilities & ~Cap.COMPRESS & ~Cap.ZSTD_COMPRESSION) >>> 0;
  writer.u8(10).nulString(h.serverVersion).u32(h.connectionId)
    .bytes(h.seed.subarray(0, 8)).u8(0)
    .u16(caps & 0xffff).u8(h.collation).u16(h.status).u16(caps >>> 16)
    .u8(caps & Cap.PLUGIN_AUTH ? 21 : 0)
    .zeros(6).u32(caps & Cap.LONG_PASSWORD ? 0 : h.mariadbCapabilities ?? 0)
    .bytes(h.seed.subarray(8)).u8(0);
  if (caps & Cap.PLUGIN_AUTH) writer.nulString(h.plugin);
  return writer.finish(0);
}

/** Parses a HandshakeV10 greeting (client side, talking to the upstream). */
export function parseHandshakeV10(payload: Buffer): HandshakeV10 {
  const r = new PayloadReader(payload);
  const version = r.u8();
  if (version === Header.ERR) throw new WireError('server refused the connection');
  if (version !== 10) throw new WireError(`unsupported handshake protocol version ${version}`);
  const serverVersion = r.nulBytesStrict().toString('utf8');
  const connectionId = r.u32();
  const part1 = r.bytes(8);
  r.skip(1);
  let capabilities = r.u16();
  let collation = 0;
  let status = 0;
  let dataLength = 0;
  let part2: Buffer = Buffer.alloc(0);
  let plugin = '';
  let mariadbCapabilities = 0;
  if (r.remaining > 0) {
    collation = r.u8();
    status = r.u16();
    capabilities = (capabilities | (r.u16() << 16)) >>> 0;
    dataLength = r.u8();
    r.skip(6);
    mariadbCapabilities = r.u32();
    if (capabilities & Cap.LONG_PASSWORD) mariadbCapabilities = 0;
    if (capabilities & Cap.SECURE_CONNECTION) {
      const n = Math.max(13, dataLength - 8);
      part2 = r.bytes(Math.min(n, r.remaining));
      if (part2.length > 0 && part2[part2.length - 1] === 0) part2 = part2.subarray(0, part2.length - 1);
    }
    if (capabilities & Cap.PLUGIN_AUTH) plugin = r.nulString();
  }
  return { serverVersion, connectionId, seed: Buffer.concat([part1, part2]), capabilities, collation, status, plugin, mariadbCapabilities };
}

/**
 * Parses the client's first packet after the greeting: an SSLRequest (32
 * bytes with CLIENT_SSL) or a full HandshakeResponse41.
 */
export function parseHandshakeResponse(payload: Buffer): HandshakeResponse {
  const r = new PayloadReader(payload);
  const capabilities = r.u32();
  if (!(capabilities & Cap.PROTOCOL_41)) throw new WireError('client does not speak protocol 4.1');
  const maxPacket = r.u32();
  const collation = r.u8();
  r.skip(19);
  const mariadbCapabilities = capabilities & Cap.LONG_PASSWORD ? 0 : r.u32();
  if (capabilities & Cap.LONG_PASSWORD) r.skip(4);
  const empty = new Map<string, string>();
  if (r.remaining === 0) {
    if (!(capabilities & Cap.SSL)) throw new WireError('truncated handshake response');
    return { capabilities, mariadbCapabilities, maxPacket, collation, sslRequest: true, user: '', authData: Buffer.alloc(0), database: undefined, plugin: undefined, attributes: empty };
  }
  const user = r.nulBytesStrict().toString('utf8');
  let authData: Buffer;
  if (capabilities & Cap.PLUGIN_AUTH_LENENC_CLIENT_DATA) authData = r.lenencBytes();
  else if (capabilities & Cap.SECURE_CONNECTION) authData = r.bytes(r.u8());
  else authData = r.nulBytes();
  let database: string | undefined;
  if (capabilities & Cap.CONNECT_WITH_DB && r.remaining > 0) database = r.nulString() || undefined;
  let plugin: string | undefined;
  if (capabilities & Cap.PLUGIN_AUTH && r.remaining > 0) plugin = r.nulString();
  const attributes = new Map<string, string>();
  if (capabilities & Cap.CONNECT_ATTRS && r.remaining > 0) {
    const total = r.lenenc();
    const end = r.pos + total;
    if (end > r.buf.length) throw new WireError('connection attributes overrun the packet');
    while (r.pos < end) {
      const k = r.lenencString();
      const v = r.lenencString();
      attributes.set(k, v);
    }
  }
  return { capabilities, mariadbCapabilities, maxPacket, collation, sslRequest: false, user, authData, database, plugin, attributes };
}

/** Builds an SSLRequest (client side). */
export function buildSslRequest(capabilities: number, collation: number, seq: number, maxPacket = 0x40000000, mariadbCapabilities = 0): Buffer {
  return writer.u32(capabilities | Cap.SSL).u32(maxPacket).u8(collation).zeros(19)
    .u32(capabilities & Cap.LONG_PASSWORD ? 0 : mariadbCapabilities).finish(seq);
}

/** Builds a HandshakeResponse41 (client side). */
export function buildHandshakeResponse(
  seq: number,
  r: { capabilities: number; collation: number; user: string; authData: Buffer; database?: string; plugin: string; attributes?: ReadonlyMap<string, string>; maxPacket?: number; mariadbCapabilities?: number },
): Buffer {
  let caps = r.capabilities | Cap.PROTOCOL_41 | Cap.SECURE_CONNECTION | Cap.PLUGIN_AUTH;
  if (r.database) caps |= Cap.CONNECT_WITH_DB;
  else caps &= ~Cap.CONNECT_WITH_DB;
  if (r.attributes && r.attributes.size > 0) caps |= Cap.CONNECT_ATTRS;
  else caps &= ~Cap.CONNECT_ATTRS;
  writer.u32(caps >>> 0).u32(r.maxPacket ?? 0x40000000).u8(r.collation).zeros(19)
    .u32(caps & Cap.LONG_PASSWORD ? 0 : r.mariadbCapabilities ?? 0).nulString(r.user);
  if (caps & Cap.PLUGIN_AUTH_LENENC_CLIENT_DATA) writer.lenencBytes(r.authData);
  else writer.u8(r.authData.length).bytes(r.authData);
  if (r.database) writer.nulString(r.database);
  writer.nulString(r.plugin);
  if (r.attributes && r.attributes.size > 0) {
    const attrs = new PacketWriter(128);
    for (const [k, v] of r.attributes) attrs.lenencString(k).lenencString(v);
    const body = attrs.finish(0).subarray(4);
    writer.lenencBytes(body);
  }
  return writer.finish(seq);
}

/** AuthSwitchRequest: asks the client to authenticate with another plugin; data is the 20-byte seed. */
export function buildAuthSwitchRequest(seq: number, plugin: string, seed: Buffer): Buffer {
  return writer.u8(Header.AUTH_SWITCH).nulString(plugin).bytes(seed).u8(0).finish(seq);
}

/** Parses an AuthSwitchRequest (client side). */
export function parseAuthSwitchRequest(payload: Buffer): { plugin: string; data: Buffer } {
  const r = new PayloadReader(payload, 1);
  const plugin = r.nulString();
  let data = r.rest();
  if (data.length > 0 && data[data.length - 1] === 0) data = data.subarray(0, data.length - 1);
  return { plugin, data };
}

/** AuthMoreData: extra plugin data (caching_sha2 status byte, a PEM public key). */
export function buildAuthMoreData(seq: number, data: Uint8Array): Buffer {
  return writer.u8(Header.AUTH_MORE_DATA).bytes(data).finish(seq);
}

/** A packet of raw bytes (auth-switch responses, cleartext passwords, RSA blobs). */
export function buildRaw(seq: number, data: Uint8Array): Buffer {
  return writer.bytes(data).finish(seq);
}
