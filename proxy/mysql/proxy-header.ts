/**
 * PROXY protocol (v1 text, v2 binary) on the MySQL listener: accepted only
 * from `trusted_proxies`, whose connections must start with a header (MySQL
 * clients never speak first, so a load balancer's header is the first thing
 * on the wire); from anyone else a header is refused.
 * Reference: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt
 *
 * parseProxyHeader here is a stand-in with the API of wire/proxy-protocol.ts
 * (being written on another branch); switch the import when it lands.
 */
import { isIP } from 'node:net';
import { allowListEntries, normalizeClientAddress, parseAllowList } from '../../governance/policy/ip-allow.js';
import type { Gate } from '../../governance/gate.js';
import { SqlgateError } from '../../governance/errors.js';
import type { Listener } from '../../rules/policy-schema.js';
import type { PacketSource } from './packet-source.js';

export interface ProxyHeader {
  readonly status: 'incomplete' | 'absent' | 'invalid' | 'ok';
  readonly length: number;
  readonly command?: 'proxy' | 'local';
  readonly source?: { readonly address: string; readonly port: number };
}

const V2_SIG = Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1');
const V1_SIG = Buffer.from('PROXY ', 'latin1');

/** True when the bytes so far could be the start of a PROXY header. */
export function looksLikeProxyHeader(buf: Buffer): boolean {
  const n = Math.min(buf.length, 6);
  return buf.subarray(0, n).equals(V1_SIG.subarray(0, n)) || buf.subarray(0, Math.min(buf.length, 12)).equals(V2_SIG.subarray(0, Math.min(buf.length, 12)));
}

export function parseProxyHeader(buf: Buffer): ProxyHeader {
  if (buf.length === 0) return { status: 'incomplete', length: 0 };
  if (!looksLikeProxyHeader(buf)) return { status: 'absent', length: 0 };
  if (buf[0] === 0x50) {
    const end = buf.indexOf('\r\n', 0, 'latin1');
    if (end < 0) return buf.length >= 107 ? { status: 'invalid', length: 0 } : { status: 'incomplete', length: 0 };
    const parts = buf.subarray(0, end).toString('latin1').split(' ');
    if (parts[1] === 'UNKNOWN') return { status: 'ok', length: end + 2, command: 'local' };
    if (parts.length !== 6 || (parts[1] !== 'TCP4' && parts[1] !== 'TCP6')) return { status: 'invalid', length: 0 };
    const port = Number(parts[4]);
    if (isIP(parts[2]) !== (parts[1] === 'TCP4' ? 4 : 6) || !/^\d{1,5}$/.test(parts[4]) || port > 65535) return { status: 'invalid', length: 0 };
    return { status: 'ok', length: end + 2, command: 'proxy', source: { address: parts[2], port } };
  }
  if (buf.length < 16) return { status: 'incomplete', length: 0 };
  const verCmd = buf[12];
  if (verCmd >> 4 !== 2) return { status: 'invalid', length: 0 };
  const length = 16 + buf.readUInt16BE(14);
  if (buf.length < length) return { status: 'incomplete', length: 0 };
  const cmd = verCmd & 0x0f;
  if (cmd === 0) return { status: 'ok', length, command: 'local' };
  if (cmd !== 1) return { status: 'invalid', length: 0 };
  const family = buf[13] >> 4;
  if (family === 1 && length >= 16 + 12) {
    return { status: 'ok', length, command: 'proxy', source: { address: [...buf.subarray(16, 20)].join('.'), port: buf.readUInt16BE(24) } };
  }
  if (family === 2 && length >= 16 + 36) {
    const groups = [];
    for (let i = 0; i < 16; i += 2) groups.push(buf.readUInt16BE(16 + i).toString(16));
    return { status: 'ok', length, command: 'proxy', source: { address: groups.join(':'), port: buf.readUInt16BE(48) } };
  }
  return { status: 'ok', length, command: 'local' };
}

/** Trusted proxies: an allow list, except that an empty or absent list trusts nobody. */
export function trustedProxies(list: string | readonly string[] | undefined): (ip: string) => boolean {
  if (list === undefined || allowListEntries(list).length === 0) return () => false;
  const allow = parseAllowList(list);
  return (ip: string) => allow.matches(normalizeClientAddress(ip));
}

function refused(message: string): SqlgateError {
  return new SqlgateError('PROTOCOL_VIOLATION', `sqlgate: ${message}`, { rule: 'proxy-protocol' });
}

/**
 * Returns the session's `proxyHeader` step: from a trusted proxy, wait for
 * the header and return the address it carries; from anyone else, return the
 * peer address and watch the first bytes so that a header is refused.
 */
export function proxyHeaderHandler(_gate: Gate, listener: Listener): (source: PacketSource, peer: string) => Promise<string> {
  const trusted = trustedProxies(listener.trusted_proxies);
  return (source, peer) => {
    if (!trusted(peer)) {
      let first = true;
      source.intercept((chunk) => {
        if (first) {
          first = false;
          source.intercept(undefined);
          if (chunk.length >= 5 && looksLikeProxyHeader(chunk)) throw refused(`PROXY protocol header from ${peer}, which is not a trusted proxy`);
        }
        return chunk;
      });
      return Promise.resolve(peer);
    }
    return new Promise<string>((resolve, reject) => {
      let held = Buffer.alloc(0);
      source.intercept((chunk) => {
        held = Buffer.concat([held, chunk]);
        const h = parseProxyHeader(held);
        if (h.status === 'incomplete') return undefined;
        source.intercept(undefined);
        if (h.status !== 'ok') {
          const e = refused(`a connection from trusted proxy ${peer} must start with a valid PROXY protocol header`);
          reject(e);
          throw e;
        }
        resolve(h.command === 'proxy' && h.source ? normalizeClientAddress(h.source.address) : peer);
        return held.subarray(h.length);
      });
      source.current.once('close', () => reject(refused('connection closed before the PROXY header')));
      source.current.resume();
    });
  };
}
