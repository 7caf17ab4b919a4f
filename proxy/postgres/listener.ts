/**
 * The PostgreSQL drop-in endpoint's listener: accepts connections, takes the
 * client address from a PROXY protocol header when (and only when) the peer
 * is a trusted proxy, checks the IP allow lists before anything else, and
 * hands the connection to a client session.
 * References: https://www.postgresql.org/docs/15/protocol-flow.html,
 * https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt
 */
import { hostname } from 'node:os';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { allowListEntries, normalizeClientAddress, parseAllowList, type AllowList } from '../../governance/policy/ip-allow.js';
import { SqlgateError } from '../../governance/errors.js';
import type { Gate } from '../../governance/gate.js';
import type { Listener } from '../../rules/policy-schema.js';
import * as bw from '../../wire/postgres/backend-writer.js';
import { parseProxyHeader, type ProxyHeader } from '../../wire/proxy-protocol.js';
import { serverTlsOptions } from '../tls.js';
import { onClusterCancel } from '../cluster.js';
import { FullScanGuard } from '../../governance/plan/index.js';
import { ClientSession } from './client-session.js';
import { SessionPool } from './pool.js';
import { processSlots, type UserSlots } from '../user-slots.js';
import { UpstreamSessionPool } from './upstream-pool.js';

export interface PgListenerOptions {
  readonly gate: Gate;
  readonly listener: Listener;
  readonly instance: string;
  /** Where the self-signed certificate is kept when the listener names none (default `.sqlgate`). */
  readonly stateDir?: string;
  /** Per-user connection slots (default: the process's, shared with every listener). */
  readonly slots?: UserSlots;
}

export interface PgListenerHandle {
  address(): AddressInfo;
  close(): Promise<void>;
  /** Upstream connections kept between sessions (for tests and metrics). */
  readonly upstreams: UpstreamSessionPool;
}


/** Trusted-proxy entries parsed like every allow list; an empty or absent list trusts nobody. */
function trustedProxyList(entries: string | readonly string[] | undefined): AllowList | undefined {
  if (entries === undefined || allowListEntries(entries).length === 0) return undefined;
  return parseAllowList(entries);
}

/** Reads bytes until the PROXY header is complete (or known absent); unshifts what follows it. */
type HeaderRead = ProxyHeader | { readonly status: 'untrusted' } | { readonly status: 'timeout' };

/**
 * Reads bytes until a PROXY header is complete or known absent, then puts back
 * what follows it. From an untrusted peer, anything that looks like a header
 * is refused rather than parsed.
 */
function readProxyHeader(socket: Socket, trusted: boolean, timeoutMs: number): Promise<HeaderRead> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      resolve({ status: 'timeout' });
    }, timeoutMs);
    const done = (r: HeaderRead) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
      if (r.status === 'ok' || r.status === 'absent') {
        const rest = buf.subarray(r.status === 'ok' ? r.length : 0);
        if (rest.length) socket.unshift(rest);
      }
      resolve(r);
    };
    const onEnd = () => done({ status: 'invalid', reason: 'connection closed' });
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const r = parseProxyHeader(buf);
      if (r.status === 'incomplete') return;
      if (r.status !== 'absent' && !trusted) return done({ status: 'untrusted' });
      done(r);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
  });
}

/** Starts the PostgreSQL listener; resolves once it is listening. */
export async function startPgListener(opts: PgListenerOptions): Promise<PgListenerHandle> {
  const { gate, listener, instance } = opts;
  const tls = serverTlsOptions(listener.tls, opts.stateDir);
  const trusted = trustedProxyList(listener.trusted_proxies);
  const pool = new SessionPool();
  const slots = opts.slots ?? processSlots;
  const upstreams = new UpstreamSessionPool();
  // In a cluster, keys minted here may be presented at another worker: it passes them on.
  const offCancel = onClusterCancel((processId, secretKey) => pool.cancel(processId, secretKey));
  const fullScan = new FullScanGuard();
  const node = gate.node ?? gate.policy().node_id ?? hostname();
  const sockets = new Set<Socket>();

  const onConnection = async (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.pause();
    let clientIp = normalizeClientAddress(socket.remoteAddress ?? '');
    const peerTrusted = trusted?.matches(clientIp) ?? false;
    socket.resume();
    const header = await readProxyHeader(socket, peerTrusted, listener.login_timeout_ms);
    if (header.status === 'timeout') {
      socket.end(bw.errorResponse({ severity: 'FATAL', code: '08006', message: 'sqlgate: login timed out' }));
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    if (header.status === 'invalid' || header.status === 'untrusted') {
      const err = new SqlgateError('PROTOCOL_VIOLATION', header.status === 'untrusted'
        ? 'sqlgate: PROXY protocol header from an untrusted address' : `sqlgate: invalid PROXY protocol header (${header.reason})`);
      try {
        gate.audit({
          time: new Date().toISOString(), node, session: '', user: undefined, clientIp, door: 'postgres', type: 'login',
          instance, database: undefined, sql: undefined, fingerprint: undefined, decision: 'refused', rules: [],
          durationMs: undefined, rowsReturned: undefined, rowsAffected: undefined, error: { code: err.sqlstate, message: err.message },
        });
      } catch { /* the connection is refused either way */ }
      socket.end(bw.errorResponse({ severity: 'FATAL', code: err.sqlstate, message: err.message }));
      return;
    }
    if (header.status === 'ok' && header.source && header.command === 'proxy') clientIp = normalizeClientAddress(header.source.address);
    // The address is checked before anything else; a refused client still gets its answer
    // after TLS and the startup packet, as from PostgreSQL's pg_hba, so that it can read it.
    let refused: SqlgateError | undefined;
    try {
      gate.checkAddress(instance, clientIp);
    } catch (err) {
      refused = err instanceof SqlgateError ? err : new SqlgateError('INTERNAL', 'sqlgate: address check failed');
    }
    // The session's reader resumes the socket once it listens, so no byte is lost.
    await new ClientSession(socket, { gate, listener, instance, pool, slots, tls, clientIp, node, refused, fullScan, upstreams }).run();
  };

  const server = createServer({ pauseOnConnect: true }, (s) => { void onConnection(s); });
  const [host, portText] = splitHostPort(listener.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(portText), host, () => { server.off('error', reject); resolve(); });
  });
  return {
    upstreams,
    address: () => server.address() as AddressInfo,
    close: () => new Promise<void>((resolve) => {
      offCancel();
      upstreams.close();
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    }),
  };
}

function splitHostPort(listen: string): [string, string] {
  const m = /^\[(.*)\]:(\d+)$/.exec(listen) ?? /^(.*):(\d+)$/.exec(listen);
  if (!m) return ['127.0.0.1', listen];
  return [m[1], m[2]];
}
