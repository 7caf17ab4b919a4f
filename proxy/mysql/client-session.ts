/**
 * sqlgate as a MySQL server towards one client: connection phase (PROXY
 * header from trusted proxies, IP allow list, HandshakeV10, TLS upgrade,
 * mysql_native_password / caching_sha2_password with auth switch, login
 * timeout, per-user connection limit) and command phase (every statement
 * judged by the Gate before it is forwarded; results relayed as bytes; one
 * audit record per statement).
 * Reference: https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html
 * and page_protocol_command_phase.html.
 */
import { chargeMessage, chargeMessageNow, NO_TICKET, settle, type QuotaTicket } from '../quota-charge.js';
import { randomBytes } from 'node:crypto';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { Gate } from '../../governance/gate.js';
import type { Judgement, SessionContext, Decision } from '../../governance/decision.js';
import { isoTime, type AuditEvent } from '../../governance/audit/event.js';
import { ERROR_CODES, SqlgateError, ruleMessage, type ErrorCode } from '../../governance/errors.js';
import type { Listener } from '../../rules/policy-schema.js';
import { normalizeClientAddress } from '../../governance/policy/ip-allow.js';
import {
  cleartextPassword, decryptRsaPassword, rsaKeys, verifyCachingSha2Scramble, verifyCleartext, verifyNativeScramble,
} from '../../governance/auth/mysql-auth.js';
import { Cap, PLUGIN_CACHING_SHA2, PLUGIN_NATIVE, Sha2, Status } from '../../wire/mysql/constants.js';
import { buildAuthMoreData, buildAuthSwitchRequest, buildHandshakeV10, parseHandshakeResponse } from '../../wire/mysql/handshake.js';
import { buildEof, buildErr, buildOk } from '../../wire/mysql/messages.js';
import { OutBatch } from '../../wire/out-batch.js';
import { flushToClient } from '../write-batch.js';
import { parseCommand, type Command } from '../../wire/mysql/commands.js';
import { framePayload } from '../../wire/mysql/packet-writer.js';
import { WireError, type Packet } from '../../wire/mysql/packet-reader.js';
import type { ResponseSummary } from '../../wire/mysql/result-walker.js';
import { PacketSource, SocketClosedError } from './packet-source.js';
import type { UserSlot, UserSlots } from '../user-slots.js';
import { RELAYED_CAPS, RELAYED_MARIADB_CAPS, type ByteLimit, type RowTransform, type Sink, type UpstreamConnection } from './upstream-session.js';
import { fieldMask, maskKey } from '../mask.js';
import { encodeRewrittenTextRow, rewriteBinaryRow, rewriteColumnDefinition, rewriteTextRow, type FieldRewrite } from '../../wire/mysql/row-rewrite.js';
import type { ColumnDefinition } from '../../wire/mysql/column-definition.js';
import type { UpstreamPool } from './pool.js';
import { fullScanError, type FullScanGuard } from '../../governance/plan/index.js';
import { killElsewhere, workerInfo, type KillAnswer, type KillRequest } from '../cluster.js';
import { CERTAIN_MYSQL_VERSION } from '../../governance/analyze/lexer.js';

/** Capabilities sqlgate offers every client (more are added from the upstream's and the TLS setup). */
const OFFERED_CAPS = Cap.LONG_PASSWORD | Cap.FOUND_ROWS | Cap.LONG_FLAG | Cap.CONNECT_WITH_DB | Cap.PROTOCOL_41
  | Cap.INTERACTIVE | Cap.TRANSACTIONS | Cap.SECURE_CONNECTION | Cap.MULTI_STATEMENTS | Cap.MULTI_RESULTS
  | Cap.PS_MULTI_RESULTS | Cap.PLUGIN_AUTH | Cap.CONNECT_ATTRS | Cap.PLUGIN_AUTH_LENENC_CLIENT_DATA;
/** Offered only when the upstream has them, since responses are relayed as they come. */
const FROM_UPSTREAM_CAPS = Cap.DEPRECATE_EOF | Cap.QUERY_ATTRIBUTES | Cap.LOCAL_FILES | Cap.SESSION_TRACK;

const EMPTY = Buffer.alloc(0);
const TIMEOUT_MESSAGE = 'sqlgate: statement cancelled on the database after its time limit [rule statement-timeout]';
const TIMEOUT_ERR = buildErr(0, ERROR_CODES.STATEMENT_TIMEOUT.errno, ERROR_CODES.STATEMENT_TIMEOUT.sqlstate, TIMEOUT_MESSAGE).subarray(4);
/** Largest packet accepted before login (handshake responses with attributes are well under this). */
const PRE_LOGIN_MAX_PACKET = 64 * 1024;
/** Largest command accepted after login: MariaDB's own max_allowed_packet ceiling. */
const MAX_STATEMENT_PACKET = 1024 * 1024 * 1024;
const KILL = /^\s*KILL\s+(?:(CONNECTION|QUERY)\s+)?(\d+)\s*;?\s*$/i;
/**
 * `SET [SESSION] name = @variable` alone, bare or in an executable comment
 * every server runs, as mysqldump ends its files
 * (`/*!40101 SET SQL_MODE=@OLD_SQL_MODE *\/`).
 */
const SET_FROM_VARIABLE = /^\s*(\/\*!(\d{5})?\s*)?SET\s+(?:SESSION\s+|@@SESSION\.|@@)?(\w+)\s*=\s*@(\w+)\s*(\*\/)?\s*;?\s*$/i;

function setFromVariable(sql: string): { name: string; variable: string } | undefined {
  const m = SET_FROM_VARIABLE.exec(sql);
  if (!m || (m[1] === undefined) !== (m[5] === undefined) || (m[2] !== undefined && Number(m[2]) > CERTAIN_MYSQL_VERSION)) return undefined;
  return { name: m[3], variable: m[4] };
}
/** Settings whose value the rules must read (a mode list, a character set); from a variable they are refused unread. */
const VALUE_JUDGED_SETTINGS = new Set(['sql_mode', 'character_set_client', 'character_set_connection']);

/** What the upstream told us about itself, for the greeting. */
export interface ServerFacts {
  version: string;
  capabilities: number;
  collation: number;
  /** MariaDB extended capabilities of the upstream (0 for MySQL). */
  mariadbCapabilities: number;
  /** The upstream's max_allowed_packet: larger client packets are refused before they are buffered. */
  maxPacket: number;
}

/** The parts of an audit record a session's code supplies; audit() adds the session's identity and the time. */
type RecordFields = Pick<AuditEvent, 'type' | 'decision'>
  & Partial<Pick<AuditEvent, 'sql' | 'fingerprint' | 'rules' | 'durationMs' | 'rowsReturned' | 'rowsAffected' | 'error' | 'operation' | 'detail'>>;

/** Live sessions of one process, for KILL. */
export class SessionRegistry {
  private nextId = 1;
  readonly sessions = new Map<number, ClientSession>();
  /** In a cluster, ids are unique across workers: id % count is the worker that handed it out. */
  private readonly worker = workerInfo();

  allocateId(): number {
    const w = this.worker;
    if (!w) {
      const id = this.nextId;
      this.nextId = (this.nextId % 0xfffffffe) + 1;
      return id;
    }
    const id = this.nextId * w.count + w.index;
    this.nextId = id + w.count > 0xfffffffe ? 1 : this.nextId + 1;
    return id;
  }

  /** Whether a connection id was handed out by another worker of the cluster. */
  elsewhere(id: number): boolean {
    return this.worker !== undefined && id % this.worker.count !== this.worker.index;
  }

  /** A KILL routed from another worker: only a session of the same user on the same instance. */
  async killHere(k: KillRequest): Promise<KillAnswer> {
    const target = this.sessions.get(k.id);
    if (!target || target.user !== k.user || target.instance !== k.instance) return { ok: false };
    if (k.mode === 'connection') target.kill();
    return { ok: true, threadId: target.upstreamThreadId };
  }
}

/** Everything a session needs from its listener. */
export interface SessionDeps {
  readonly gate: Gate;
  readonly listener: Listener;
  readonly instance: string;
  readonly pool: UpstreamPool;
  readonly tls: SecureContext | undefined;
  readonly server: ServerFacts;
  readonly registry: SessionRegistry;
  /** Per-user connection slots (users.<name>.max_connections), counted over the node. */
  readonly slots: UserSlots;
  readonly nodeId: string;
  /**
   * Handles a possible PROXY protocol header: resolves to the client address
   * to use (the header's source, or the peer's), or throws to refuse.
   */
  readonly proxyHeader: (source: PacketSource, peer: string) => Promise<string>;
  /** Plan checks for statements that read big tables (shared cache per listener). */
  readonly fullScanGuard: FullScanGuard;
}

