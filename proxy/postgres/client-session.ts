/**
 * sqlgate acting as a PostgreSQL server towards one client: startup, TLS,
 * authentication against stored verifiers, then every statement judged by the
 * gate before it reaches the upstream, results relayed as bytes, one audit
 * record per statement.
 *
 * Refusals ride on the upstream's own error handling: a refused statement is
 * replaced by a statement that fails upstream with a syntax error, and the
 * upstream's ErrorResponse is swapped for sqlgate's. The upstream then skips
 * to Sync, aborts a transaction block, and reports the transaction status, all
 * exactly as PostgreSQL would have for the refused statement.
 * Reference: https://www.postgresql.org/docs/15/protocol-flow.html
 */
import { chargeMessage, chargeMessageNow, chargeStatement, NO_TICKET, settle, type QuotaTicket } from '../quota-charge.js';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContextOptions } from 'node:tls';
import { serialize } from 'pg-protocol';
import { isoTime, type AuditEvent } from '../../governance/audit/event.js';
import type { Decision, Judgement, MaskDirective, SessionContext } from '../../governance/decision.js';
import { ERROR_CODES, SqlgateError, ruleMessage, type ErrorCode } from '../../governance/errors.js';
import type { Gate } from '../../governance/gate.js';
import { ScramError, ScramServer, parseScramVerifier } from '../../governance/auth/scram.js';
import { checkCleartext, checkMd5Response } from '../../governance/auth/password-checks.js';
import type { Listener } from '../../rules/policy-schema.js';
import * as bw from '../../wire/postgres/backend-writer.js';
import {
  parseCommandComplete, parseErrorFields, parseParameterStatus, parseReadyForQuery, rowDescriptionFields, rowDescriptionOrigins, tagRows,
} from '../../wire/postgres/backend-parser.js';
import {
  parseFrontendMessage, parsePasswordMessage, parseSaslInitialResponse, parseStartupPacket,
} from '../../wire/postgres/frontend-parser.js';
import {
  BackendCode, PROTOCOL_3_0, type ErrorFields, type Frame, type FrontendMessage, type TransactionStatus,
} from '../../wire/postgres/messages.js';
import type { SessionPool } from './pool.js';
import type { UserSlot, UserSlots } from '../user-slots.js';
import { SocketInput } from './socket-input.js';
import { loadTransactionCatalog } from './transaction-catalog.js';
import type { Catalog } from '../../governance/catalog/catalog.js';
import { FULL_SCAN_RULE, FullScanGuard, fullScanError } from '../../governance/plan/index.js';
// Masking semantics are shared with the MySQL door (same text, same keyed hash).
import { fieldMask, maskKey } from '../mask.js';
import type { FieldRewrite } from '../../wire/mysql/row-rewrite.js';
import { OutBatch } from '../../wire/out-batch.js';
import { flushToClient } from '../write-batch.js';
import { cancelElsewhere } from '../cluster.js';
import { UpstreamLoginError, UpstreamSession } from './upstream-session.js';
import type { UpstreamSessionPool } from './upstream-pool.js';

/** What a session needs from its listener. */
export interface ClientSessionOptions {
  readonly gate: Gate;
  readonly listener: Listener;
  readonly instance: string;
  readonly pool: SessionPool;
  /** Per-user connection slots (users.<name>.max_connections), counted over the node. */
  readonly slots: UserSlots;
  /** TLS material; undefined means SSLRequest is declined. */
  readonly tls: SecureContextOptions | undefined;
  /** The client address (the PROXY header's when a trusted proxy sent one). */
  readonly clientIp: string;
  readonly node: string;
  /** Set when the address was refused: the session only answers the startup packet with this. */
  readonly refused?: SqlgateError;
  /** The listener's full-scan guard (its verdict cache is shared by all sessions). */
  readonly fullScan: FullScanGuard;
  /** Upstream connections left idle by earlier sessions; without it each session logs in anew. */
  readonly upstreams?: UpstreamSessionPool;
}

/** Text that fails in the upstream's raw parser, before any catalog access: stands in for a refused statement. */
const POISON_SQL = 'sqlgate refused statement';

/** Startup parameters passed on; anything else could change how text is read or what runs, so it is refused. */
const STARTUP_SETTINGS = new Set([
  'application_name', 'client_encoding', 'datestyle', 'timezone', 'extra_float_digits', 'intervalstyle',
  'search_path', 'statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout', 'standard_conforming_strings',
]);

/** Client encodings whose multibyte characters can contain ASCII bytes such as `'` or `\`: sqlgate would lex differently. */
const UNSAFE_ENCODINGS = new Set(['SJIS', 'SHIFTJIS', 'BIG5', 'GBK', 'UHC', 'GB18030', 'JOHAB', 'WIN932', 'WIN936', 'WIN949', 'WIN950', 'CP932', 'CP936', 'CP949', 'CP950']);

function unsafeEncoding(v: string): boolean {
  return UNSAFE_ENCODINGS.has(v.toUpperCase().replace(/[-_]/g, ''));
}

/**
 * Why a setting the server reports (ParameterStatus) leaves its text
 * unreadable to the analysis, whatever changed it: the rules refuse the SET
 * forms they see, and this catches the rest (RESET ALL to a server default
 * that is off, a function's SET clause, a role's or database's defaults).
 */
function unreadableParameter(name: string, value: string): string | undefined {
  if (name === 'client_encoding' && unsafeEncoding(value)) return `sqlgate: client_encoding ${value} is not supported`;
  if (name === 'standard_conforming_strings' && value.toLowerCase() !== 'on') {
    return `sqlgate: the server reports standard_conforming_strings ${value}; sqlgate reads strings as standard-conforming and cannot go on`;
  }
  return undefined;
}

/** What an integrity error's detail says instead of the row's values (see `clientError`). */
const ROW_VALUES_HIDDEN = 'sqlgate: the values of the row are hidden, as they may include columns you cannot read';

/** Statements that may change search_path or who `$user` is: re-read it from the server afterwards. */
const PATH_SUSPECT = /search_path|set_config|\breset\b|\bdiscard\b|\brole\b|session\s+authorization/i;
/** Statements that cannot change a setting when they run (only trusted functions, no SET). */
const PLAIN_KINDS: ReadonlySet<string> = new Set(['select', 'insert', 'update', 'delete', 'merge']);

/**
 * May running `sql` change search_path or who `$user` is? The text says
 * where to look; the facts clear what cannot (a column named `role` in a
 * plain SELECT), so those do not cost the next statement a round trip.
 */
function pathSuspect(sql: string, decisions: readonly (Decision | undefined)[]): boolean {
  if (!PATH_SUSPECT.test(sql)) return false;
  return decisions.length === 0 || decisions.some((d) => !d || !PLAIN_KINDS.has(d.facts.kind) || d.facts.verb === 'set_config' || d.facts.dynamic.length > 0);
}
const STATEMENT_MANAGEMENT = /\b(prepare|deallocate|discard|close)\b/i;

/** SQL PREPARE / DEALLOCATE / DISCARD / CLOSE: protocol statement and portal names may now mean something else. */
function managesStatements(d: Decision): boolean {
  const f = d.facts;
  if (f.kind === 'prepare' || f.kind === 'deallocate' || /discard|close/i.test(f.verb)) return true;
  // Leading comments do not hide the verb.
  const head = f.text.replace(/^(?:\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/)*/, '');
  return /^(prepare|deallocate|discard|close)\b/i.test(head);
}
const ROLLBACK_LIKE = /\brollback\b|\babort\b|\brelease\b/i;

/** One statement on its way through the upstream, for the audit and the row cap. */
interface Running {
  readonly sql: string;
  readonly decision: Decision | undefined;
  readonly raw: boolean;
  /** When it arrived, ms since the epoch. */
  readonly arrived: number;
  start: number;
  rows: number;
  cut: boolean;
  copyOut: boolean;
  timedOut: boolean;
  timer: NodeJS.Timeout | undefined;
  readonly maxRows: number | undefined;
  readonly maxBytes: number | undefined;
  /** DataRow bytes forwarded so far. */
  bytes: number;
  /** COPY TO STDOUT in binary format (its trailer is not a row). */
  copyBinary?: boolean;
  /** Which cap cut the result, if one did. */
  cutBy: 'row-cap' | 'max-result-bytes' | 'daily-row-quota' | undefined;
  /** What the daily quotas granted this statement; its rows are cut at `ticket.rows`. */
  readonly ticket: QuotaTicket;
  /** Rows counted against the cap: shared by every Execute of one portal. */
  counter: { rows: number };
  /** Rewrites of masked fields by output index (sparse), or undefined when nothing is masked (a FETCH's: set at its RowDescription). */
  masks: readonly (FieldRewrite | undefined)[] | undefined;
}

