/**
 * PROXY protocol (v1 text, v2 binary) on the MySQL listener: accepted only
 * from `trusted_proxies`, whose connections must start with a header (MySQL
 * clients never speak first, so a load balancer's header is the first thing
 * on the wire); from anyone else a header is refused.
 * Reference: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt
 */
import { parseProxyHeader } from '../../wire/proxy-protocol.js';
import { allowListEntries, normalizeClientAddress, parseAllowList } from '../../governance/policy/ip-allow.js';
import type { Gate } from '../../governance/gate.js';
import { SqlgateError } from '../../governance/errors.js';
import type { Listener } from '../../rules/policy-schema.js';
import type { PacketSource } from './packet-source.js';

/** True when the first bytes from a peer start (or could start) a PROXY header: v1 text or the v2 signature. */
export function looksLikeProxyHeader(buf: Buffer): boolean {
  const h = parseProxyHeader(buf.subarray(0, Math.min(buf.length, 16)));
  return h.status !== 'absent';
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
          // 'absent' or 'invalid': a trusted proxy always sends a header first.
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