interface Prepared {
  readonly sql: string;
  readonly judgement: Judgement;
  /** An open cursor: its columns (as the server sent them) and what has been let through so far. */
  cursor?: { readonly columns: readonly ColumnDefinition[]; rows: number; bytes: number; done: boolean; ticket: QuotaTicket };
}

/** The fewest rows any statement's daily-quota reservation allows (undefined: no row quota). */
function quotaCap(tickets: readonly QuotaTicket[]): number | undefined {
  let cap: number | undefined;
  for (const t of tickets) if (t.rows !== undefined && (cap === undefined || t.rows < cap)) cap = t.rows;
  return cap;
}

function minCap(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

/** The wire's own provenance (org_table, org_name, schema) names the column the analysis found. */
function provenanceMatches(def: ColumnDefinition, c: { database: string; table: string; column: string }): boolean {
  const eq = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  return def.orgName !== '' && def.orgTable !== '' && eq(def.orgName, c.column) && eq(def.orgTable, c.table) && (def.schema === '' || eq(def.schema, c.database));
}

/** The tightest result-size limit of a judgement's statements, with the ERR that ends an oversized result. */
function byteLimit(j: Judgement): ByteLimit | undefined {
  let limit: number | undefined;
  for (const d of j.statements) {
    const m = d.directives.maxResultBytes;
    if (m !== undefined && (limit === undefined || m < limit)) limit = m;
  }
  if (limit === undefined) return undefined;
  let cached = byteLimits.get(limit);
  if (!cached) {
    // Built once per limit value: this runs for every statement.
    const spec = ERROR_CODES.RESULT_TOO_LARGE;
    const message = ruleMessage(`result larger than ${limit} bytes; the rest was not sent`, 'max-result-bytes');
    cached = { limit, err: buildErr(0, spec.errno, spec.sqlstate, message).subarray(4) };
    if (byteLimits.size > 100) byteLimits.clear();
    byteLimits.set(limit, cached);
  }
  return cached;
}

const byteLimits = new Map<number, ByteLimit>();

/** The tightest row cap of a judgement's statements. */
function rowCap(j: Judgement): number | undefined {
  let cap: number | undefined;
  for (const d of j.statements) {
    const m = d.directives.maxRows;
    if (m !== undefined && (cap === undefined || m < cap)) cap = m;
  }
  return cap;
}

/** An error the upstream server answered with, passed to the client as it is. */
class UpstreamErr extends Error {
  constructor(readonly errno: number, readonly sqlstate: string, message: string) {
    super(message);
  }
}

function errFrom(e: unknown): { errno: number; sqlstate: string; message: string; code: string } {
  if (e instanceof SqlgateError) return { errno: e.errno, sqlstate: e.sqlstate, message: e.message, code: e.code };
  if (e instanceof UpstreamErr) return { errno: e.errno, sqlstate: e.sqlstate, message: e.message, code: `ER_${e.errno}` };
  if (e instanceof WireError) {
    const s = ERROR_CODES.PROTOCOL_VIOLATION;
    return { errno: s.errno, sqlstate: s.sqlstate, message: `sqlgate: malformed packet: ${e.message}`, code: 'PROTOCOL_VIOLATION' };
  }
  const s = ERROR_CODES.INTERNAL;
  return { errno: s.errno, sqlstate: s.sqlstate, message: 'sqlgate: internal error', code: 'INTERNAL' };
}

/**
 * Client character sets whose multibyte characters may end in 0x5C, a
 * backslash to sqlgate's reading and half a character to the server's: a
 * quote after it ends the string for one and not the other (DESIGN.md
 * decision 11). SET NAMES is refused by the rules; the handshake and
 * COM_CHANGE_USER name the character set by collation id (MariaDB 10.11's
 * and MySQL 8's ids; the handshake has one byte for it).
 */
const UNSAFE_CHARSETS: ReadonlySet<string> = new Set(['big5', 'cp932', 'gbk', 'sjis', 'gb18030']);
const UNSAFE_COLLATIONS: ReadonlyMap<number, string> = new Map([
  ...[1, 84, 1025, 1108].map((id) => [id, 'big5'] as const),
  ...[95, 96, 1119, 1120].map((id) => [id, 'cp932'] as const),
  ...[28, 87, 1052, 1111].map((id) => [id, 'gbk'] as const),
  ...[13, 88, 1037, 1112].map((id) => [id, 'sjis'] as const),
  ...[248, 249, 250].map((id) => [id, 'gb18030'] as const),
]);

/** Statements that cannot fail on a unique key: they write no rows (MySQL checks keys as rows are written, not at COMMIT). */
const NO_KEY_ERRORS: ReadonlySet<string> = new Set(['select', 'show', 'explain', 'use', 'set', 'transaction']);

/**
 * May a statement of `j` fail with a message that names key values its user
 * may not read? A message with LOAD DATA is relayed plainly: the LOCAL INFILE
 * exchange needs the plain relay, which holds the server's request, and the
 * rows it loads are the client's own.
 */
function hidesErrorRows(j: Judgement): boolean {
  if (j.raw || j.statements.some((d) => d.facts.kind === 'load_data')) return false;
  return j.statements.some((d) => d.directives.showErrorRows !== true && !NO_KEY_ERRORS.has(d.facts.kind));
}

/**
 * Errors that quote a row's key values ('Duplicate entry 'x-TOPSECRET' for
 * key …'): the key may include columns the user may not read. The errno and
 * SQLSTATE stay, so drivers and ORMs still tell a duplicate from other errors.
 */
const KEY_VALUE_ERRORS: ReadonlySet<number> = new Set([1062, 1586, 1557, 1761, 1762]);
const HIDDEN_VALUES = '(its values are hidden by sqlgate, as they may include columns you cannot read)';

function hideDuplicateValues(payload: Buffer): Buffer | undefined {
  if (payload.length < 9) return undefined;
  const errno = payload.readUInt16LE(1);
  if (!KEY_VALUE_ERRORS.has(errno)) return undefined;
  const hasState = payload[3] === 0x23;
  const sqlstate = hasState ? payload.subarray(4, 9).toString('latin1') : '23000';
  const message = payload.subarray(hasState ? 9 : 3).toString('utf8');
  const key = /for key '([^']*)'\s*$/.exec(message)?.[1];
  const text = key !== undefined ? `Duplicate entry ${HIDDEN_VALUES} for key '${key}'` : `Duplicate entry ${HIDDEN_VALUES}`;
  return buildErr(0, errno, sqlstate, text).subarray(4);
}

const ERRORS_ONLY: RowTransform = {
  columns: () => undefined,
  check: () => undefined,
  columnDefinition: () => { throw new Error('no column is rewritten'); },
  row: (payload) => payload,
  error: hideDuplicateValues,
};

function unsafeCharsetMessage(charset: string): string {
  return `client character set ${charset} can hide a quote inside a multibyte character; connect with utf8mb4`;
}

function refusal(code: ErrorCode, text: string, rule?: string): SqlgateError {
  return new SqlgateError(code, ruleMessage(text, rule), { rule });
}

/** A duplex over `socket` whose readable side starts with `first`. */
function replaying(socket: Socket, first: Buffer): Duplex {
  const d = new Duplex({
    read() { socket.resume(); },
    write(chunk, _enc, cb) { socket.write(chunk, cb); },
    final(cb) { socket.end(); cb(); },
    destroy(err, cb) { socket.destroy(err ?? undefined); cb(err); },
  });
  d.push(first);
  socket.on('data', (c) => { if (!d.push(c)) socket.pause(); });
  socket.on('end', () => d.push(null));
  socket.on('close', () => d.destroy());
  socket.on('error', (e) => d.destroy(e));
  return d;
}

/** A printable 20-byte nonce without NUL (some clients treat it as a C string). */
function newSeed(): Buffer {
  const b = randomBytes(20);
  for (let i = 0; i < b.length; i++) b[i] = 33 + (b[i] % 94);
  return b;
}

/** MariaDB's statement id for "the statement prepared last on this connection". */
const LAST_STATEMENT = 0xffffffff;