/** A statement prepared through the protocol, its decision, and the search_path it was judged under. */
interface PreparedStatement {
  readonly sql: string;
  decision: Decision | undefined;
  /** Running it may change search_path (see `pathSuspect`). */
  readonly pathSuspect: boolean;
  path: string;
  /** The schema epoch it was judged in (see `schemaEpoch`). */
  schema: number;
}

/** A bound portal; `rows` counts what its Executes returned, against the row cap. */
interface Portal {
  readonly sql: string;
  readonly decision: Decision | undefined;
  rows: number;
}

/** What each message forwarded upstream is waiting for, in order. */
type Pending =
  | { readonly kind: 'simple'; readonly items: Running[]; index: number }
  | { readonly kind: 'parse' | 'bind' | 'close' }
  | { readonly kind: 'describe'; readonly masks: readonly MaskDirective[] | undefined; readonly cursor?: string }
  | { readonly kind: 'execute'; readonly item: Running | undefined }
  | { readonly kind: 'sync' }
  | { readonly kind: 'poison-simple' | 'poison-ext'; readonly error: ErrorFields }
  | { readonly kind: 'internal'; readonly rows: (string | null)[][]; fields?: { name: string; typeOid: number }[]; failed: boolean; error?: string; readonly done: () => void };

/**
 * Caps count rows and bytes on the wire: true when this row may be sent.
 * Past a cap the rest is dropped and the client told at completion.
 */
function admitRow(item: Running, bytes: number): boolean {
  if (item.cut) return false;
  if (item.maxRows !== undefined && item.counter.rows >= item.maxRows) { item.cut = true; item.cutBy = 'row-cap'; return false; }
  if (item.ticket.rows !== undefined && item.rows >= item.ticket.rows) { item.cut = true; item.cutBy = 'daily-row-quota'; return false; }
  if (item.maxBytes !== undefined && item.bytes + bytes > item.maxBytes) { item.cut = true; item.cutBy = 'max-result-bytes'; return false; }
  item.rows++;
  item.counter.rows++;
  item.bytes += bytes;
  return true;
}

const EXTENDED = new Set(['parse', 'bind', 'describe', 'close', 'execute', 'poison-ext']);

function errorFields(err: SqlgateError): ErrorFields {
  return { severity: err.severity, code: err.sqlstate, message: err.message };
}

function fieldsOf(code: ErrorCode, message: string): ErrorFields {
  const spec = ERROR_CODES[code];
  return { severity: spec.severity, code: spec.sqlstate, message };
}

/** Values of a DataRow in text format. */
function dataRowValues(body: Buffer): (string | null)[] {
  const n = body.readInt16BE(0);
  const out: (string | null)[] = [];
  let o = 2;
  for (let i = 0; i < n; i++) {
    const len = body.readInt32BE(o);
    o += 4;
    if (len < 0) { out.push(null); continue; }
    out.push(body.toString('utf8', o, o + len));
    o += len;
  }
  return out;
}

/** search_path text as the server shows it → schema names, `$user` resolved. */
export function parseSearchPath(text: string, currentUser: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (text[i] === ' ' || text[i] === ',') i++;
    if (i >= text.length) break;
    let name = '';
    if (text[i] === '"') {
      for (i++; i < text.length; i++) {
        if (text[i] === '"') {
          if (text[i + 1] === '"') { name += '"'; i++; } else { i++; break; }
        } else name += text[i];
      }
    } else {
      const end = text.indexOf(',', i);
      name = text.slice(i, end < 0 ? text.length : end).trim().toLowerCase();
      i = end < 0 ? text.length : end;
    }
    out.push(name === '$user' ? currentUser : name);
  }
  return out;
}

/** Splits a libpq `options` string into `-c name=value` / `--name=value` settings; undefined if it holds anything else. */
function optionSettings(options: string): [string, string][] | undefined {
  const words: string[] = [];
  let cur = '';
  let has = false;
  for (let i = 0; i < options.length; i++) {
    const c = options[i];
    if (c === '\\' && i + 1 < options.length) { cur += options[++i]; has = true; }
    else if (/\s/.test(c)) { if (has) words.push(cur); cur = ''; has = false; }
    else { cur += c; has = true; }
  }
  if (has) words.push(cur);
  const out: [string, string][] = [];
  for (let i = 0; i < words.length; i++) {
    let setting: string;
    if (words[i] === '-c' && i + 1 < words.length) setting = words[++i];
    else if (words[i].startsWith('--')) setting = words[i].slice(2);
    else if (words[i].startsWith('-c')) setting = words[i].slice(2);
    else return undefined;
    const eq = setting.indexOf('=');
    if (eq <= 0) return undefined;
    out.push([setting.slice(0, eq).replace(/-/g, '_'), setting.slice(eq + 1)]);
  }
  return out;
}

/** Bytes queued for a client past which the upstream is not read until they have gone out. */
const UPSTREAM_HOLD_BYTES = 1024 * 1024;

