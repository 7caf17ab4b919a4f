/**
 * The MySQL drop-in endpoint: a TCP listener whose connections become
 * ClientSessions, sharing one upstream pool and one session registry.
 * Learns the upstream's version and capabilities at start, so clients see
 * the server they are really talking to.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import { serverTlsOptions } from '../tls.js';
import { hostname } from 'node:os';
import type { Gate } from '../../governance/gate.js';
import { SqlgateError } from '../../governance/errors.js';
import type { Listener } from '../../rules/policy-schema.js';
import { Cap, DEFAULT_COLLATION } from '../../wire/mysql/constants.js';
import { ClientSession, SessionRegistry, type ServerFacts } from './client-session.js';
import { UpstreamPool } from './pool.js';
import { RELAYED_CAPS } from './upstream-session.js';
import { proxyHeaderHandler } from './proxy-header.js';
import { FullScanGuard } from '../../governance/plan/index.js';
import { onClusterKill } from '../cluster.js';
import { processSlots, type UserSlots } from '../user-slots.js';

/** One registry per process: connection ids and KILL span every MySQL listener. */
const processRegistry = new SessionRegistry();
// KILLs of this process's connections asked at another worker of a cluster.
onClusterKill((k) => processRegistry.killHere(k));

export interface MysqlListenerOptions {
  /** Sessions registry (default: the process-wide one). */
  readonly registry?: SessionRegistry;
  /** Per-user connection slots (default: the process's, shared with every listener). */
  readonly slots?: UserSlots;
  readonly gate: Gate;
  readonly listener: Listener;
  readonly instance: string;
  /** Where generated state (the self-signed certificate) lives. */
  readonly stateDir?: string;
  /**
   * PEM certificate and key, overriding `listener.tls`; `false` turns TLS off.
   * Default: the listener's files, else a self-signed certificate under `stateDir`.
   */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer } | false;
}

export interface MysqlListener {
  address(): AddressInfo;
  /** Stops accepting, ends every session, closes pooled upstream connections. */
  close(): Promise<void>;
  /** The upstream pool (tests look at reuse). */
  readonly pool: UpstreamPool;
  readonly registry: SessionRegistry;
}

/** `host:port`, `[v6]:port` or `port`. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(listen);
  if (m) return { host: m[1] ?? m[2], port: Number(m[3]) };
  if (/^\d+$/.test(listen)) return { host: '127.0.0.1', port: Number(listen) };
  throw new SqlgateError('POLICY_INVALID', `sqlgate: listener address '${listen}' is not host:port`);
}

function secureContext(opts: MysqlListenerOptions): SecureContext | undefined {
  if (opts.tls === false) return undefined;
  const pair = opts.tls ?? serverTlsOptions(opts.listener.tls, opts.stateDir);
  return createSecureContext({ cert: pair.cert, key: pair.key });
}

export async function startMysqlListener(opts: MysqlListenerOptions): Promise<MysqlListener> {
  const { gate, listener, instance } = opts;
  const pool = new UpstreamPool(() => gate.upstream(instance));
  const registry = opts.registry ?? processRegistry;
  const slots = opts.slots ?? processSlots;
  const tls = secureContext(opts);
  if (listener.require_tls && !tls) {
    throw new SqlgateError('POLICY_INVALID', 'sqlgate: require_tls is set but the MySQL listener has no certificate');
  }
  const server: ServerFacts = { version: '8.0.0-sqlgate', capabilities: 0, collation: DEFAULT_COLLATION, mariadbCapabilities: 0, maxPacket: 1024 * 1024 * 1024 };
  // Ask the upstream who it is; if it is down now, clients get an error at login instead.
  try {
    const probeProfile = { capabilities: RELAYED_CAPS & ~Cap.QUERY_ATTRIBUTES, collation: DEFAULT_COLLATION };
    const conn = await pool.acquire(probeProfile, gate.upstream(instance).database);
    try {
      server.version = conn.serverVersion;
      server.capabilities = conn.serverCapabilities;
      server.mariadbCapabilities = conn.serverMariadbCapabilities;
      const [[max]] = await conn.query('SELECT @@max_allowed_packet');
      if (max && /^\d+$/.test(max)) server.maxPacket = Number(max);
    } finally {
      pool.release(conn);
    }
  } catch {
    // keep the defaults
  }
  const sockets = new Set<Socket>();
  const sessions = new Set<ClientSession>();
  const nodeId = gate.node ?? gate.policy().node_id ?? hostname();
  const proxyHeader = proxyHeaderHandler(gate, listener);
  const fullScanGuard = new FullScanGuard();
  const srv = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const session = new ClientSession(socket, { gate, listener, instance, pool, tls, server, registry, slots, nodeId, proxyHeader, fullScanGuard });
    sessions.add(session);
    void session.run().finally(() => sessions.delete(session));
  });
  const { host, port } = parseListen(listener.listen);
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, host, () => {
      srv.off('error', reject);
      resolve();
    });
  });
  return {
    pool,
    registry,
    address: () => srv.address() as AddressInfo,
    async close() {
      await new Promise<void>((resolve) => {
        srv.close(() => resolve());
        for (const s of sessions) s.end();
        for (const s of sockets) s.destroy();
      });
      pool.close();
    },
  };
}