export class ClientSession {
  readonly id: number;
  private readonly sessionName: string;
  private socket: Socket;
  private readonly source: PacketSource;
  private readonly deps: SessionDeps;
  private readonly peer: string;
  clientIp: string;
  user: string | undefined;
  private ctx: SessionContext | undefined;
  private capabilities = 0;
  private mariadbCapabilities = 0;
  private collation = 45;
  private seed = newSeed();
  private tlsActive = false;
  private upstream: UpstreamConnection | undefined;
  private readonly prepared = new Map<number, Prepared>();
  /**
   * The statement the last COM_STMT_PREPARE made, undefined when it was
   * refused or failed (or that statement was closed): what MariaDB's
   * statement id 0xFFFFFFFF names, which MariaDB Connector/J and the Node.js
   * mariadb connector send to execute in the same round trip as the prepare.
   */
  private lastPrepared: number | undefined;
  /** Sequence id the next packet we send will carry during the connection phase. */
  private seq = 0;
  private loggedIn = false;
  /** A command is being served (its response may still be streaming). */
  private busy = false;
  private ended = false;
  /** This session's place under its user's max_connections, while it has a user. */
  private userSlot: UserSlot | undefined;
  private readonly sink: Sink;

  constructor(socket: Socket, deps: SessionDeps) {
    this.socket = socket;
    this.deps = deps;
    this.id = deps.registry.allocateId();
    this.sessionName = `mysql-${this.id}`;
    this.peer = normalizeClientAddress(socket.remoteAddress ?? '');
    this.clientIp = this.peer;
    // Before login nobody may send more than a handshake needs.
    this.source = new PacketSource(socket, PRE_LOGIN_MAX_PACKET);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    this.sink = {
      // Queued, and written at the end of the event-loop turn after the audit
      // records made in it (record before result, as on the PostgreSQL door).
      // Full only when the socket itself asked for a drain: that is the event
      // `drain` below waits for.
      write: (b) => {
        if (this.socket.destroyed) return true;
        this.out.push(b);
        if (!this.flushScheduled) {
          this.flushScheduled = true;
          setImmediate(this.flush);
        }
        return !this.socket.writableNeedDrain;
      },
      drain: (resume) => {
        const socket = this.socket;
        if (socket.destroyed) return resume();
        const done = () => {
          socket.off('drain', done);
          socket.off('close', done);
          resume();
        };
        socket.once('drain', done);
        socket.once('close', done);
      },
    };
    // A client gone in the middle of a result: stop the upstream rather than read it all.
    socket.once('close', () => {
      if (this.busy) this.upstream?.destroy();
    });
  }

  /** Runs the session to its end; never rejects. */
  async run(): Promise<void> {
    try {
      await this.connectionPhase();
    } catch (e) {
      this.end();
      return;
    }
    try {
      await this.commandPhase();
    } catch {
      // closed or broken: nothing more to tell the client
    } finally {
      this.end();
    }
  }

  /** What goes to the client at the end of this event-loop turn. */
  private readonly out = new OutBatch();
  private flushScheduled = false;

  /** Writes what is queued for the client, after the audit records of the statements it finishes. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    flushToClient(this.out, this.socket, this.deps.gate);
  };

  /** Closes the client and gives back (or drops) the upstream connection. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.deps.registry.sessions.delete(this.id);
    this.userSlot?.release();
    this.userSlot = undefined;
    this.source.close();
    this.flush();
    if (!this.socket.destroyed) this.socket.end();
    setTimeout(() => this.socket.destroy(), 500).unref();
    const up = this.upstream;
    this.upstream = undefined;
    if (up) this.deps.pool.release(up);
  }

  /** KILL CONNECTION from another session of the same user. */
  kill(): void {
    this.upstream?.destroy();
    this.upstream = undefined;
    this.socket.destroy();
    this.end();
  }

  get instance(): string {
    return this.deps.instance;
  }

  get upstreamThreadId(): number | undefined {
    return this.upstream?.threadId;
  }

  private send(bytes: Buffer): boolean {
    return this.sink.write(bytes);
  }

  private sendError(seq: number, e: unknown): void {
    const m = errFrom(e);
    this.send(buildErr(seq, m.errno, m.sqlstate, m.message));
  }

  /** What a record says beyond who, where and when (which audit() fills in). */
  private audit(event: RecordFields): void {
    const full: AuditEvent = {
      time: isoTime(), node: this.deps.nodeId, session: this.sessionName, user: this.user,
      clientIp: this.clientIp, door: 'mysql', instance: this.deps.instance, database: this.ctx?.database,
      sql: event.sql, fingerprint: event.fingerprint, rules: event.rules ?? [], durationMs: event.durationMs,
      rowsReturned: event.rowsReturned, rowsAffected: event.rowsAffected, error: event.error,
      type: event.type, decision: event.decision, operation: event.operation, detail: event.detail,
    };
    try {
      this.deps.gate.audit(full);
    } catch (err) {
      // Fail closed: a session whose statements cannot be audited does not go on.
      this.socket.destroy();
      throw err;
    }
  }

  // ── connection phase ───────────────────────────────────────────────────

