/**
 * PROXY protocol header parser, versions 1 (text) and 2 (binary).
 * Reference: HAProxy, "The PROXY protocol", versions 1 & 2
 * (https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt).
 *
 * Pure: the caller feeds what it has read so far and acts on the status —
 * read more (`incomplete`), carry on without a header (`absent`), drop the
 * connection (`invalid`), or consume `length` bytes and use the addresses
 * (`ok`). Whether a header is allowed from this peer at all is the caller's
 * decision (listeners' `trusted_proxies`).
 */
import { isIPv4, isIPv6 } from 'node:net';

/** An address and port as carried in the header. */
export interface ProxyAddress {
  readonly address: string;
  readonly port: number;
}

export type ProxyHeader =
  | { readonly status: 'incomplete' }
  | { readonly status: 'absent' }
  | { readonly status: 'invalid'; readonly reason: string }
  | {
    readonly status: 'ok';
    /** Bytes the header occupies; the client's own data starts after them. */
    readonly length: number;
    /** `local`: a health check from the proxy itself — use the socket's addresses. */
    readonly command: 'local' | 'proxy';
    /** Absent for LOCAL, UNKNOWN, UNSPEC and AF_UNIX: use the socket's addresses. */
    readonly source?: ProxyAddress;
    readonly destination?: ProxyAddress;
  };

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** The longest v1 line the spec allows, CRLF included. */
export const V1_MAX_LENGTH = 107;
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED = 16;

const enum V2Command { Local = 0x0, Proxy = 0x1 }
const enum V2Family { Unspec = 0x0, Inet = 0x1, Inet6 = 0x2, Unix = 0x3 }
const enum V2Transport { Unspec = 0x0, Stream = 0x1, Dgram = 0x2 }

const INCOMPLETE: ProxyHeader = { status: 'incomplete' };
const ABSENT: ProxyHeader = { status: 'absent' };
const invalid = (reason: string): ProxyHeader => ({ status: 'invalid', reason });

/** True when `buf` is a (possibly empty) prefix of `sig`, or starts with all of it. */
function prefixState(buf: Buffer, sig: Buffer): 'match' | 'partial' | 'no' {
  const n = Math.min(buf.length, sig.length);
  for (let i = 0; i < n; i++) if (buf[i] !== sig[i]) return 'no';
  return buf.length >= sig.length ? 'match' : 'partial';
}

/** Parses a PROXY header at the start of `buf`. */
export function parseProxyHeader(buf: Buffer): ProxyHeader {
  if (buf.length === 0) return INCOMPLETE;
  const v2 = prefixState(buf, V2_SIGNATURE);
  if (v2 === 'match') return parseV2(buf);
  const v1 = prefixState(buf, V1_PREFIX);
  if (v1 === 'match') return parseV1(buf);
  if (v1 === 'partial' || v2 === 'partial') return INCOMPLETE;
  return ABSENT;
}

function parsePort(text: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 65535 ? n : undefined;
}

function parseV1(buf: Buffer): ProxyHeader {
  // The CR may sit at most at index 105 so that CRLF ends within 107 bytes.
  const lastCr = V1_MAX_LENGTH - 2;
  const limit = Math.min(buf.length, lastCr + 1);
  let cr = -1;
  for (let i = V1_PREFIX.length; i < limit; i++) {
    const b = buf[i];
    if (b === 0x0d) { cr = i; break; }
    if (b < 0x20 || b > 0x7e) return invalid('v1: non-printable byte before CRLF');
  }
  if (cr < 0) return buf.length > lastCr ? invalid(`v1: no CRLF within ${V1_MAX_LENGTH} bytes`) : INCOMPLETE;
  if (cr + 1 >= buf.length) return INCOMPLETE;
  if (buf[cr + 1] !== 0x0a) return invalid('v1: CR not followed by LF');
  const length = cr + 2;
  const fields = buf.toString('latin1', V1_PREFIX.length, cr).split(' ');
  const proto = fields[0];
  if (proto === 'UNKNOWN') return { status: 'ok', length, command: 'proxy' };
  if (proto !== 'TCP4' && proto !== 'TCP6') return invalid(`v1: unknown protocol '${proto}'`);
  if (fields.length !== 5) return invalid('v1: expected source, destination, source port, destination port');
  const [, src, dst, sp, dp] = fields;
  const isFamily = proto === 'TCP4' ? isIPv4 : isIPv6;
  if (!isFamily(src) || src.includes('%')) return invalid(`v1: bad ${proto} source address`);
  if (!isFamily(dst) || dst.includes('%')) return invalid(`v1: bad ${proto} destination address`);
  const sport = parsePort(sp);
  const dport = parsePort(dp);
  if (sport === undefined || dport === undefined) return invalid('v1: bad port');
  return {
    status: 'ok', length, command: 'proxy',
    source: { address: src, port: sport }, destination: { address: dst, port: dport },
  };
}

function parseV2(buf: Buffer): ProxyHeader {
  if (buf.length < V2_FIXED) return INCOMPLETE;
  const verCmd = buf[12];
  if (verCmd >> 4 !== 2) return invalid(`v2: unsupported version ${verCmd >> 4}`);
  const cmd = verCmd & 0x0f;
  if (cmd !== V2Command.Local && cmd !== V2Command.Proxy) return invalid(`v2: unknown command ${cmd}`);
  const family = buf[13] >> 4;
  const transport = buf[13] & 0x0f;
  const bodyLen = buf.readUInt16BE(14);
  const length = V2_FIXED + bodyLen;
  if (buf.length < length) return INCOMPLETE;
  if (cmd === V2Command.Local) return { status: 'ok', length, command: 'local' };
  if (transport > V2Transport.Dgram || family > V2Family.Unix) return invalid('v2: unknown address family or transport');
  if (transport === V2Transport.Dgram) return invalid('v2: datagram addresses on a stream connection');
  const need = family === V2Family.Inet ? 12 : family === V2Family.Inet6 ? 36 : family === V2Family.Unix ? 216 : 0;
  if (bodyLen < need) return invalid(`v2: address block of ${bodyLen} bytes is shorter than ${need}`);
  // Anything after the addresses is TLVs (ALPN, authority, SSL info…); sqlgate needs none of them.
  if (family === V2Family.Inet && transport === V2Transport.Stream) {
    return {
      status: 'ok', length, command: 'proxy',
      source: { address: ipv4(buf, 16), port: buf.readUInt16BE(24) },
      destination: { address: ipv4(buf, 20), port: buf.readUInt16BE(26) },
    };
  }
  if (family === V2Family.Inet6 && transport === V2Transport.Stream) {
    return {
      status: 'ok', length, command: 'proxy',
      source: { address: ipv6(buf, 16), port: buf.readUInt16BE(48) },
      destination: { address: ipv6(buf, 32), port: buf.readUInt16BE(50) },
    };
  }
  // UNSPEC or AF_UNIX: the spec says to use the connection's own addresses.
  return { status: 'ok', length, command: 'proxy' };
}

function ipv4(buf: Buffer, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

/** RFC 5952 text: lower case, longest run of two or more zero groups as `::`, mapped IPv4 dotted. */
function ipv6(buf: Buffer, at: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(buf.readUInt16BE(at + 2 * i));
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${ipv4(buf, at + 12)}`;
  }
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}