/** Resolves when a socket can take more writes, or is gone. */
function drained(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => { socket.off('drain', done); socket.off('close', done); resolve(); };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

export class ClientSession {
  private socket: Socket;
  private input: SocketInput;
  private tlsActive = false;
  private user: string | undefined;
  private database: string | undefined;
  private applicationName: string | undefined;
  private readonly sessionId = randomUUID();
  private upstream: UpstreamSession | undefined;
  /** Set by a fatal error: the upstream connection's state is not known, so it is not reused. */
  private upstreamSuspect = false;
  private ctx: SessionContext | undefined;
  private readonly pending: Pending[] = [];
  private discardUntilSync = false;
  private upstreamSkipping = false;
  private status: TransactionStatus = 'I';
  /** Prepared statements parsed through sqlgate: text, decision, and the search_path they were judged under. */
  private readonly statements = new Map<string, PreparedStatement>();
  /** A statement name no client uses: Bind to it fails upstream, standing in for a refused Bind. */
  private readonly poisonStatement = `sqlgate refused ${randomUUID()}`;
  private readonly portals = new Map<string, Portal>();
  /** Cursors declared through this session, with what their FETCHes must mask. */
  private readonly cursors = new Map<string, { readonly masks: readonly MaskDirective[]; readonly hold: boolean }>();
  private pathDirty = false;
  private pathTouchedInTxn = false;
  /**
   * DDL, or a transaction statement while the session has its own catalog,
   * was forwarded: before the next judgement the upstream must be idle and
   * the schema read again (transaction-catalog.ts).
   */
  private schemaDirty = false;
  /**
   * Bumped when DDL is forwarded and when the catalog this session is judged
   * against changes: a prepared statement judged in an earlier epoch is
   * judged again at Bind.
   */
  private schemaEpoch = 0;
  private idleWaiters: (() => void)[] = [];
  private auditFailed = false;
  private closed = false;
  private releaseKey: (() => void) | undefined;
  private userSlot: UserSlot | undefined;
  /** What goes to the client at the end of this event-loop turn, in one write. */
  private readonly out = new OutBatch();
  private flushScheduled = false;
  /** Set while a socket's write buffer is full: reading from the other side waits for it (back-pressure). */
  private clientDrain: Promise<void> | undefined;
  private upstreamDrain: Promise<void> | undefined;

  constructor(socket: Socket, private readonly opts: ClientSessionOptions) {
    this.socket = socket;
    socket.setNoDelay(true);
    this.input = new SocketInput(socket, 256 * 1024 * 1024);
  }

  /** Runs the whole session; resolves when it is over. Never throws. */
  async run(): Promise<void> {
    const timer = setTimeout(() => this.fatal(fieldsOf('LOGIN_TIMEOUT', 'sqlgate: login timed out')), this.opts.listener.login_timeout_ms);
    try {
      const ok = await this.startup();
      clearTimeout(timer);
      if (!ok || this.closed) return this.close();
      await this.relay();
    } catch (err) {
      clearTimeout(timer);
      if (err instanceof SqlgateError) this.fatal({ severity: 'FATAL', code: err.sqlstate, message: err.message });
      else this.fatal(fieldsOf('INTERNAL', 'sqlgate: internal error'));
    } finally {
      this.close();
    }
  }

  // ---------------------------------------------------------------- startup

  /**
   * Queues bytes for the client; flushed once per event-loop turn. Frames that
   * are adjacent views of one upstream chunk are merged back into one slice,
   * so an unchanged result goes out as the bytes that came in, in one write.
   */
  private write(buf: Buffer): void {
    if (this.closed) return;
    this.out.push(buf);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const ok = flushToClient(this.out, this.socket, this.opts.gate);
    if (!ok && !this.clientDrain) this.clientDrain = drained(this.socket).then(() => { this.clientDrain = undefined; });
    // A client that reads slowly slows the upstream down, rather than filling sqlgate's
    // memory; below the mark reading goes on, so that both sockets keep streaming.
    if (this.clientDrain && this.socket.writableLength > UPSTREAM_HOLD_BYTES) this.upstream?.input.hold(this.clientDrain);
  };

  private fatal(f: ErrorFields): void {
    if (this.closed) return;
    this.upstreamSuspect = true;
    this.flush();
    this.socket.end(bw.errorResponse({ ...f, severity: 'FATAL' }));
    this.close();
  }

  private loginAudit(decision: 'allowed' | 'refused', error?: ErrorFields): void {
    this.safeAudit({
      time: isoTime(), node: this.opts.node, session: this.sessionId, user: this.user,
      clientIp: this.opts.clientIp, door: 'postgres', type: 'login', instance: this.opts.instance, database: this.database,
      sql: undefined, fingerprint: undefined, decision, rules: [], durationMs: undefined, rowsReturned: undefined,
      rowsAffected: undefined, error: error ? { code: error.code, message: error.message } : undefined,
      detail: { tls: this.tlsActive, ...(this.applicationName !== undefined ? { applicationName: this.applicationName } : {}) },
    });
  }

  private refuseLogin(f: ErrorFields): false {
    this.loginAudit('refused', f);
    this.fatal(f);
    return false;
  }

  /** Startup phase up to ReadyForQuery; false when the connection is over (refused, cancel request, gone). */
  private async startup(): Promise<boolean> {
    let params: ReadonlyMap<string, string>;
    for (;;) {
      const body = await this.input.startup();
      if (!body) return false;
      const p = parseStartupPacket(body);
      if (p.kind === 'ssl-request') {
        if (this.tlsActive || !this.opts.tls) { this.socket.write(bw.SSL_DECLINE); continue; }
        // Bytes sent after SSLRequest but before the handshake would be read as if encrypted (CVE-2021-23214).
        if (this.input.reader.buffered > 0) throw new SqlgateError('PROTOCOL_VIOLATION', 'sqlgate: unencrypted data after SSL request');
        await this.upgradeTls();
        continue;
      }
      if (p.kind === 'gssenc-request') { this.socket.write(bw.SSL_DECLINE); continue; }
      if (p.kind === 'cancel-request') {
        // A key this process did not mint may belong to another worker of a cluster.
        if (!this.opts.refused && !(await this.opts.pool.cancel(p.processId, p.secretKey))) cancelElsewhere(p.processId, p.secretKey);
        return false;
      }
      if (p.protocolVersion !== PROTOCOL_3_0 || [...p.params.keys()].some((k) => k.startsWith('_pq_.'))) {
        const unknown = [...p.params.keys()].filter((k) => k.startsWith('_pq_.'));
        this.socket.write(bw.negotiateProtocolVersion(0, unknown));
      }
      params = new Map([...p.params].filter(([k]) => !k.startsWith('_pq_.')));
      break;
    }
    this.user = params.get('user');
    this.applicationName = params.get('application_name');
    const { listener, gate, instance } = this.opts;
    if (this.opts.refused) return this.refuseLogin(errorFields(this.opts.refused));
    // No database asked for: the instance's default database, else PostgreSQL's default (the user's name).
    this.database = params.get('database') || gate.policy().instances[instance]?.database || this.user;
    if (listener.require_tls && !this.tlsActive) {
      return this.refuseLogin({ severity: 'FATAL', code: '28000', message: 'sqlgate: this listener requires TLS (connect with sslmode=require)' });
    }
    if (!this.user) return this.refuseLogin({ severity: 'FATAL', code: '28000', message: 'no PostgreSQL user name specified in startup packet' });
    if (params.has('replication')) return this.refuseLogin(fieldsOf('UNSUPPORTED', 'sqlgate: replication connections are not supported'));
    const upstreamParams: Record<string, string> = { database: this.database! };
    for (const [k, v] of params) {
      if (k === 'user' || k === 'database') continue;
      const settings: [string, string][] | undefined = k === 'options' ? optionSettings(v) : [[k, v]];
      if (!settings) return this.refuseLogin(fieldsOf('UNTRACKED_SETTING', 'sqlgate: startup options other than -c name=value are not supported'));
      for (const [name, value] of settings) {
        const lname = name.toLowerCase();
        if (!STARTUP_SETTINGS.has(lname) || (lname === 'standard_conforming_strings' && value.toLowerCase() !== 'on')
          || (lname === 'client_encoding' && unsafeEncoding(value))) {
          return this.refuseLogin(fieldsOf('UNTRACKED_SETTING', `sqlgate: startup setting "${name}=${value}" is not supported`));
        }
      }
      upstreamParams[k] = v;
    }
    // An unknown or disabled user still goes through a password exchange, which then fails
    // like a wrong password: the answer does not tell whether the user exists.
    let unknownUser = false;
    try {
      gate.checkAddress(instance, this.opts.clientIp, this.user);
    } catch (err) {
      if (!(err instanceof SqlgateError)) throw err;
      if (err.code !== 'AUTH_FAILED') return this.refuseLogin(errorFields(err));
      unknownUser = true;
    }
    if (!(await this.authenticate(unknownUser))) return false;
    const limit = gate.policy().users[this.user]?.max_connections;
    let slot: UserSlot | undefined;
    try {
      slot = await this.opts.slots.take(this.user, limit);
    } catch (err) {
      if (err instanceof SqlgateError) return this.refuseLogin(errorFields(err));
      throw err;
    }
    if (!slot) return this.refuseLogin(fieldsOf('TOO_MANY_CONNECTIONS', `sqlgate: too many connections for user "${this.user}"`));
    if (this.closed) {
      slot.release();
      return false;
    }
    this.userSlot = slot;
    // From here to ReadyForQuery the client only listens: the messages go out together, in one write.
    this.write(bw.AUTHENTICATION_OK);
    try {
      const target = gate.upstream(instance);
      this.upstream = this.opts.upstreams
        ? await this.opts.upstreams.acquire(this.user, target, upstreamParams)
        : await UpstreamSession.connect(target, upstreamParams);
    } catch (err) {
      if (err instanceof UpstreamLoginError) {
        this.loginAudit('refused', err.fields);
        this.flush();
        this.socket.end(err.raw);
        return false;
      }
      if (err instanceof SqlgateError) return this.refuseLogin(errorFields(err));
      return this.refuseLogin(fieldsOf('UPSTREAM_UNAVAILABLE', `sqlgate: upstream ${instance} is unavailable`));
    }
    if (this.closed) return false;
    const up = this.upstream;
    for (const ps of up.parameterStatus) {
      const p = parseParameterStatus(ps.body);
      const why = unreadableParameter(p.name, p.value);
      if (why) return this.refuseLogin(fieldsOf('UNTRACKED_SETTING', why));
    }
    for (const ps of up.parameterStatus) this.write(ps.raw);
    const key = this.opts.pool.mintKey(up);
    this.releaseKey = key.release;
    this.write(bw.backendKeyData(key.processId, key.secretKey));
    this.status = up.status;
    this.ctx = {
      user: this.user, clientIp: this.opts.clientIp, instance, dialect: 'postgres', database: this.database,
      searchPath: [], door: 'postgres', sessionId: this.sessionId,
    };
    this.startUpstreamPump();
    await this.refreshSearchPath();
    if (this.closed) return false;
    this.loginAudit('allowed');
    this.write(bw.readyForQuery(this.status));
    return true;
  }

  private async upgradeTls(): Promise<void> {
    this.input.detach();
    this.socket.write(bw.SSL_ACCEPT);
    const tls = new TLSSocket(this.socket, { isServer: true, ...this.opts.tls });
    await new Promise<void>((resolve, reject) => {
      tls.once('secure', resolve);
      tls.once('error', reject);
      tls.once('close', () => reject(new SqlgateError('PROTOCOL_VIOLATION', 'sqlgate: TLS handshake failed')));
    });
    tls.on('error', () => this.close());
    this.socket = tls;
    this.input = new SocketInput(tls, 256 * 1024 * 1024);
    this.tlsActive = true;
  }

  /** Password exchange; true when the user proved who they are. */
  private async authenticate(unknownUser: boolean): Promise<boolean> {
    const user = this.user!;
    const verifiers = unknownUser ? undefined : this.opts.gate.verifiers(user);
    const method = this.opts.listener.auth_method;
    const failed = () => this.refuseLogin(fieldsOf('AUTH_FAILED', `password authentication failed for user "${user}"`));
    if (method === 'password') {
      if (!this.tlsActive) return this.refuseLogin(fieldsOf('AUTH_FAILED', 'sqlgate: cleartext password login requires TLS (connect with sslmode=require)'));
      this.socket.write(bw.AUTHENTICATION_CLEARTEXT);
      const f = await this.passwordMessage();
      if (!f) return false;
      return checkCleartext(user, verifiers, parsePasswordMessage(f.body)) ? true : failed();
    }
    if (verifiers?.md5 && (method === 'md5' || !verifiers.scram_sha_256)) {
      const salt = randomBytes(4);
      this.socket.write(bw.authenticationMd5(salt));
      const f = await this.passwordMessage();
      if (!f) return false;
      return checkMd5Response(verifiers.md5, salt, parsePasswordMessage(f.body)) ? true : failed();
    }
    const scram = new ScramServer(verifiers?.scram_sha_256 ? parseScramVerifier(verifiers.scram_sha_256) : undefined);
    this.socket.write(bw.AUTHENTICATION_SASL_SCRAM);
    try {
      const first = await this.passwordMessage();
      if (!first) return false;
      const init = parseSaslInitialResponse(first.body);
      if (init.mechanism !== 'SCRAM-SHA-256' || !init.data) {
        return this.refuseLogin(fieldsOf('PROTOCOL_VIOLATION', 'sqlgate: client selected an invalid SASL authentication mechanism'));
      }
      this.socket.write(bw.authenticationSaslContinue(scram.clientFirst(init.data.toString('utf8'))));
      const fin = await this.passwordMessage();
      if (!fin) return false;
      const serverFinal = scram.clientFinal(fin.body.toString('utf8'));
      if (serverFinal === undefined) return failed();
      this.socket.write(bw.authenticationSaslFinal(serverFinal));
      return true;
    } catch (err) {
      if (err instanceof ScramError) return failed();
      throw err;
    }
  }

  private async passwordMessage(): Promise<Frame | undefined> {
    const f = await this.input.next();
    if (!f) return undefined;
    if (f.type !== 0x70) throw new SqlgateError('PROTOCOL_VIOLATION', `sqlgate: expected password response, got message type ${f.type}`);
    return f;
  }

  // ---------------------------------------------------------------- relay

  /**
   * The client's messages, pushed as they arrive and handled in order, each
   * to completion: one that has to wait (judgement or quota not at hand, the
   * upstream's buffer full) holds the input until it is done. The hot path
   * costs no promise and no turn of the microtask queue per message.
   * Settles when the session is over; rejects with what ended it badly.
   */
  private relay(): Promise<void> {
    return new Promise((resolve, reject) => {
      let over = false;
      const end = (err?: unknown): void => {
        if (over) return;
        over = true;
        if (err === undefined) resolve();
        else reject(err);
      };
      // Before the next message: wait for the upstream's buffer to drain, if it is full.
      const next = (): Promise<void> | undefined => {
        if (this.closed) end();
        return this.upstreamDrain;
      };
      this.input.pump((f) => {
        if (over) return;
        if (this.closed) return end();
        const msg = parseFrontendMessage(f);
        if (msg.kind === 'terminate') return end();
        if (this.discardUntilSync && msg.kind !== 'sync') return;
        const waiting = this.onClientMessage(msg, f);
        if (waiting) return this.input.hold(waiting.then(next, end));
        const drain = next();
        if (drain) this.input.hold(drain);
      }, end);
    });
  }

  private forward(raw: Buffer, p?: Pending): void {
    if (p) {
      if (this.upstreamSkipping && p.kind !== 'sync' && EXTENDED.has(p.kind)) {
        // The upstream is skipping to Sync after an error: this message gets no answer.
        if (p.kind === 'execute' && p.item) this.finish(p.item, { notExecuted: true });
      } else {
        this.pending.push(p);
      }
      if (p.kind === 'sync') this.upstreamSkipping = false;
    }
    const up = this.upstream!;
    if (!up.write(raw) && !this.upstreamDrain) this.upstreamDrain = drained(up.socket).then(() => { this.upstreamDrain = undefined; });
  }

  /** Handles one client message; a promise only when it has to wait (judgement or quota not at hand). */
  private onClientMessage(msg: FrontendMessage, f: Frame): void | Promise<void> {
    switch (msg.kind) {
      case 'query':
        return this.onQuery(msg.sql, f.raw);
      case 'parse':
        return this.onParse(msg.name, msg.sql, f.raw, msg.paramTypes);
      case 'bind': {
        const st = this.statements.get(msg.statement);
        if (st) {
          if (this.pathDirty || st.path !== this.pathKey() || st.schema !== this.schemaEpoch) return this.onBindRejudged(msg, f, st);
          return this.onBind(msg, f, st);
        }
        // A statement made by SQL PREPARE (or dropped by DEALLOCATE/DISCARD since): sqlgate cannot
        // tell what it now means, so the protocol may not run it; SQL EXECUTE is judged instead.
        this.portals.delete(msg.portal);
        return this.refuseBind(`BIND ${JSON.stringify(msg.statement)}`, undefined, fieldsOf('UNSUPPORTED',
          ruleMessage(`prepared statement ${JSON.stringify(msg.statement)} was not prepared through this protocol session; use EXECUTE`)));
      }
      case 'describe': {
        const d = msg.target === 'S' ? this.statements.get(msg.name)?.decision : this.portals.get(msg.name)?.decision;
        const fetch = d?.facts.verb === 'fetch' ? d.facts.cursor?.name : undefined;
        return this.forward(f.raw, { kind: 'describe', masks: d?.directives.masks.length ? d.directives.masks : undefined, ...(fetch !== undefined ? { cursor: fetch } : {}) });
      }
      case 'execute': {
        const portal = this.portals.get(msg.portal);
        if (!portal) {
          // A cursor made by SQL DECLARE: FETCH is judged statement by statement, the protocol's Execute would not be.
          this.auditRefusal(`EXECUTE PORTAL ${JSON.stringify(msg.portal)}`, undefined, fieldsOf('UNSUPPORTED', 'portal not bound through this session'));
          this.discardUntilSync = true;
          return this.forward(serialize.execute({ portal: this.poisonStatement }), { kind: 'poison-ext', error: fieldsOf('UNSUPPORTED',
            ruleMessage(`portal ${JSON.stringify(msg.portal)} was not bound through this protocol session; use FETCH`)) });
        }
        if (!portal.decision) return this.onExecute(f, portal, NO_TICKET);
        const ticket = chargeMessageNow(this.opts.gate.quota, this.user!, [portal.decision]);
        return ticket ? this.onExecute(f, portal, ticket[0]) : this.onExecuteCharged(f, portal);
      }
      case 'close':
        if (msg.target === 'S') this.statements.delete(msg.name);
        else this.portals.delete(msg.name);
        return this.forward(f.raw, { kind: 'close' });
      case 'sync':
        this.discardUntilSync = false;
        return this.forward(f.raw, { kind: 'sync' });
      case 'flush':
      case 'copy-data':
      case 'copy-done':
      case 'copy-fail':
        return this.forward(f.raw);
      case 'function-call':
        return this.refuseSimple(fieldsOf('UNSUPPORTED', ruleMessage('the function-call protocol message is not supported; use SELECT', 'dynamic-sql')));
      case 'password':
        throw new SqlgateError('PROTOCOL_VIOLATION', 'sqlgate: unexpected password message');
      case 'terminate':
        return;
    }
  }

  /**
   * PostgreSQL re-analyses a prepared statement when search_path changed since it was
   * prepared, so its names may now mean other tables: judge it again under the new path.
   */
  private async onBindRejudged(msg: Extract<FrontendMessage, { kind: 'bind' }>, f: Frame, st: PreparedStatement): Promise<void> {
    if (this.pathDirty) {
      const untracked = await this.ensurePathKnown();
      if (untracked) return this.refuseBind(st.sql, undefined, untracked);
    }
    if (st.path !== this.pathKey() || st.schema !== this.schemaEpoch) {
      const j = await this.judge(st.sql, /\$\d/.test(st.sql));
      if ('refused' in j) return this.refuseBind(st.sql, j.judgement, j.refused);
      st.decision = j.judgement.statements[0];
      st.path = this.pathKey();
      st.schema = this.schemaEpoch;
    }
    return this.onBind(msg, f, st);
  }

  private onBind(msg: Extract<FrontendMessage, { kind: 'bind' }>, f: Frame, st: PreparedStatement): void {
    const binaryMasked = st.decision?.directives.masks.find((m) => {
      const fmts = msg.resultFormats;
      return (fmts.length === 1 ? fmts[0] : fmts[m.index] ?? 0) !== 0;
    });
    if (binaryMasked) {
      this.portals.delete(msg.portal);
      return this.refuseBind(st.sql, undefined, fieldsOf('UNSUPPORTED',
        ruleMessage(`masked column ${binaryMasked.index + 1} must be fetched in text format`, binaryMasked.rule)));
    }
    this.portals.set(msg.portal, { sql: st.sql, decision: st.decision, rows: 0 });
    // From here the statement may run: what is bound after it waits for the path.
    if (st.pathSuspect || (this.pathTouchedInTxn && ROLLBACK_LIKE.test(st.sql))) this.markPathSuspect();
    return this.forward(f.raw, { kind: 'bind' });
  }

  /** Execute of a portal whose statement the store must first charge (no lease at hand). */
  private async onExecuteCharged(f: Frame, portal: Portal): Promise<void> {
    let ticket: QuotaTicket;
    try {
      ticket = await chargeStatement(this.opts.gate.quota, this.user!, portal.decision!);
    } catch (err) {
      const e = errorFields(err as SqlgateError);
      this.auditRefusal(portal.sql, undefined, e);
      this.discardUntilSync = true;
      return this.forward(serialize.execute({ portal: this.poisonStatement }), { kind: 'poison-ext', error: e });
    }
    return this.onExecute(f, portal, ticket);
  }

  private onExecute(f: Frame, portal: Portal, ticket: QuotaTicket): void {
    const item = this.running(portal.sql, portal.decision, false, ticket);
    // Row caps hold per portal, across Executes with a row limit.
    item.counter = portal;
    this.startTimer(item);
    this.forward(f.raw, { kind: 'execute', item });
  }

  private running(sql: string, decision: Decision | undefined, raw: boolean, ticket: QuotaTicket = NO_TICKET): Running {
    return {
      ticket,
      sql, decision, raw, arrived: Date.now(), start: performance.now(), rows: 0, cut: false, copyOut: false,
      timedOut: false, timer: undefined, maxRows: decision?.directives.maxRows, maxBytes: decision?.directives.maxResultBytes,
      bytes: 0, cutBy: undefined, counter: { rows: 0 }, masks: this.masksOf(decision?.directives.masks),
    };
  }

  private masksOf(masks: readonly MaskDirective[] | undefined): readonly (FieldRewrite | undefined)[] | undefined {
    if (!masks?.length) return undefined;
    const key = maskKey(this.opts.gate.policy().mask_key_env);
    const byIndex: (FieldRewrite | undefined)[] = [];
    for (const m of masks) byIndex[m.index] = fieldMask(m, key);
    return byIndex;
  }

  private startTimer(item: Running): void {
    const ms = item.decision?.directives.timeoutMs;
    if (!ms) return;
    item.timer = setTimeout(() => {
      item.timedOut = true;
      void this.upstream?.cancel().catch(() => undefined);
    }, ms);
    item.timer.unref();
  }

  /**
   * The judgement of a message's text when it is at hand and allows the
   * message outright (no plan check, no refusal to explain): the hot path.
   * Anything else — undefined — takes `judge`, which waits where it must and
   * words the refusal.
   */
  private judgeNow(sql: string): Judgement | undefined {
    if (this.auditFailed || this.pathDirty || this.schemaDirty) return undefined;
    const j = this.opts.gate.judgeNow?.(this.ctx!, sql);
    if (!j || j.verdict !== 'allow') return undefined;
    for (const d of j.statements) {
      if (d.directives.bigTables.length > 0 || (d.facts.kind === 'copy' && d.directives.masks.length > 0)) return undefined;
    }
    return j;
  }

  /** Judges a message's text; a refusal comes back as the error the client sees. */
  private async judge(sql: string, parameterised = false): Promise<{ judgement: Judgement } | { refused: ErrorFields; judgement: Judgement | undefined }> {
    if (this.auditFailed) return { refused: fieldsOf('AUDIT_UNAVAILABLE', 'sqlgate: the audit log is unavailable; statements are refused'), judgement: undefined };
    // (Each await costs a turn of the microtask queue: skipped when there is nothing to wait for.)
    const untracked = this.pathDirty ? await this.ensurePathKnown() : undefined;
    if (untracked) return { refused: untracked, judgement: undefined };
    const unsettled = this.schemaDirty ? await this.ensureSchemaKnown() : undefined;
    if (unsettled) return { refused: unsettled, judgement: undefined };
    let judgement: Judgement;
    try {
      judgement = await this.opts.gate.judge(this.ctx!, sql);
    } catch (err) {
      const e = err instanceof SqlgateError ? err : new SqlgateError('INTERNAL', 'sqlgate: the statement could not be judged');
      return { refused: { severity: 'ERROR', code: e.sqlstate, message: e.message }, judgement: undefined };
    }
    if (judgement.verdict !== 'allow') {
      const r = judgement.refusal?.error ?? judgement.statements.find((d) => d.error)?.error;
      return { refused: { severity: 'ERROR', code: r?.sqlstate ?? '42501', message: r?.message ?? 'sqlgate: statement refused' }, judgement };
    }
    const maskedCopy = judgement.statements.find((d) => d.directives.masks.length > 0 && d.facts.kind === 'copy');
    if (maskedCopy) {
      // COPY rows are not DataRows: masking them is not done, so the statement is refused (fail closed).
      return { refused: fieldsOf('UNSUPPORTED', ruleMessage('COPY of masked columns is not supported; use SELECT', maskedCopy.directives.masks[0].rule)), judgement };
    }
    const scan = judgement.statements.some((d) => d.directives.bigTables.length > 0) ? await this.checkFullScans(judgement, parameterised) : undefined;
    if (scan) return { refused: scan, judgement };
    return { judgement };
  }

  /**
   * full-scan-guard: statements reading tables the catalog estimates as big are
   * EXPLAINed on this session first (once per shape; the guard caches). The
   * upstream must be idle for that, so inside an unsynchronised pipeline, or
   * with parameters EXPLAIN cannot take, the statement is refused (fail closed).
   */
  private async checkFullScans(judgement: Judgement, parameterised: boolean): Promise<ErrorFields | undefined> {
    for (const d of judgement.statements) {
      const big = d.directives.bigTables;
      if (big.length === 0 || d.skipped.includes(FULL_SCAN_RULE)) continue;
      const refuse = (why: string) => errorFields(new SqlgateError('FULL_SCAN_REFUSED',
        ruleMessage(`statement reads ${big.map((t) => `${t.schema}.${t.table}`).join(', ')} (large tables) and ${why}`, FULL_SCAN_RULE)));
      if (parameterised) return refuse('its plan cannot be checked with parameters; inline the values');
      if (!this.canWaitForIdle()) {
        return refuse('its plan cannot be checked inside an unsynchronised pipeline; send Sync first');
      }
      await this.whenIdle();
      if (this.closed) return fieldsOf('INTERNAL', 'connection closed');
      const verdict = await this.opts.fullScan.check('postgres', d.facts.text, d.facts.fingerprint, big,
        (text) => this.internalRows(text), d.directives.fullScanMaxRows);
      if (!verdict.ok) return errorFields(fullScanError(verdict));
    }
    return undefined;
  }

  /** EXPLAIN output of sqlgate's own statement on this session, for the full-scan guard. Throws on an upstream error. */
  private async internalRows(sql: string): Promise<Record<string, string | null>[]> {
    const { rows } = await this.internalQuery(sql);
    return rows.map((r) => ({ 'QUERY PLAN': r[0] }));
  }

  private auditRefusal(sql: string, judgement: Judgement | undefined, error: ErrorFields): void {
    const time = isoTime();
    const decisions = judgement?.statements.length ? judgement.statements : [undefined];
    for (const d of decisions) {
      this.safeAudit(this.event(time, d?.facts.text ?? sql, d, {
        decision: d?.verdict === 'needs-approval' ? 'needs-approval' : 'refused',
        rules: d?.rules ?? [], durationMs: 0, error: { code: error.code, message: d?.error?.message ?? error.message },
        detail: d && d.verdict === 'allow' ? { reason: 'another statement in the same message was refused' } : undefined,
      }));
    }
  }

  private markPathSuspect(): void {
    this.pathDirty = true;
    this.pathTouchedInTxn = true;
  }

  /**
   * DDL may change what the next statement's names mean, and inside a
   * transaction only this session can see the change; a transaction
   * statement may end or roll back what the session's own catalog shows.
   */
  private markSchemaSuspect(judgement: Judgement): void {
    for (const d of judgement.statements) {
      if (d.facts.kind === 'ddl' || (d.facts.kind === 'transaction' && this.ctx!.transactionCatalog !== undefined)) {
        this.schemaDirty = true;
        this.schemaEpoch++;
      }
    }
  }

  private onQuery(sql: string, raw: Buffer): void | Promise<void> {
    const now = this.judgeNow(sql);
    const tickets = now && (now.raw ? [] : chargeMessageNow(this.opts.gate.quota, this.user!, now.statements));
    if (now && tickets) return this.runQuery(sql, raw, now, tickets);
    return this.onQueryWaiting(sql, raw);
  }

  private async onQueryWaiting(sql: string, raw: Buffer): Promise<void> {
    const j = await this.judge(sql);
    if ('refused' in j) {
      this.auditRefusal(sql, j.judgement, j.refused);
      return this.refuseSimple(j.refused);
    }
    const { judgement } = j;
    let tickets: QuotaTicket[] = [];
    if (!judgement.raw) {
      try {
        tickets = await chargeMessage(this.opts.gate.quota, this.user!, judgement.statements);
      } catch (err) {
        const e = errorFields(err as SqlgateError);
        this.auditRefusal(sql, judgement, e);
        return this.refuseSimple(e);
      }
    }
    this.runQuery(sql, raw, judgement, tickets);
  }

  private runQuery(sql: string, raw: Buffer, judgement: Judgement, tickets: readonly QuotaTicket[]): void {
    const items = judgement.raw
      ? [this.running(sql, undefined, true)]
      : judgement.statements.map((d, i) => this.running(d.facts.text, d, false, tickets[i]));
    if (items[0]) this.startTimer(items[0]);
    if (pathSuspect(sql, judgement.raw ? [undefined] : judgement.statements) || (this.pathTouchedInTxn && ROLLBACK_LIKE.test(sql))) this.markPathSuspect();
    this.markSchemaSuspect(judgement);
    // SQL-level PREPARE/DEALLOCATE/DISCARD may replace what a protocol statement name means.
    if (judgement.statements.some(managesStatements) || (judgement.raw && STATEMENT_MANAGEMENT.test(sql))) {
      this.statements.clear();
      this.portals.clear();
    }
    this.forward(raw, { kind: 'simple', items, index: 0 });
  }

  private onParse(name: string, sql: string, raw: Buffer, paramTypes: readonly number[]): void | Promise<void> {
    const now = this.judgeNow(sql);
    return now ? this.prepared(name, sql, raw, now) : this.onParseWaiting(name, sql, raw, paramTypes);
  }

  private async onParseWaiting(name: string, sql: string, raw: Buffer, paramTypes: readonly number[]): Promise<void> {
    const j = await this.judge(sql, paramTypes.length > 0 || /\$\d/.test(sql));
    if ('refused' in j) {
      this.auditRefusal(sql, j.judgement, j.refused);
      this.statements.delete(name);
      this.discardUntilSync = true;
      this.forward(serialize.parse({ name, text: POISON_SQL }), { kind: 'poison-ext', error: j.refused });
      return;
    }
    this.prepared(name, sql, raw, j.judgement);
  }

  private prepared(name: string, sql: string, raw: Buffer, judgement: Judgement): void {
    if (judgement.statements.some(managesStatements)) { this.statements.clear(); this.portals.clear(); }
    // A DDL statement's own Bind is not a reason to judge it again: the epoch is taken after it counts.
    this.markSchemaSuspect(judgement);
    // Parsing runs nothing: the path is suspect once the statement is bound to run.
    this.statements.set(name, {
      sql, decision: judgement.statements[0], path: this.pathKey(), schema: this.schemaEpoch,
      pathSuspect: pathSuspect(sql, judgement.raw ? [undefined] : judgement.statements),
    });
    this.forward(raw, { kind: 'parse' });
  }

  private pathKey(): string {
    return this.ctx!.searchPath.join('\u0000');
  }

  /** A refused Bind: the upstream fails a Bind to a statement that does not exist, then skips to Sync. */
  private refuseBind(sql: string, judgement: Judgement | undefined, error: ErrorFields): void {
    this.auditRefusal(sql, judgement, error);
    this.discardUntilSync = true;
    this.forward(serialize.bind({ statement: this.poisonStatement }), { kind: 'poison-ext', error });
  }

  /** A refused simple-protocol message: the upstream fails a stand-in, we answer with our error. */
  private refuseSimple(error: ErrorFields): void {
    this.forward(serialize.query(POISON_SQL), { kind: 'poison-simple', error });
  }

  /**
   * Before judging: if search_path may have changed, wait until the upstream is
   * idle and read it. In a pipeline without a Sync since the change there is
   * no safe point to ask, so the statement is refused.
   */
  private async ensurePathKnown(): Promise<ErrorFields | undefined> {
    if (!this.pathDirty) return undefined;
    if (!this.canWaitForIdle()) {
      return fieldsOf('UNTRACKED_SETTING', 'sqlgate: search_path may have changed earlier in this pipeline; send Sync before the next statement');
    }
    await this.whenIdle();
    if (this.status === 'E' || this.closed) return undefined;
    await this.refreshSearchPath();
    return undefined;
  }

  /**
   * Before judging after DDL: wait until the upstream is idle, then judge
   * against the shared catalog outside a transaction (the DDL committed, and
   * the gate reloaded it), or against the schema as this session's open
   * transaction sees it. In a pipeline without a Sync since the DDL there
   * is no safe point to ask, so the statement is refused.
   */
  private async ensureSchemaKnown(): Promise<ErrorFields | undefined> {
    if (!this.canWaitForIdle()) {
      return fieldsOf('UNTRACKED_SETTING', 'sqlgate: DDL earlier in this pipeline may have changed what the next statement names; send Sync before it');
    }
    await this.whenIdle();
    if (this.closed) return undefined;
    // A failed transaction runs nothing until it rolls back; the next statement after that reads the schema.
    if (this.status === 'E') return undefined;
    this.schemaDirty = false;
    if (this.status === 'I') {
      this.setTransactionCatalog(undefined);
      return undefined;
    }
    try {
      this.setTransactionCatalog(await loadTransactionCatalog((sql) => this.internalQuery(sql)));
      return undefined;
    } catch (err) {
      this.schemaDirty = true;
      return fieldsOf('UPSTREAM_UNAVAILABLE', `sqlgate: cannot read the schema as this transaction changed it: ${(err as Error).message}`);
    }
  }

  private setTransactionCatalog(c: Catalog | undefined): void {
    if (this.ctx!.transactionCatalog === c) return;
    this.ctx!.transactionCatalog = c;
    this.schemaEpoch++;
  }

  /** Runs one statement of sqlgate's own on this session: columns and text rows. Throws on an upstream error. */
  private async internalQuery(sql: string): Promise<{ fields: { name: string; typeOid: number }[]; rows: (string | null)[][] }> {
    const rows: (string | null)[][] = [];
    let entry: Extract<Pending, { kind: 'internal' }> | undefined;
    await new Promise<void>((done) => {
      entry = { kind: 'internal', rows, failed: false, done };
      this.forward(serialize.query(sql), entry);
    });
    if (entry!.failed) throw new Error('the upstream refused it: ' + entry!.error);
    return { fields: entry!.fields ?? [], rows };
  }

  /**
   * True when everything forwarded ends with a Sync or a simple Query, so the
   * upstream will answer all of it and reach ReadyForQuery without more from
   * the client. (Extended-protocol answers before a Sync may sit in the
   * server's output buffer, and a query of ours in the middle would commit the
   * client's implicit transaction.)
   */
  private canWaitForIdle(): boolean {
    const last = this.pending[this.pending.length - 1];
    return !last || last.kind === 'sync' || last.kind === 'simple' || last.kind === 'poison-simple' || last.kind === 'internal';
  }

  private whenIdle(): Promise<void> {
    if (this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async refreshSearchPath(): Promise<void> {
    let rows: (string | null)[][];
    try {
      ({ rows } = await this.internalQuery("SELECT pg_catalog.current_setting('search_path'), current_user"));
    } catch {
      return;
    }
    if (!rows[0] || rows[0][0] === null || rows[0][1] === null) return;
    this.ctx!.searchPath = parseSearchPath(rows[0][0], rows[0][1]);
    this.pathDirty = false;
  }

  // ---------------------------------------------------------------- upstream → client

  private startUpstreamPump(): void {
    this.upstream!.input.pump((f) => {
      if (!this.closed) this.onUpstreamFrame(f);
    }, () => {
      // The upstream went away or spoke nonsense.
      if (!this.closed) this.fatal(fieldsOf('UPSTREAM_UNAVAILABLE', 'sqlgate: the upstream connection was lost'));
    });
  }

  private head(): Pending | undefined {
    return this.pending[0];
  }

  private currentItem(): Running | undefined {
    const h = this.head();
    if (!h) return undefined;
    if (h.kind === 'simple') return h.items[h.index];
    if (h.kind === 'execute') return h.item;
    return undefined;
  }

  private onUpstreamFrame(f: Frame): void {
    const h = this.head();
    switch (f.type) {
      case BackendCode.ParameterStatus: {
        const p = parseParameterStatus(f.body);
        const why = unreadableParameter(p.name, p.value);
        this.write(f.raw);
        if (why) this.fatal(fieldsOf('UNTRACKED_SETTING', why));
        return;
      }
      case BackendCode.NoticeResponse:
      case BackendCode.NotificationResponse:
        return this.write(f.raw);
      case BackendCode.ReadyForQuery:
        return this.onReady(f);
      case BackendCode.ErrorResponse:
        return this.onError(f);
      case BackendCode.ParseComplete:
      case BackendCode.BindComplete:
      case BackendCode.CloseComplete:
      case BackendCode.NoData:
        if (h && (h.kind === 'parse' || h.kind === 'bind' || h.kind === 'close' || h.kind === 'describe')) this.pending.shift();
        return this.write(f.raw);
      case BackendCode.RowDescription: {
        if (h?.kind === 'internal') { h.fields = rowDescriptionFields(f.body); return; }
        let masks: readonly MaskDirective[] | undefined;
        if (h?.kind === 'describe') { this.pending.shift(); masks = h.cursor !== undefined ? this.cursorMasks(h.cursor) : h.masks; }
        else {
          const item = this.currentItem();
          const d = item?.decision;
          if (item && d?.facts.verb === 'fetch' && d.facts.cursor) {
            // A cursor's rows are masked as its DECLARE was judged. Looked up now, when the rows
            // come: the server answers in order, so any DECLARE before this FETCH has completed.
            masks = this.cursorMasks(d.facts.cursor.name);
            item.masks = this.masksOf(masks);
          } else {
            masks = d?.directives.masks.length ? d.directives.masks : undefined;
          }
        }
        if (!masks) return this.write(f.raw);
        // The server's own provenance must agree with the analysis for every
        // masked output; if it does not, the analysis is wrong about this
        // statement and nothing of its result may be sent.
        const origins = rowDescriptionOrigins(f.body);
        const wrong = masks.find((m) => m.origin && (origins[m.index]?.tableOid !== m.origin.tableOid || origins[m.index]?.attnum !== m.origin.attnum));
        if (wrong) {
          return this.fatal(fieldsOf('PROVENANCE_MISMATCH', ruleMessage(`output ${wrong.index + 1} is not ${wrong.column.schema}.${wrong.column.table}.${wrong.column.column} as analysed; the result is withheld`, wrong.rule)));
        }
        return this.write(bw.rewriteRowDescription(f.body, new Set(masks.map((m) => m.index))));
      }
      case BackendCode.DataRow: {
        if (h?.kind === 'internal') { h.rows.push(dataRowValues(f.body)); return; }
        const item = this.currentItem();
        if (item) {
          if (!admitRow(item, f.raw.length)) return;
          if (item.masks) {
            if (this.closed) return;
            bw.encodeRewrittenDataRow(this.out, f.body, item.masks);
            return this.scheduleFlush();
          }
          this.write(f.raw);
          return this.relayRowRun(item);
        }
        return this.write(f.raw);
      }
      case BackendCode.CopyOutResponse: {
        const item = this.currentItem();
        if (item) {
          item.copyOut = true;
          item.copyBinary = f.body[0] === 1;
        }
        return this.write(f.raw);
      }
      case BackendCode.CopyData: {
        // COPY ... TO STDOUT sends one CopyData per row: the same caps hold. A binary
        // COPY's header rides on its first row, and its trailer (-1) always passes.
        const item = this.currentItem();
        if (item?.copyOut && !(item.copyBinary && f.body.length === 2 && f.body[0] === 0xff && f.body[1] === 0xff)) {
          if (!admitRow(item, f.raw.length)) return;
        }
        return this.write(f.raw);
      }
      case BackendCode.CommandComplete:
      case BackendCode.EmptyQueryResponse:
      case BackendCode.PortalSuspended: {
        if (h?.kind === 'internal') return;
        const tag = f.type === BackendCode.CommandComplete ? parseCommandComplete(f.body) : undefined;
        const item = this.currentItem();
        if (item?.cut && tag !== undefined) {
          const why = item.cutBy === 'row-cap' ? `${item.maxRows} rows`
            : item.cutBy === 'daily-row-quota' ? 'daily rows quota used up' : `${item.maxBytes} bytes`;
          this.write(bw.noticeResponse({ severity: 'WARNING', code: '01000', message: ruleMessage(`result cut to ${item.rows} rows (limit ${why})`, item.cutBy) }));
          this.write(bw.commandComplete(/\d+$/.test(tag) ? tag.replace(/\d+$/, String(item.rows)) : tag));
        } else {
          this.write(f.raw);
        }
        if (h?.kind === 'simple') {
          if (item) this.finish(item, { tag, suspended: false });
          h.index++;
          const next = h.items[h.index];
          if (next) { next.start = performance.now(); this.startTimer(next); }
        } else if (h?.kind === 'execute') {
          this.pending.shift();
          if (item) this.finish(item, { tag, suspended: f.type === BackendCode.PortalSuspended });
        }
        return;
      }
      default:
        if (h?.kind === 'internal') return;
        return this.write(f.raw);
    }
  }

  /**
   * The unmasked rows that follow a row in the same upstream chunk go out as
   * the one view they came in, counted together: a frame per row was most of
   * what a streamed result cost. Only as many as the row cap, the quota's
   * rows and the byte limit leave room for; the row that would pass a limit
   * takes the frame-by-frame path, which cuts there.
   */
  private relayRowRun(item: Running): void {
    const rowsLeft = Math.min(
      item.maxRows === undefined ? Infinity : item.maxRows - item.counter.rows,
      item.ticket.rows === undefined ? Infinity : item.ticket.rows - item.rows,
    );
    const bytesLeft = item.maxBytes === undefined ? Infinity : item.maxBytes - item.bytes;
    if (rowsLeft <= 0 || bytesLeft <= 0 || item.cut) return;
    const run = this.upstream!.input.reader.takeRun(BackendCode.DataRow, rowsLeft, bytesLeft);
    if (!run) return;
    item.rows += run.count;
    item.counter.rows += run.count;
    item.bytes += run.view.length;
    this.write(run.view);
  }

  /**
   * The error as the client may see it: an integrity violation's detail
   * ("Failing row contains (…)", "Key (…)=(…)") shows the row's values, other
   * columns than the user's included, unless the statement's user could read
   * everything (`showErrorRows`). Without a statement (an error at Sync) it is hidden.
   */
  private clientError(f: Frame, fields: ReturnType<typeof parseErrorFields>, item: Running | undefined): Buffer {
    if (!fields.code.startsWith('23') || fields.detail === undefined) return f.raw;
    if (item?.raw || item?.decision?.directives.showErrorRows === true) return f.raw;
    return bw.errorResponseFrom(fields.all, new Map([['D', ROW_VALUES_HIDDEN]]));
  }

  private onError(f: Frame): void {
    const h = this.head();
    const fields = parseErrorFields(f.body);
    if (!h) return this.write(this.clientError(f, fields, undefined));
    switch (h.kind) {
      case 'internal':
        h.failed = true;
        h.error = fields.message;
        return;
      case 'poison-simple':
        this.write(bw.errorResponse(h.error));
        return;
      case 'simple': {
        const item = h.items[h.index];
        if (item?.timedOut && fields.code === '57014') {
          this.write(bw.errorResponse(fieldsOf('STATEMENT_TIMEOUT', ruleMessage('statement ran past its time limit and was cancelled', 'statement-timeout'))));
        } else {
          this.write(this.clientError(f, fields, item));
        }
        if (item) this.finish(item, { error: fields });
        h.index = h.items.length; // the rest of the message does not run
        return;
      }
      case 'sync':
        // An error at Sync itself (the implicit COMMIT failing, e.g. a deferred constraint): ReadyForQuery follows.
        return this.write(this.clientError(f, fields, undefined));
      default: {
        this.pending.shift();
        if (h.kind === 'poison-ext') {
          this.write(bw.errorResponse(h.error));
        } else if (h.kind === 'execute' && h.item?.timedOut && fields.code === '57014') {
          this.write(bw.errorResponse(fieldsOf('STATEMENT_TIMEOUT', ruleMessage('statement ran past its time limit and was cancelled', 'statement-timeout'))));
        } else {
          this.write(this.clientError(f, fields, h.kind === 'execute' ? h.item : undefined));
        }
        if (h.kind === 'execute' && h.item) this.finish(h.item, { error: fields });
        if (EXTENDED.has(h.kind)) this.skipToSync();
      }
    }
  }

  /** After an extended-protocol error the upstream ignores everything up to Sync. */
  private skipToSync(): void {
    while (this.pending.length && this.pending[0].kind !== 'sync') {
      const p = this.pending.shift()!;
      if (p.kind === 'execute' && p.item) this.finish(p.item, { notExecuted: true });
    }
    if (this.pending.length === 0) this.upstreamSkipping = true;
  }

  private onReady(f: Frame): void {
    this.status = parseReadyForQuery(f.body);
    this.upstream!.status = this.status;
    let relay = true;
    // Everything before the message that ends with ReadyForQuery got its answer or never will.
    while (this.pending.length) {
      const p = this.pending.shift()!;
      if (p.kind === 'execute' && p.item) this.finish(p.item, { notExecuted: true });
      if (p.kind === 'simple') for (let i = p.index; i < p.items.length; i++) this.finish(p.items[i], { notExecuted: true });
      if (p.kind === 'internal') { relay = false; p.done(); break; }
      if (p.kind === 'sync' || p.kind === 'simple' || p.kind === 'poison-simple') break;
    }
    if (this.status === 'I' && this.ctx?.transactionCatalog !== undefined) this.setTransactionCatalog(undefined);
    // Outside a transaction only WITH HOLD cursors are left.
    if (this.status === 'I') for (const [name, c] of this.cursors) if (!c.hold) this.cursors.delete(name);
    if (this.status === 'I' && this.pathTouchedInTxn) {
      this.pathDirty = true;
      this.pathTouchedInTxn = false;
    }
    if (relay) this.write(f.raw);
    if (this.pending.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  // ---------------------------------------------------------------- audit

  /** A statement's audit record: the session's identity, and what the statement did. */
  private event(time: string, sql: string, d: Decision | undefined,
    r: Pick<AuditEvent, 'decision' | 'rules' | 'durationMs' | 'error'> & Partial<Pick<AuditEvent, 'rowsReturned' | 'rowsAffected' | 'detail'>>): AuditEvent {
    // One literal, no spread: one of these is made for every statement.
    return {
      time, node: this.opts.node, session: this.sessionId, user: this.user, clientIp: this.opts.clientIp, door: 'postgres',
      type: 'statement', instance: this.opts.instance, database: this.database, sql, fingerprint: d?.facts.fingerprint,
      decision: r.decision, rules: r.rules, durationMs: r.durationMs, rowsReturned: r.rowsReturned, rowsAffected: r.rowsAffected,
      error: r.error, detail: r.detail,
    };
  }

  /** What a cursor's DECLARE was judged to mask; undefined when nothing (or a cursor sqlgate did not see declared). */
  private cursorMasks(name: string): readonly MaskDirective[] | undefined {
    const masks = this.cursors.get(name)?.masks;
    return masks?.length ? masks : undefined;
  }

  /** After a statement completed: a DECLARE's masks are kept for the cursor's FETCHes; CLOSE and DISCARD forget them. */
  private trackCursor(d: Decision): void {
    const f = d.facts;
    if (f.cursor && (f.verb === 'declare_cursor' || f.verb === 'declare_binary_cursor')) this.cursors.set(f.cursor.name, { masks: d.directives.masks, hold: f.cursor.hold });
    else if (f.cursor && f.verb === 'close_portal') { if (f.cursor.name === '') this.cursors.clear(); else this.cursors.delete(f.cursor.name); }
    else if (f.verb === 'discard') this.cursors.clear();
  }

  private finish(item: Running, outcome: { tag?: string; error?: ErrorFields; notExecuted?: boolean; suspended?: boolean }): void {
    if (item.timer) clearTimeout(item.timer);
    settle(this.opts.gate.quota, item.ticket, item.rows);
    const d = item.decision;
    const durationMs = Math.round((performance.now() - item.start) * 1000) / 1000;
    const rules = item.cutBy ? [...(d?.rules ?? []), item.cutBy] : d?.rules ?? [];
    let rowsReturned: number | undefined;
    let rowsAffected: number | undefined;
    if (outcome.tag !== undefined) {
      const { command, rows } = tagRows(outcome.tag);
      const returned = command === 'SELECT' || command === 'FETCH' || (command === 'COPY' && item.copyOut);
      if (returned) rowsReturned = item.cut ? item.rows : rows;
      else rowsAffected = rows;
    } else if (outcome.suspended) {
      rowsReturned = item.rows;
    }
    const error = outcome.notExecuted
      ? { code: 'NOT_EXECUTED', message: 'not executed: an earlier statement failed' }
      : outcome.error ? { code: outcome.error.code, message: outcome.error.message } : undefined;
    if (!error && d && outcome.tag !== undefined) {
      this.opts.gate.executed?.(this.ctx!, d);
      this.trackCursor(d);
    }
    this.safeAudit(this.event(isoTime(item.arrived), item.sql, d, {
      decision: error ? 'failed' : item.raw ? 'raw' : item.cut ? 'cut' : item.masks ? 'masked' : 'allowed',
      rules, durationMs, rowsReturned, rowsAffected, error,
      detail: outcome.suspended ? { portalSuspended: true } : item.timedOut ? { timedOut: true } : undefined,
    }));
  }

  private safeAudit(e: AuditEvent): void {
    try {
      this.opts.gate.audit(e);
    } catch {
      // The sink failed: from now on statements are refused rather than run unaudited.
      this.auditFailed = true;
    }
  }

  // ---------------------------------------------------------------- end

  /**
   * Whether the upstream connection can go back to the pool: the session
   * ended without a fatal error, everything forwarded was answered, and the
   * server is idle outside a transaction (the pool then resets it).
   */
  private upstreamReusable(): boolean {
    const up = this.upstream;
    return up !== undefined && this.opts.upstreams !== undefined && !this.upstreamSuspect && this.pending.length === 0
      && !this.upstreamDrain && !this.upstreamSkipping && this.status === 'I' && up.status === 'I' && up.input.unpump();
  }

  close(): void {
    if (this.closed) return;
    const keepUpstream = this.upstreamReusable();
    this.closed = true;
    for (const p of this.pending.splice(0)) {
      if (p.kind === 'execute' && p.item) this.finish(p.item, { error: fieldsOf('INTERNAL', 'connection closed before completion') });
      if (p.kind === 'simple') for (let i = p.index; i < p.items.length; i++) this.finish(p.items[i], { error: fieldsOf('INTERNAL', 'connection closed before completion') });
      if (p.kind === 'internal') p.done();
    }
    for (const w of this.idleWaiters.splice(0)) w();
    this.releaseKey?.();
    this.userSlot?.release();
    this.userSlot = undefined;
    if (keepUpstream) this.opts.upstreams!.release(this.upstream!);
    else this.upstream?.close();
    this.input.detach();
    if (!this.socket.destroyed) {
      this.flush();
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 2000).unref();
    }
  }
}