  private async connectionPhase(): Promise<void> {
    const timeoutMs = this.deps.listener.login_timeout_ms;
    const timer = setTimeout(() => {
      if (this.loggedIn) return;
      const spec = ERROR_CODES.LOGIN_TIMEOUT;
      const message = `sqlgate: no login within ${timeoutMs} ms`;
      if (this.seq > 0) this.send(buildErr(this.seq, spec.errno, spec.sqlstate, message));
      this.safeAudit({ type: 'login', decision: 'refused', error: { code: 'LOGIN_TIMEOUT', message } });
      this.flush();
      this.socket.destroy();
    }, timeoutMs);
    try {
      await this.login();
    } catch (e) {
      if (!(e instanceof SocketClosedError) && !this.socket.destroyed) {
        this.sendError(this.seq, e);
        const m = errFrom(e);
        this.safeAudit({ type: 'login', decision: 'refused', error: { code: m.code, message: m.message } });
      }
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  private safeAudit(event: RecordFields): void {
    try { this.audit(event); } catch { /* the socket is already closed */ }
  }

  /** Reads the next client packet and checks its sequence id. */
  private async expect(): Promise<Packet> {
    const p = await this.source.next();
    if (p.seq !== (this.seq & 0xff)) {
      throw new SqlgateError('PROTOCOL_VIOLATION', `sqlgate: packet out of order (sequence ${p.seq}, expected ${this.seq & 0xff})`);
    }
    this.seq = p.lastSeq + 1;
    return p;
  }

  private async login(): Promise<void> {
    const { gate, instance, server } = this.deps;
    this.clientIp = await this.deps.proxyHeader(this.source, this.peer);
    gate.checkAddress(instance, this.clientIp);
    let offered = (OFFERED_CAPS | (server.capabilities & FROM_UPSTREAM_CAPS) | (this.deps.tls ? Cap.SSL : 0)) >>> 0;
    // Greet a MariaDB upstream's clients as MariaDB does (CLIENT_MYSQL clear,
    // extended capabilities in the reserved bytes), so they get the same metadata.
    const maria = server.capabilities & Cap.LONG_PASSWORD ? 0 : server.mariadbCapabilities & RELAYED_MARIADB_CAPS;
    if (maria) offered = (offered & ~Cap.LONG_PASSWORD) >>> 0;
    this.send(buildHandshakeV10({
      serverVersion: server.version, connectionId: this.id, seed: this.seed, capabilities: offered,
      collation: server.collation, status: Status.AUTOCOMMIT, plugin: PLUGIN_NATIVE, mariadbCapabilities: maria,
    }));
    this.seq = 1;
    let response = parseHandshakeResponse((await this.expect()).payload);
    if (response.sslRequest) {
      if (!this.deps.tls) throw new SqlgateError('PROTOCOL_VIOLATION', 'sqlgate: TLS was not offered');
      await this.upgradeTls();
      response = parseHandshakeResponse((await this.expect()).payload);
      if (response.sslRequest) throw new SqlgateError('PROTOCOL_VIOLATION', 'sqlgate: second SSLRequest');
    }
    if (!(response.capabilities & Cap.SECURE_CONNECTION)) throw new SqlgateError('PROTOCOL_VIOLATION', 'sqlgate: client does not support secure authentication');
    this.capabilities = (response.capabilities & offered) >>> 0;
    this.mariadbCapabilities = response.mariadbCapabilities & maria;
    this.collation = response.collation || server.collation;
    if (this.deps.listener.require_tls && !this.tlsActive) {
      throw new SqlgateError('AUTH_FAILED', `sqlgate: connections to this listener must use TLS`);
    }
    const unsafe = UNSAFE_COLLATIONS.get(this.collation);
    if (unsafe) throw refusal('UNTRACKED_SETTING', unsafeCharsetMessage(unsafe), 'untracked-setting');
    const user = response.user;
    await this.authenticate(user, response.plugin, response.authData);
    this.user = user;
    await this.startSession(user, response.database);
    this.loggedIn = true;
    this.source.maxPayload = Math.min(this.deps.server.maxPacket, MAX_STATEMENT_PACKET);
    this.send(buildOk(this.seq, { status: Status.AUTOCOMMIT }));
    this.audit({ type: 'login', decision: 'allowed', detail: { tls: this.tlsActive, peer: this.peer } });
  }

  private async upgradeTls(): Promise<void> {
    // Anything still queued belongs on the plain socket, before TLS starts.
    this.flush();
    const raw = this.socket;
    const unread = this.source.takeUnread();
    // Bytes already read belong to the TLS layer: feed them through a stream
    // that replays them first; otherwise hand TLS the socket itself.
    const transport = unread.length > 0 ? replaying(raw, unread) : raw;
    const secure = new TLSSocket(transport, { isServer: true, secureContext: this.deps.tls });
    if (transport === raw) raw.resume();
    await new Promise<void>((resolve, reject) => {
      secure.once('secure', resolve);
      secure.once('error', reject);
      secure.once('close', () => reject(new SocketClosedError()));
    });
    secure.on('error', () => undefined);
    this.socket = secure;
    this.source.switchTo(secure);
    this.tlsActive = true;
  }

  private denied(user: string, data: Buffer): SqlgateError {
    return new SqlgateError('AUTH_FAILED', `Access denied for user '${user}'@'${this.clientIp}' (using password: ${data.length > 0 ? 'YES' : 'NO'})`);
  }

  /**
   * Checks the client's password proof. Plugin choice: the client's, when we
   * hold a verifier for it; otherwise an auth switch to one we can check;
   * caching_sha2 without its verifier goes to full authentication (the
   * plaintext, over TLS or RSA-encrypted) checked against the native verifier.
   */
  private async authenticate(user: string, clientPlugin: string | undefined, data: Buffer): Promise<void> {
    const v = this.deps.gate.verifiers(user);
    const canSwitch = (this.capabilities & Cap.PLUGIN_AUTH) !== 0;
    let plugin = canSwitch ? clientPlugin ?? PLUGIN_NATIVE : PLUGIN_NATIVE;
    let seed = this.seed;
    if (!v || (!v.mysql_native && !v.caching_sha2)) throw this.denied(user, data);
    // Switch when we cannot check the answer: a plugin we hold no verifier for,
    // an unknown plugin, or a caching_sha2 client that (as libmysqlclient and
    // Connector/C do when the greeting named another plugin) sent no scramble.
    let switchTo: string | undefined;
    if (plugin === PLUGIN_NATIVE) switchTo = v.mysql_native ? undefined : PLUGIN_CACHING_SHA2;
    else if (plugin === PLUGIN_CACHING_SHA2) switchTo = data.length === 0 ? PLUGIN_CACHING_SHA2 : undefined;
    else switchTo = v.mysql_native ? PLUGIN_NATIVE : PLUGIN_CACHING_SHA2;
    if (switchTo) {
      if (!canSwitch) throw this.denied(user, data);
      plugin = switchTo;
      seed = newSeed();
      this.send(buildAuthSwitchRequest(this.seq++, plugin, seed));
      data = (await this.expect()).payload;
    }
    if (plugin === PLUGIN_NATIVE) {
      if (!verifyNativeScramble(data, seed, v.mysql_native)) throw this.denied(user, data);
      return;
    }
    if (v.caching_sha2) {
      if (!verifyCachingSha2Scramble(data, seed, v.caching_sha2)) throw this.denied(user, data);
      this.send(buildAuthMoreData(this.seq++, Buffer.from([Sha2.FAST_AUTH_SUCCESS])));
      return;
    }
    // Full authentication: we need the password itself.
    this.send(buildAuthMoreData(this.seq++, Buffer.from([Sha2.PERFORM_FULL_AUTH])));
    let answer = (await this.expect()).payload;
    let password: string | undefined;
    if (this.tlsActive) {
      password = cleartextPassword(answer);
    } else {
      if (!(answer.length === 1 && answer[0] === Sha2.REQUEST_PUBLIC_KEY)) {
        // A cleartext password over an unencrypted connection is never accepted.
        throw new SqlgateError('AUTH_FAILED', 'sqlgate: caching_sha2_password full authentication needs TLS or an RSA key exchange');
      }
      this.send(buildAuthMoreData(this.seq++, Buffer.from(rsaKeys().publicKeyPem)));
      answer = (await this.expect()).payload;
      password = decryptRsaPassword(answer, seed);
    }
    if (password === undefined || !verifyCleartext(password, v)) throw this.denied(user, data.length > 0 ? data : answer);
  }

  /** After authentication: user-level checks, connection limit, upstream, database. */
  private async startSession(user: string, database: string | undefined): Promise<void> {
    const { gate, instance, registry, pool } = this.deps;
    gate.checkAddress(instance, this.clientIp, user);
    const limit = gate.policy().users[user]?.max_connections;
    // After COM_CHANGE_USER the session no longer counts for the user it was: it never counts against itself.
    this.userSlot?.release();
    this.userSlot = undefined;
    const slot = await this.deps.slots.take(user, limit);
    if (!slot) throw new SqlgateError('TOO_MANY_CONNECTIONS', `sqlgate: user '${user}' already has ${limit} connections [rule max-connections]`);
    this.userSlot = slot;
    if (this.ended) {
      slot.release();
      throw new SocketClosedError();
    }
    const target = gate.upstream(instance);
    const ctx: SessionContext = {
      user, clientIp: this.clientIp, instance, dialect: 'mysql', database: target.database, searchPath: [],
      door: 'mysql', sessionId: `mysql-${this.id}`,
    };
    this.ctx = ctx;
    registry.sessions.set(this.id, this);
    const profile = { capabilities: this.capabilities & RELAYED_CAPS, collation: this.collation, mariadbCapabilities: this.mariadbCapabilities };
    if (this.upstream && ctx.database === undefined && database === undefined && this.upstream.database !== undefined) {
      // A database cannot be unselected: take a connection that has none, so the server resolves names as the gate does.
      this.upstream.reusable = false;
      pool.release(this.upstream);
      this.upstream = undefined;
    }
    if (!this.upstream) this.upstream = await pool.acquire(profile, database ?? target.database);
    if (database !== undefined) await this.useDatabase(database);
    else if (ctx.database !== undefined && this.upstream.database !== ctx.database) {
      const s = await this.upstream.initDb(ctx.database);
      if (s.error) throw new UpstreamErr(s.error.errno, s.error.sqlstate, s.error.message);
    }
  }

  /** Judges and switches to a database (login, COM_INIT_DB, COM_CHANGE_USER); throws on refusal or upstream error. */
  private async useDatabase(database: string): Promise<void> {
    const ctx = this.ctx!;
    const judgement = await this.deps.gate.judge(ctx, `USE \`${database.replace(/`/g, '``')}\``);
    if (judgement.verdict !== 'allow') throw this.refusalError(judgement);
    const s = await this.upstream!.initDb(database);
    if (s.error) throw new UpstreamErr(s.error.errno, s.error.sqlstate, s.error.message);
    ctx.database = database;
  }

  private refusalError(j: Judgement): SqlgateError {
    const d = j.refusal ?? j.statements.find((s) => s.verdict !== 'allow');
    const e = d?.error;
    if (!e) return refusal('INTERNAL', 'statement refused');
    const err = new SqlgateError(e.code, e.message, { rule: d?.rules[0] });
    return err;
  }

  // ── command phase ──────────────────────────────────────────────────────

  /**
   * Commands are pushed to the session as they arrive (no promise per
   * packet read); each is handled to completion before the next is taken.
   * Resolves when the session is over.
   */
  private commandPhase(): Promise<void> {
    return new Promise((resolve) => {
      let over = false;
      const end = (): void => {
        if (over) return;
        over = true;
        resolve();
      };
      this.source.pump((p) => {
        if (over) return;
        if (p.seq !== 0) {
          this.sendError(p.lastSeq + 1, new SqlgateError('PROTOCOL_VIOLATION', `sqlgate: command packet with sequence ${p.seq}`));
          return end();
        }
        let cmd: Command;
        try {
          cmd = parseCommand(p.payload, this.capabilities);
        } catch (e) {
          this.sendError(1, e);
          return end();
        }
        if (cmd.kind === 'quit') return end();
        const cancel = this.pendingCancel;
        if (cancel) {
          this.pendingCancel = undefined;
          return cancel.then(() => this.runCommand(cmd, p, end));
        }
        return this.runCommand(cmd, p, end);
      }, (err) => {
        // Malformed or oversized input: say why, then close.
        if (err instanceof WireError) this.send(buildErr(0, 1153, '08S01', `sqlgate: ${err.message}`));
        end();
      });
    });
  }

  private runCommand(cmd: Command, p: Packet, end: () => void): Promise<void> {
    this.busy = true;
    return this.dispatch(cmd, p).then((go) => {
      this.busy = false;
      if (!go || !this.upstream) end();
    }, () => {
      this.busy = false;
      end();
    });
  }

  /** Handles one command; false ends the session. */
  private async dispatch(cmd: Command, p: Packet): Promise<boolean> {
    // The server says it reads backslashes literally (sql_mode
    // NO_BACKSLASH_ESCAPES), in its last answer or at login, however that
    // came about: the analysis would misread every string, so the session ends.
    if (this.upstream && this.upstream.lastStatus & Status.NO_BACKSLASH_ESCAPES) {
      this.upstream.reusable = false;
      this.sendError(1, refusal('UNTRACKED_SETTING', 'the server reads backslashes literally (sql_mode NO_BACKSLASH_ESCAPES), which sqlgate cannot follow', 'untracked-setting'));
      return false;
    }
    // Other modes that change reading (ANSI_QUOTES, PIPES_AS_CONCAT...) have no
    // status flag, and a server may impose its own client character set: both
    // are read after each login and reset, which is the only way a session
    // gets them (statements through sqlgate may not set them).
    if (this.upstream && !this.upstream.readingKnown) {
      try {
        await this.upstream.readReading();
      } catch (e) {
        this.sendError(1, e);
        return false;
      }
    }
    if (this.upstream?.readingProblem) {
      this.upstream.reusable = false;
      this.sendError(1, refusal('UNTRACKED_SETTING', `the server's own settings cannot be followed: ${this.upstream.readingProblem}`, 'untracked-setting'));
      return false;
    }
    if ((cmd.kind === 'query' || cmd.kind === 'stmt-prepare') && this.upstream?.maxAllowedPacket !== undefined && p.payload.length > this.upstream.maxAllowedPacket) {
      return this.refuseTooLarge(cmd.sql, p.payload.length, this.upstream.maxAllowedPacket);
    }
    if ('id' in cmd && cmd.id === LAST_STATEMENT && cmd.kind.startsWith('stmt-')) {
      // Forwarded with the real id, so the upstream runs what sqlgate judged, whatever it prepared last.
      if (this.lastPrepared === undefined) return this.unknownStatement(cmd.id, `mysqld_${cmd.kind.replace('-', '_')}`);
      const payload = Buffer.from(p.payload);
      payload.writeUInt32LE(this.lastPrepared, 1);
      return this.dispatch({ ...cmd, id: this.lastPrepared }, { seq: p.seq, lastSeq: p.lastSeq, payload });
    }
    const forward = () => framePayload(p.payload, 0);
    const up = this.upstream!;
    try {
      switch (cmd.kind) {
        case 'query': return await this.onQuery(cmd.sql, forward());
        case 'init-db': return await this.onInitDb(cmd.database, forward());
        case 'ping':
        case 'statistics':
          await this.relay(forward(), 'single');
          return true;
        case 'set-option':
          // The multi-statement switch outlives COM_RESET_CONNECTION: do not pool this connection again.
          up.reusable = false;
          await this.relay(forward(), 'single');
          return true;
        case 'reset-connection': {
          up.readingKnown = false;
          const s = await this.relay(forward(), 'single');
          if (!s.error) { for (const p of this.prepared.values()) this.closeCursor(p); this.prepared.clear(); this.lastPrepared = undefined; }
          return true;
        }
        case 'process-kill': return await this.onKill(cmd.id, 'connection', `KILL ${cmd.id}`);
        case 'field-list': return await this.onFieldList(cmd.table, forward());
        case 'stmt-prepare': return await this.onPrepare(cmd.sql, forward());
        case 'stmt-execute': return await this.onExecute(cmd.id, cmd.flags, forward());
        case 'stmt-fetch': {
          const st = this.prepared.get(cmd.id);
          if (!st) return this.unknownStatement(cmd.id, 'mysqld_stmt_fetch');
          const started = Date.now();
          const s = await this.onFetch(st, forward());
          // Rows read through a cursor are accounted like any others.
          if (s) this.auditStatements(st.judgement, st.sql, s, Date.now() - started, undefined, { phase: 'fetch' });
          return true;
        }
        case 'stmt-reset': {
          if (!this.prepared.has(cmd.id)) return this.unknownStatement(cmd.id, 'mysqld_stmt_reset');
          await this.relay(forward(), 'single');
          return true;
        }
        case 'stmt-close':
          // No response, from the server or from us.
          const closing = this.prepared.get(cmd.id);
          if (closing) this.closeCursor(closing);
          if (this.lastPrepared === cmd.id) this.lastPrepared = undefined;
          if (this.prepared.delete(cmd.id)) up.write(forward());
          return true;
        case 'stmt-send-long-data':
          if (this.prepared.has(cmd.id)) up.write(forward());
          return true;
        case 'change-user': return await this.onChangeUser(cmd);
        case 'unsupported':
          this.sendError(1, refusal('UNSUPPORTED', `command 0x${cmd.code.toString(16).padStart(2, '0')} is not supported through sqlgate`));
          return true;
        default:
          return false;
      }
    } catch (e) {
      if (e instanceof UpstreamErr) {
        this.send(buildErr(1, e.errno, e.sqlstate, e.message));
        return true;
      }
      if (e instanceof SocketClosedError) return false;
      this.sendError(1, e);
      // An upstream failure leaves the connection in an unknown state: end the session.
      return !(e instanceof SqlgateError && e.code === 'UPSTREAM_UNAVAILABLE');
    }
  }

  /** A statement the server would refuse for its length: answered and audited (its first kilobyte) without analysing it; the session goes on. */
  private refuseTooLarge(sql: string, bytes: number, max: number): boolean {
    const e = new SqlgateError('STATEMENT_TOO_LARGE', `sqlgate: the statement is ${bytes} bytes, more than the server's max_allowed_packet (${max} bytes)`);
    this.sendError(1, e);
    this.audit({ type: 'statement', decision: 'refused', sql: `${sql.slice(0, 1024)}…`, error: { code: e.code, message: e.message }, detail: { bytes, maxAllowedPacket: max } });
    return true;
  }

  private relay(command: Buffer | undefined, kind: Parameters<UpstreamConnection['relay']>[1], cursor = false, maxRows?: number, maxBytes?: ByteLimit) {
    return this.upstream!.relay(command, kind, this.sink, cursor, maxRows, maxBytes);
  }

  private unknownStatement(id: number, where: string): boolean {
    this.send(buildErr(1, 1243, 'HY000', `Unknown prepared statement handler (${id}) given to ${where}`));
    return true;
  }

  /**
   * The judgement when it is at hand and allows the message outright (no
   * plan check, no multi-statement masks): no turn of the event loop. Anything
   * else goes to judgeOrRefuse, which waits where it must and words refusals.
   */
  private judgeNow(sql: string): Judgement | undefined {
    const j = this.deps.gate.judgeNow?.(this.ctx!, sql);
    if (!j || j.verdict !== 'allow') return undefined;
    for (const d of j.statements) {
      if (d.directives.bigTables.length > 0 || (j.statements.length > 1 && d.directives.masks.length > 0)) return undefined;
    }
    return j;
  }

  /** Judges; on refusal answers ERR (the session lives on), audits every statement, and returns undefined. */
  private async judgeOrRefuse(sql: string, detail?: Record<string, unknown>): Promise<Judgement | undefined> {
    const started = Date.now();
    let j: Judgement;
    try {
      j = await this.deps.gate.judge(this.ctx!, sql);
    } catch (e) {
      const m = errFrom(e);
      this.send(buildErr(1, m.errno, m.sqlstate, m.message));
      this.audit({ type: 'statement', decision: 'refused', sql, error: { code: m.code, message: m.message }, durationMs: Date.now() - started, detail });
      return undefined;
    }
    if (j.verdict === 'allow') {
      // Masks are applied to one result set; several statements with masks are refused rather than guessed at.
      const masked = j.statements.length > 1 && j.statements.some((d) => d.directives.masks.length > 0);
      if (!masked) {
        const scan = await this.planCheck(j);
        if (!scan) return j;
        this.send(buildErr(1, scan.errno, scan.sqlstate, scan.message));
        this.auditStatements(j, sql, undefined, Date.now() - started, { code: scan.code, message: scan.message }, { ...detail, rule: scan.rule });
        return undefined;
      }
      // Fail closed until the MySQL relay rewrites masked fields.
      const e = refusal('UNSUPPORTED', 'masked columns in a multi-statement are not supported; send the statements one by one', 'masking');
      this.send(buildErr(1, e.errno, e.sqlstate, e.message));
      this.auditStatements(j, sql, undefined, Date.now() - started, { code: e.code, message: e.message }, detail);
      return undefined;
    }
    const e = this.refusalError(j);
    this.send(buildErr(1, e.errno, e.sqlstate, e.message));
    this.auditStatements(j, sql, undefined, Date.now() - started, { code: e.code, message: e.message }, detail);
    return undefined;
  }

  /**
   * Statements reading tables the catalog estimates as big are explained on
   * the user's own upstream session first; a full scan refuses the message.
   */
  private async planCheck(j: Judgement): Promise<SqlgateError | undefined> {
    for (const d of j.statements) {
      const big = d.directives.bigTables;
      if (big.length === 0) continue;
      const verdict = await this.deps.fullScanGuard.check('mysql', d.facts.text, d.facts.fingerprint, big,
        (sql) => this.upstream!.query(sql), d.directives.fullScanMaxRows);
      if (!verdict.ok) return fullScanError(verdict);
    }
    return undefined;
  }

  /**
   * Starts the statement timer: past `timeoutMs` the statement is cancelled
   * on the server with KILL QUERY from a side connection (DESIGN.md decision 5).
   */
  private startTimer(j: Judgement): { stop(): boolean } {
    let ms: number | undefined;
    for (const d of j.statements) {
      const t = d.directives.timeoutMs;
      if (t !== undefined && (ms === undefined || t < ms)) ms = t;
    }
    if (ms === undefined) return { stop: () => false };
    let fired = false;
    let running = true;
    const up = this.upstream!;
    const timer = setTimeout(() => {
      fired = true;
      // The client gets the protocol's timeout error, not whatever the killed statement returns.
      up.forceError(TIMEOUT_ERR);
      // The next command waits for the cancel, so KILL QUERY can only hit this statement.
      this.pendingCancel = this.cancelOnServer(up, () => running);
    }, ms);
    return { stop: () => { clearTimeout(timer); running = false; return fired; } };
  }

  /** A KILL QUERY in progress; the next command waits for it. */
  private pendingCancel: Promise<void> | undefined;

  private async cancelOnServer(up: UpstreamConnection, stillRunning: () => boolean): Promise<void> {
    const { pool } = this.deps;
    try {
      const side = await pool.acquire(up.profile, undefined);
      try {
        if (stillRunning()) await side.run(side.queryPacket(`KILL QUERY ${up.threadId}`), 'query');
      } finally {
        pool.release(side);
      }
    } catch {
      // The statement could not be cancelled: the session is unusable, end it.
      up.destroy();
    }
  }

  /** The rewrite of a single statement's masked outputs, or undefined when nothing is masked. */
  private maskTransform(j: Judgement, binary: boolean): { transform: RowTransform; refused(): SqlgateError | undefined } | undefined {
    const masks = j.statements.length === 1 ? j.statements[0].directives.masks : [];
    if (masks.length === 0) return undefined;
    const key = maskKey(this.deps.gate.policy().mask_key_env);
    const fields = new Map<number, FieldRewrite>(masks.map((m) => [m.index, fieldMask(m, key)]));
    const byIndex: FieldRewrite[] = [];
    for (const [i, f] of fields) byIndex[i] = f;
    let refused: SqlgateError | undefined;
    const transform: RowTransform = {
      columns: () => new Set(fields.keys()),
      check: (defs) => {
        for (const m of masks) {
          const def = defs[m.index];
          if (def && provenanceMatches(def, m.column)) continue;
          const c = m.column;
          refused = new SqlgateError('PROVENANCE_MISMATCH', ruleMessage(
            `result column ${m.index + 1} does not come from ${c.database}.${c.table}.${c.column} as the analysis found; refusing rather than guessing`, m.rule), { rule: m.rule });
          return buildErr(1, refused.errno, refused.sqlstate, refused.message);
        }
        return undefined;
      },
      columnDefinition: (def) => rewriteColumnDefinition(def),
      row: (payload, defs) => (binary ? rewriteBinaryRow(payload, defs, fields) : rewriteTextRow(payload, defs.length, fields)),
      rowInto: binary ? undefined : (out, payload, defs, seq) => {
        encodeRewrittenTextRow(out, payload, defs.length, byIndex, seq);
        return true;
      },
    };
    return { transform, refused: () => refused };
  }

  /** Relays a statement's result, masked when its decision says so, cut at its row cap and its daily-quota reservation. */
  private async relayResult(j: Judgement, packet: Buffer, binary: boolean, tickets: readonly QuotaTicket[] = []): Promise<{ s: ResponseSummary & { heldBytes?: Buffer }; refused: SqlgateError | undefined }> {
    const mt = this.maskTransform(j, binary);
    const bytes = byteLimit(j);
    const cap = minCap(rowCap(j), quotaCap(tickets));
    const hide = hidesErrorRows(j);
    if (!mt && !hide) return { s: await this.relay(packet, 'query', false, cap, bytes), refused: undefined };
    // Writes answer with OK or ERR, never rows: walking their packets one by one costs nothing that shows.
    const transform: RowTransform = mt ? { ...mt.transform, ...(hide ? { error: hideDuplicateValues } : {}) } : ERRORS_ONLY;
    const s = await this.upstream!.relayTransformed(packet, 'query', this.sink, transform, cap, bytes);
    return { s, refused: mt?.refused() };
  }

  /**
   * Charges a judged message to the user's daily quotas before it runs (rows
   * reserved up to each statement's cap, the statement counted). Refused:
   * the ERR is sent, the refusal audited, and undefined returned.
   */
  private async charge(j: Judgement, sql: string, started: number, detail?: Record<string, unknown>): Promise<QuotaTicket[] | undefined> {
    if (j.raw) return [];
    try {
      return await chargeMessage(this.deps.gate.quota, this.ctx!.user, j.statements);
    } catch (e) {
      const m = errFrom(e);
      this.send(buildErr(1, m.errno, m.sqlstate, m.message));
      this.auditStatements(j, sql, undefined, Date.now() - started, { code: m.code, message: m.message }, { ...detail, rule: (e as SqlgateError).rule });
      return undefined;
    }
  }

  /** Gives back what each statement reserved and did not send. */
  private settleAll(tickets: readonly QuotaTicket[], s: ResponseSummary | undefined): void {
    let left = s?.rows ?? 0;
    tickets.forEach((t, i) => {
      const sent = Math.min(left, s?.results[i]?.rows ?? left);
      left -= sent;
      settle(this.deps.gate.quota, t, sent);
    });
  }

  /** One audit record per statement of a judged message. */
  private auditStatements(j: Judgement, sql: string, s: ResponseSummary | undefined, durationMs: number,
    refused: { code: string; message: string } | undefined, detail?: Record<string, unknown>, as: 'refused' | 'failed' = 'refused'): void {
    const statements: readonly (Decision | undefined)[] = j.statements.length > 0 ? j.statements : [undefined];
    const results = s?.results ?? [];
    const oneToOne = results.length <= statements.length;
    statements.forEach((d, i) => {
      const text = statements.length === 1 ? sql : d?.facts.text ?? sql;
      const base = { type: 'statement' as const, sql: text, fingerprint: d?.facts.fingerprint, rules: d?.rules ?? [], durationMs, detail: d?.skipped.length ? { ...detail, skipped: d.skipped } : detail };
      if (refused && as === 'failed') {
        const r = s?.results[i];
        this.audit({ ...base, decision: 'failed', rowsReturned: r?.rows, rowsAffected: r?.affectedRows, error: refused });
        return;
      }
      if (refused) {
        this.audit({ ...base, decision: d?.verdict === 'needs-approval' ? 'needs-approval' : 'refused', rules: d?.rules.length ? d.rules : j.refusal?.rules ?? [], error: refused });
        return;
      }
      const r = oneToOne ? results[i] : i === 0 ? { rows: s!.rows, affectedRows: s!.affectedRows, error: s!.error } : undefined;
      const earlierFailed = oneToOne && i >= results.length && results.length > 0 && results[results.length - 1].error;
      if (r?.error || earlierFailed) {
        const message = r?.error ? r.error.message : 'not run: an earlier statement failed';
        this.audit({ ...base, decision: 'failed', rowsReturned: r?.rows, error: { code: r?.error ? `ER_${r.error.errno}` : 'NOT_RUN', message } });
        return;
      }
      if (s?.tooLarge) {
        this.audit({ ...base, decision: 'cut', rowsReturned: r?.rows, rules: [...base.rules, 'max-result-bytes'], error: { code: 'RESULT_TOO_LARGE', message: 'result over the size limit; ended with an error' } });
        return;
      }
      if (d && detail?.phase !== 'prepare') this.deps.gate.executed?.(this.ctx!, d);
      const cut = s !== undefined && s.cutRows > 0 && d?.directives.maxRows !== undefined;
      const masks = detail?.phase === 'prepare' ? [] : d?.directives.masks ?? [];
      const decision = j.raw ? 'raw' : cut ? 'cut' : masks.length > 0 ? 'masked' : 'allowed';
      // The common record (allowed, nothing cut or masked) is built without copies: one per statement.
      const extra = cut || masks.length > 0 ? { ...(cut ? { cutRows: s!.cutRows } : {}), ...(masks.length > 0 ? { masked: masks.map((m) => `${m.column.database}.${m.column.table}.${m.column.column}:${m.kind}`) } : {}) } : undefined;
      this.audit({
        type: 'statement', sql: text, fingerprint: base.fingerprint, rules: base.rules, durationMs, decision,
        rowsReturned: r?.rows, rowsAffected: r?.affectedRows, detail: extra ? { ...base.detail, ...extra } : base.detail,
      });
    });
  }

  private async onQuery(sql: string, packet: Buffer, detail?: Record<string, unknown>): Promise<boolean> {
    const kill = KILL.exec(sql);
    if (kill) return this.onKill(Number(kill[2]), (kill[1] ?? 'connection').toLowerCase() as 'connection' | 'query', sql);
    // (A statement resolved from a variable comes back here with the client's text in `detail`.)
    if (detail === undefined) {
      const m = setFromVariable(sql);
      if (m && VALUE_JUDGED_SETTINGS.has(m.name.toLowerCase())) return this.onSetFromVariable(m.name, m.variable, sql, packet);
    }
    const j = this.judgeNow(sql) ?? await this.judgeOrRefuse(sql, detail);
    if (!j) return true;
    const started = Date.now();
    const tickets = (!j.raw && chargeMessageNow(this.deps.gate.quota, this.ctx!.user, j.statements)) || await this.charge(j, sql, started);
    if (!tickets) return true;
    const timer = this.startTimer(j);
    let s: (ResponseSummary & { heldBytes?: Buffer }) | undefined;
    try {
      const r = await this.relayResult(j, packet, false, tickets);
      s = r.s;
      if (r.refused) {
        timer.stop();
        this.auditStatements(j, sql, undefined, Date.now() - started, { code: r.refused.code, message: r.refused.message }, detail);
        return true;
      }
      if (s.localInfile !== undefined) s = await this.onLocalInfile(j, s);
    } catch (e) {
      timer.stop();
      const m = errFrom(e);
      this.auditStatements(j, sql, undefined, Date.now() - started, { code: 'UPSTREAM_UNAVAILABLE', message: m.message }, detail, 'failed');
      throw e instanceof SqlgateError ? e : new SqlgateError('UPSTREAM_UNAVAILABLE', m.message);
    } finally {
      this.settleAll(tickets, s);
    }
    if (timer.stop()) {
      this.auditStatements(j, sql, s, Date.now() - started, { code: 'STATEMENT_TIMEOUT', message: TIMEOUT_MESSAGE }, { ...detail, rule: 'statement-timeout' }, 'failed');
    } else {
      this.auditStatements(j, sql, s, Date.now() - started, undefined, detail);
    }
    if (j.statements.some((d) => d.facts.sessionChange?.kind === 'use') || /\buse\b/i.test(sql)) await this.refreshDatabase();
    return true;
  }

  /**
   * mysqldump saves settings in user variables at the start of a file and
   * restores them at its end: the rules must see the value, so it is read
   * from the session, and the statement runs as the SET of that constant,
   * judged as any other. The read and the SET follow each other on this
   * session, so the value cannot change in between. A value that is not a
   * plain list of words is left to the refusal it gets unread.
   */
  private async onSetFromVariable(name: string, variable: string, sql: string, packet: Buffer): Promise<boolean> {
    const up = this.upstream!;
    const value = (await up.query(`SELECT @${variable}`))[0]?.[0];
    const detail = { clientText: sql };
    if (value === null || value === undefined || !/^[A-Za-z0-9_,]*$/.test(value)) return this.onQuery(sql, packet, detail);
    const resolved = `SET SESSION ${name} = '${value}'`;
    return this.onQuery(resolved, up.queryPacket(resolved), detail);
  }

  /** Asks the server which database is current (after USE, which may be inside a multi-statement). */
  private async refreshDatabase(): Promise<void> {
    const up = this.upstream!;
    const rows = await up.query('SELECT DATABASE()');
    const db = rows[0]?.[0] ?? undefined;
    this.ctx!.database = db;
    up.database = db;
  }

  /**
   * The server asks for a client file. Relayed only when the judgement
   * covered it (a LOAD DATA the policy allows, or raw passthrough); otherwise
   * the server gets an empty file and the client an error.
   */
  private async onLocalInfile(j: Judgement, s: ResponseSummary & { heldBytes?: Buffer }): Promise<ResponseSummary> {
    const up = this.upstream!;
    const allowed = (this.capabilities & Cap.LOCAL_FILES) !== 0
      && (j.raw || j.statements.some((d) => d.facts.dynamic.some((x) => x.kind === 'load-data')));
    if (!allowed) {
      up.write(framePayload(EMPTY, s.lastSeq + 1));
      await up.relay(undefined, 'query', undefined);
      const e = refusal('DYNAMIC_SQL_DENIED', 'LOAD DATA LOCAL INFILE is not allowed by the policy', 'dynamic-sql');
      this.send(buildErr(1, e.errno, e.sqlstate, e.message));
      return { ...s, results: [{ rows: 0, affectedRows: 0, error: { errno: e.errno, sqlstate: e.sqlstate, message: e.message } }] };
    }
    this.send(s.heldBytes!);
    for (;;) {
      const p = await this.source.next();
      up.write(framePayload(p.payload, p.seq));
      if (p.payload.length === 0) break;
    }
    return this.relay(undefined, 'query');
  }

  private async onInitDb(database: string, packet: Buffer): Promise<boolean> {
    const sql = `USE \`${database.replace(/`/g, '``')}\``;
    const j = await this.judgeOrRefuse(sql, { command: 'COM_INIT_DB' });
    if (!j) return true;
    const started = Date.now();
    const s = await this.relay(packet, 'single');
    if (!s.error) {
      this.ctx!.database = database;
      this.upstream!.database = database;
    }
    this.auditStatements(j, sql, s, Date.now() - started, undefined, { command: 'COM_INIT_DB' });
    return true;
  }

  private async onFieldList(table: string, packet: Buffer): Promise<boolean> {
    const sql = `SHOW COLUMNS FROM \`${table.replace(/`/g, '``')}\``;
    const j = await this.judgeOrRefuse(sql, { command: 'COM_FIELD_LIST' });
    if (!j) return true;
    const started = Date.now();
    const s = await this.relay(packet, 'field-list');
    this.auditStatements(j, sql, s, Date.now() - started, undefined, { command: 'COM_FIELD_LIST' });
    return true;
  }

  private async onPrepare(sql: string, packet: Buffer): Promise<boolean> {
    this.lastPrepared = undefined;
    const j = await this.judgeOrRefuse(sql, { phase: 'prepare' });
    if (!j) return true;
    const started = Date.now();
    const s = await this.relay(packet, 'prepare');
    if (!s.error && s.statementId !== undefined) this.prepared.set(s.statementId, { sql, judgement: j });
    this.lastPrepared = s.error ? undefined : s.statementId;
    this.auditStatements(j, sql, { ...s, results: [{ rows: 0, affectedRows: 0, error: s.error }] }, Date.now() - started, undefined, { phase: 'prepare' });
    return true;
  }

  private async onExecute(id: number, flags: number, packet: Buffer): Promise<boolean> {
    const st = this.prepared.get(id);
    if (!st) return this.unknownStatement(id, 'mysqld_stmt_execute');
    const started = Date.now();
    const cursor = (flags & 0x07) !== 0;
    this.closeCursor(st);
    const j = st.judgement;
    const tickets = (!j.raw && chargeMessageNow(this.deps.gate.quota, this.ctx!.user, j.statements)) || await this.charge(j, st.sql, started, { phase: 'execute' });
    if (!tickets) return true;
    const timer = this.startTimer(st.judgement);
    let s: ResponseSummary | undefined;
    let keepTicket = false;
    try {
      const r = await this.relayResult(st.judgement, packet, true, tickets);
      s = r.s;
      if (r.refused) {
        timer.stop();
        this.auditStatements(st.judgement, st.sql, undefined, Date.now() - started, { code: r.refused.code, message: r.refused.message }, { phase: 'execute' });
        return true;
      }
      // With a cursor the rows come with COM_STMT_FETCH: remember what the masks and limits need.
      if (cursor && !s.error && s.status & Status.CURSOR_EXISTS) {
        st.cursor = { columns: s.columns, rows: 0, bytes: 0, done: false, ticket: tickets[0] ?? NO_TICKET };
        keepTicket = true;
      }
    } catch (e) {
      timer.stop();
      throw e;
    } finally {
      if (!keepTicket) this.settleAll(tickets, s);
    }
    if (timer.stop()) {
      this.auditStatements(st.judgement, st.sql, s, Date.now() - started, { code: 'STATEMENT_TIMEOUT', message: TIMEOUT_MESSAGE }, { phase: 'execute', rule: 'statement-timeout' }, 'failed');
    } else {
      this.auditStatements(st.judgement, st.sql, s, Date.now() - started, undefined, { phase: 'execute' });
    }
    if (st.judgement.statements.some((d) => d.facts.sessionChange?.kind === 'use')) await this.refreshDatabase();
    return true;
  }

  /**
   * COM_STMT_FETCH: rows of an open cursor, masked and capped across fetches
   * like a result read at once. Past the cap the cursor answers "no more rows"
   * itself, without asking the server.
   */
  private async onFetch(st: Prepared, packet: Buffer): Promise<ResponseSummary | undefined> {
    const c = st.cursor;
    if (!c) return this.relay(packet, 'fetch');
    if (c.done) {
      const status = Status.AUTOCOMMIT | Status.LAST_ROW_SENT;
      this.send(this.upstream!.deprecateEof ? buildOk(1, { status, warnings: 1 }, true) : buildEof(1, status, 1));
      return undefined;
    }
    const cap = minCap(rowCap(st.judgement), c.ticket.rows);
    const limit = byteLimit(st.judgement);
    const rowsLeft = cap === undefined ? undefined : Math.max(0, cap - c.rows);
    const bytesLeft = limit === undefined ? undefined : { limit: Math.max(0, limit.limit - c.bytes), err: limit.err };
    const mt = this.maskTransform(st.judgement, true);
    const s = mt
      ? await this.upstream!.relayTransformed(packet, 'fetch', this.sink, mt.transform, rowsLeft, bytesLeft, c.columns)
      : await this.relay(packet, 'fetch', false, rowsLeft, bytesLeft);
    c.rows += s.rows;
    c.bytes += s.rowBytes;
    if (s.cutRows > 0 || s.tooLarge) c.done = true;
    if (c.done || s.error || s.status & Status.LAST_ROW_SENT) this.settleCursor(c);
    return s;
  }

  /** Gives back what a cursor reserved and did not send, once. */
  private settleCursor(c: NonNullable<Prepared['cursor']>): void {
    settle(this.deps.gate.quota, c.ticket, c.rows);
    c.ticket = NO_TICKET;
  }

  private closeCursor(st: Prepared): void {
    if (st.cursor) this.settleCursor(st.cursor);
    st.cursor = undefined;
  }

  /** KILL / COM_PROCESS_KILL: only sessions of the same user, by the ids sqlgate handed out. */
  private async onKill(targetId: number, mode: 'connection' | 'query', sql: string): Promise<boolean> {
    if (this.deps.registry.elsewhere(targetId)) return this.onKillElsewhere(targetId, mode, sql);
    const target = this.deps.registry.sessions.get(targetId);
    const started = Date.now();
    // Thread ids are per upstream server: only sessions of this user on this instance.
    if (!target || target.user !== this.user || target.instance !== this.deps.instance) {
      const message = `Unknown thread id: ${targetId}`;
      this.send(buildErr(1, 1094, 'HY000', message));
      this.audit({ type: 'statement', decision: 'refused', sql, rules: ['own-sessions-only'], error: { code: 'ER_NO_SUCH_THREAD', message }, durationMs: 0 });
      return true;
    }
    if (mode === 'query') {
      const tid = target.upstreamThreadId;
      if (tid !== undefined && target !== this) await this.upstream!.run(this.upstream!.queryPacket(`KILL QUERY ${tid}`), 'query');
    } else if (target !== this) {
      target.kill();
    }
    this.send(buildOk(1, { status: Status.AUTOCOMMIT }));
    this.audit({ type: 'statement', decision: 'allowed', sql, rules: [], durationMs: Date.now() - started, detail: { kill: mode, target: targetId } });
    return target !== this || mode === 'query';
  }

  /** KILL of a connection another worker of the cluster serves: that worker checks and answers. */
  private async onKillElsewhere(targetId: number, mode: 'connection' | 'query', sql: string): Promise<boolean> {
    const started = Date.now();
    const answer = await killElsewhere({ id: targetId, user: this.user ?? '', instance: this.deps.instance, mode });
    if (!answer.ok) {
      const message = `Unknown thread id: ${targetId}`;
      this.send(buildErr(1, 1094, 'HY000', message));
      this.audit({ type: 'statement', decision: 'refused', sql, rules: ['own-sessions-only'], error: { code: 'ER_NO_SUCH_THREAD', message }, durationMs: 0 });
      return true;
    }
    if (mode === 'query' && answer.threadId !== undefined) await this.upstream!.run(this.upstream!.queryPacket(`KILL QUERY ${answer.threadId}`), 'query');
    this.send(buildOk(1, { status: Status.AUTOCOMMIT }));
    this.audit({ type: 'statement', decision: 'allowed', sql, rules: [], durationMs: Date.now() - started, detail: { kill: mode, target: targetId, worker: targetId % (workerInfo()?.count ?? 1) } });
    return true;
  }

  /**
   * COM_CHANGE_USER may name another character set: the server must read the
   * client's bytes the way the client writes them (DESIGN.md decision 11).
   */
  private async switchCollation(id: number): Promise<void> {
    const up = this.upstream!;
    const rows = await up.query(`SELECT CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLLATIONS WHERE ID = ${Number(id) | 0}`);
    const [charset, collation] = rows[0] ?? [];
    if (!charset || !collation || !/^\w+$/.test(charset) || !/^\w+$/.test(collation)) {
      throw refusal('UNTRACKED_SETTING', `collation ${id} is not known to the server`, 'session-settings');
    }
    if (UNSAFE_CHARSETS.has(charset.toLowerCase())) throw refusal('UNTRACKED_SETTING', unsafeCharsetMessage(charset.toLowerCase()), 'untracked-setting');
    const s = await up.run(up.queryPacket(`SET NAMES ${charset} COLLATE ${collation}`), 'query');
    if (s.error) throw new UpstreamErr(s.error.errno, s.error.sqlstate, s.error.message);
    this.collation = id;
    // Pooled connections are matched by the collation they logged in with.
    up.reusable = false;
  }

  /** COM_CHANGE_USER: the new user authenticates against sqlgate's users; a failure ends the session. */
  private async onChangeUser(cmd: Extract<Command, { kind: 'change-user' }>): Promise<boolean> {
    this.seq = 1;
    const previous = this.user;
    try {
      await this.authenticate(cmd.user, cmd.plugin, cmd.authData);
      this.user = cmd.user;
      this.deps.registry.sessions.delete(this.id);
      { for (const p of this.prepared.values()) this.closeCursor(p); this.prepared.clear(); }
      if (!(await this.upstream!.reset())) throw new SqlgateError('UPSTREAM_UNAVAILABLE', 'sqlgate: upstream session could not be reset');
      if (cmd.collation !== undefined && cmd.collation !== this.collation) await this.switchCollation(cmd.collation);
      await this.startSession(cmd.user, cmd.database);
      this.send(buildOk(this.seq, { status: Status.AUTOCOMMIT }));
      this.audit({ type: 'login', decision: 'allowed', detail: { changeUser: true, previous } });
      return true;
    } catch (e) {
      if (e instanceof UpstreamErr) this.send(buildErr(this.seq, e.errno, e.sqlstate, e.message));
      else this.sendError(this.seq, e);
      const m = errFrom(e);
      this.user = cmd.user;
      this.safeAudit({ type: 'login', decision: 'refused', error: { code: m.code, message: m.message }, detail: { changeUser: true, previous } });
      return false;
    }
  }
}
