/**
 * sqlgate as a MySQL client: one authenticated connection to the upstream
 * server with the instance's service account (the user never sees it).
 * Logs in with mysql_native_password or caching_sha2_password (fast path,
 * full authentication over TLS or with the server's RSA key), optionally over
 * TLS, then relays command responses as bytes while a ResponseWalker watches
 * where each response ends.
 * Reference: https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { UpstreamTarget } from '../../governance/gate.js';
import { secured, upstreamTlsOptions } from '../upstream-tls.js';
import { SqlgateError } from '../../governance/errors.js';
import { Cap, Com, Header, MariaCap, MAX_PACKET, PLUGIN_CACHING_SHA2, PLUGIN_NATIVE, Sha2 } from '../../wire/mysql/constants.js';
import { buildHandshakeResponse, buildRaw, buildSslRequest, parseAuthSwitchRequest, parseHandshakeV10, type HandshakeV10 } from '../../wire/mysql/handshake.js';
import { parseErr, parseOk } from '../../wire/mysql/messages.js';
import { buildCommand, buildQuery } from '../../wire/mysql/commands.js';
import { cachingSha2Token, nativeToken, rsaEncryptPassword } from '../../wire/mysql/auth-scramble.js';
import { ResponseWalker, type ResponseKind, type ResponseSummary } from '../../wire/mysql/result-walker.js';
import { PacketFramer, PayloadReader } from '../../wire/mysql/packet-reader.js';
import { framePayload } from '../../wire/mysql/packet-writer.js';
import type { ColumnDefinition } from '../../wire/mysql/column-definition.js';
import { PacketSource } from './packet-source.js';
import { unreadableClientCharset, unreadableSqlMode } from '../../rules/session-settings.js';
import { OutBatch } from '../../wire/out-batch.js';

/** Capabilities sqlgate always asks of an upstream. */
const BASE_CAPS = Cap.LONG_PASSWORD | Cap.LONG_FLAG | Cap.PROTOCOL_41 | Cap.TRANSACTIONS | Cap.SECURE_CONNECTION
  | Cap.PLUGIN_AUTH | Cap.PLUGIN_AUTH_LENENC_CLIENT_DATA | Cap.MULTI_RESULTS | Cap.PS_MULTI_RESULTS;

/** Client capabilities that change what the upstream sends back, so they must match the client's. */
export const RELAYED_CAPS = Cap.FOUND_ROWS | Cap.MULTI_STATEMENTS | Cap.MULTI_RESULTS | Cap.PS_MULTI_RESULTS
  | Cap.DEPRECATE_EOF | Cap.QUERY_ATTRIBUTES | Cap.LOCAL_FILES | Cap.INTERACTIVE | Cap.SESSION_TRACK;

/** What an upstream connection must look like to serve a given client. */
export interface UpstreamProfile {
  /** The client's negotiated capabilities, masked to RELAYED_CAPS. */
  readonly capabilities: number;
  readonly collation: number;
  /** MariaDB extended capabilities the client negotiated (EXTENDED_METADATA at most). */
  readonly mariadbCapabilities?: number;
}

/** MariaDB extended capabilities sqlgate can relay unchanged. */
export const RELAYED_MARIADB_CAPS = MariaCap.EXTENDED_METADATA;

export function profileKey(p: UpstreamProfile): string {
  return `${p.capabilities}:${p.collation}:${p.mariadbCapabilities ?? 0}`;
}

/** Row bytes a response may carry, and the ERR payload that ends it when it would carry more. */
export interface ByteLimit {
  readonly limit: number;
  readonly err: Buffer;
}

/** How `relayTransformed` rewrites a result (masking). */
export interface RowTransform {
  /** Indexes of the columns to rewrite, given the result's column definitions. */
  columns(defs: readonly ColumnDefinition[]): ReadonlySet<number> | undefined;
  /** An ERR packet (sequence 1) to send instead of the result, or undefined to go on. */
  check(defs: readonly ColumnDefinition[]): Buffer | undefined;
  columnDefinition(def: ColumnDefinition): Buffer;
  row(payload: Buffer, defs: readonly ColumnDefinition[]): Buffer;
  /** Appends the rewritten row packet (header `seq`) to `out`, when this transform can (text rows); else `row` is used. */
  rowInto?(out: OutBatch, payload: Buffer, defs: readonly ColumnDefinition[], seq: number): boolean;
  /** The ERR payload to send instead of the server's `payload`, or undefined to send it as it is. */
  error?(payload: Buffer): Buffer | undefined;
}

/** Where relayed bytes go: `write` returns false when the receiver wants us to wait for `drain`. */
export interface Sink {
  write(bytes: Buffer): boolean;
  drain(resume: () => void): void;
}

function upstreamError(message: string, cause?: unknown): SqlgateError {
  return new SqlgateError('UPSTREAM_UNAVAILABLE', `sqlgate: upstream: ${message}`, { cause });
}

export class UpstreamConnection {
  readonly target: UpstreamTarget;
  readonly profile: UpstreamProfile;
  private socket: Socket;
  private source: PacketSource;
  private greeting!: HandshakeV10;
  /** Capabilities in force on this connection. */
  capabilities = 0;
  tls = false;
  /** The database the server has selected, as far as sqlgate knows. */
  database: string | undefined;
  /** False once the connection is in a state that a reset cannot undo (or is broken). */
  reusable = true;
  closed = false;
  private readonly walker = new ResponseWalker();

  /**
   * Why the session's reading settings make statements unreadable to the
   * analysis, from the last read (`readReading`); undefined when they do
   * not. Only the server's own defaults give a session such a setting:
   * statements through sqlgate may not set one.
   */
  readingProblem: string | undefined;
  /** False after a login or a reset, until the session's reading settings have been read again. */
  readingKnown = false;

  /**
   * Reads, in one round trip, the settings that decide how the server reads
   * statement text (after a login or a reset, sql_mode is the server's global
   * mode, and character_set_client the one the login asked for, unless the
   * server ignores that with `skip-character-set-client-handshake` and
   * imposes its own) and the longest statement it takes.
   */
  async readReading(): Promise<void> {
    const row = (await this.query('SELECT @@SESSION.sql_mode, @@SESSION.character_set_client, @@SESSION.max_allowed_packet'))[0];
    const [modes, charset, maxPacket] = row ?? [];
    this.readingProblem = typeof modes !== 'string' || typeof charset !== 'string' ? 'sqlgate could not read the server\'s sql_mode and character set'
      : unreadableSqlMode(modes) ?? unreadableClientCharset(charset);
    this.maxAllowedPacket = maxPacket ? Number(maxPacket) : undefined;
    this.readingKnown = true;
  }

  /**
   * The server's max_allowed_packet, from the same read: a statement longer
   * than this the server refuses, so sqlgate refuses it before analysing it
   * (a second or more per ten megabytes, in which the proxy serves nobody else).
   */
  maxAllowedPacket: number | undefined;

  /** Server status flags of the last response read (the login's, before any). */
  get lastStatus(): number {
    return this.walker.summary.status;
  }

  private constructor(target: UpstreamTarget, profile: UpstreamProfile, socket: Socket) {
    this.target = target;
    this.profile = profile;
    this.socket = socket;
    this.source = new PacketSource(socket);
    socket.on('close', () => { this.closed = true; this.reusable = false; });
    socket.on('error', () => { this.closed = true; this.reusable = false; });
  }

  get serverVersion(): string { return this.greeting.serverVersion; }
  /** The server's thread id (what KILL takes). */
  get threadId(): number { return this.greeting.connectionId; }
  get serverCapabilities(): number { return this.greeting.capabilities; }
  get serverMariadbCapabilities(): number { return this.greeting.mariadbCapabilities ?? 0; }
  /** MariaDB extended capabilities in force. */
  mariadbCapabilities = 0;
  get deprecateEof(): boolean { return (this.capabilities & Cap.DEPRECATE_EOF) !== 0; }

  /** Connects and logs in; rejects with UPSTREAM_UNAVAILABLE. */
  static async connect(target: UpstreamTarget, profile: UpstreamProfile, timeoutMs = 10_000): Promise<UpstreamConnection> {
    const socket = netConnect({ host: target.host, port: target.port });
    socket.setNoDelay(true);
    const conn = new UpstreamConnection(target, profile, socket);
    const timer = setTimeout(() => socket.destroy(upstreamError('login timed out')), timeoutMs);
    try {
      await conn.login();
      return conn;
    } catch (err) {
      socket.destroy();
      if (err instanceof SqlgateError) throw err;
      throw upstreamError((err as Error).message, err);
    } finally {
      clearTimeout(timer);
    }
  }

  private async login(): Promise<void> {
    const first = await this.source.next();
    if (first.payload[0] === Header.ERR) throw upstreamError(parseErr(first.payload).message);
    this.greeting = parseHandshakeV10(first.payload);
    const server = this.greeting.capabilities;
    if (!(server & Cap.PROTOCOL_41) || !(server & Cap.SECURE_CONNECTION)) throw upstreamError('server does not speak protocol 4.1');
    let caps = (BASE_CAPS | (this.profile.capabilities & RELAYED_CAPS)) & server;
    caps |= Cap.PROTOCOL_41 | Cap.SECURE_CONNECTION;
    if (this.target.database) caps |= Cap.CONNECT_WITH_DB;
    const maria = (this.profile.mariadbCapabilities ?? 0) & RELAYED_MARIADB_CAPS & (this.greeting.mariadbCapabilities ?? 0);
    // MariaDB reads the extended capabilities only from a client that clears CLIENT_MYSQL.
    if (maria) caps &= ~Cap.LONG_PASSWORD;
    this.mariadbCapabilities = maria;
    this.walker.extendedMetadata = (maria & MariaCap.EXTENDED_METADATA) !== 0;
    let seq = 1;
    if (this.target.tls) {
      if (!(server & Cap.SSL)) throw upstreamError('TLS is configured but the server does not offer it');
      const options = upstreamTlsOptions(this.target, this.target.tls, this.socket);
      caps |= Cap.SSL;
      this.write(buildSslRequest(caps, this.profile.collation, seq++, undefined, maria));
      this.source.hold();
      const secure = await secured(this.target, tlsConnect(options));
      this.socket = secure;
      this.source.switchTo(secure);
      secure.on('close', () => { this.closed = true; this.reusable = false; });
      this.tls = true;
    }
    this.capabilities = caps >>> 0;
    const password = this.target.password ?? '';
    let plugin = this.greeting.plugin || PLUGIN_NATIVE;
    let seed = this.greeting.seed;
    if (plugin !== PLUGIN_NATIVE && plugin !== PLUGIN_CACHING_SHA2) plugin = PLUGIN_NATIVE;
    this.write(buildHandshakeResponse(seq++, {
      capabilities: caps, collation: this.profile.collation, user: this.target.user,
      authData: this.token(plugin, password, seed), database: this.target.database, plugin, mariadbCapabilities: maria,
    }));
    this.database = this.target.database;
    for (;;) {
      const p = await this.source.next();
      seq = p.seq + 1;
      const h = p.payload[0];
      if (h === Header.OK) {
        // The login's status flags stand for the last response until a command has one.
        this.walker.summary.status = parseOk(p.payload).status;
        return;
      }
      if (h === Header.ERR) throw upstreamError(parseErr(p.payload).message);
      if (h === Header.AUTH_SWITCH) {
        const sw = parseAuthSwitchRequest(p.payload);
        if (sw.plugin !== PLUGIN_NATIVE && sw.plugin !== PLUGIN_CACHING_SHA2) {
          throw upstreamError(`the server asks for authentication plugin '${sw.plugin}'; sqlgate supports ${PLUGIN_NATIVE} and ${PLUGIN_CACHING_SHA2}`);
        }
        plugin = sw.plugin;
        seed = sw.data.subarray(0, 20);
        this.write(buildRaw(seq, this.token(plugin, password, seed)));
        continue;
      }
      if (h === Header.AUTH_MORE_DATA && plugin === PLUGIN_CACHING_SHA2) {
        const code = p.payload[1];
        if (code === Sha2.FAST_AUTH_SUCCESS) continue; // OK follows
        if (code === Sha2.PERFORM_FULL_AUTH) {
          if (this.tls) this.write(buildRaw(seq, Buffer.from(password + '\0', 'utf8')));
          else this.write(buildRaw(seq, Buffer.from([Sha2.REQUEST_PUBLIC_KEY])));
          continue;
        }
        // The server's public key.
        this.write(buildRaw(seq, rsaEncryptPassword(password, seed, p.payload.subarray(1))));
        continue;
      }
      throw upstreamError(`unexpected packet 0x${h.toString(16)} during login`);
    }
  }

  private token(plugin: string, password: string, seed: Buffer): Buffer {
    return plugin === PLUGIN_CACHING_SHA2 ? cachingSha2Token(password, seed) : nativeToken(password, seed);
  }

  write(bytes: Buffer): boolean {
    return this.socket.write(bytes);
  }

  /**
   * Sends a command and relays the response bytes to `sink` until the
   * response is complete. A LOCAL INFILE request is not relayed: the caller
   * decides (see `summary.localInfile` and `heldBytes`).
   */
  relay(command: Buffer | undefined, kind: ResponseKind, sink: Sink | undefined, cursor = false, maxRows?: number, maxBytes?: ByteLimit): Promise<ResponseSummary & { heldBytes?: Buffer }> {
    if (this.closed) return Promise.reject(upstreamError('connection lost'));
    this.walker.start(kind, this.deprecateEof, cursor, maxRows, maxBytes);
    const socket = this.socket;
    return this.exchange(command, (chunk, finish) => {
      let end: number;
      try {
        end = this.walker.feed(chunk);
      } catch (err) {
        socket.destroy();
        return finish({ error: upstreamError(`malformed response: ${(err as Error).message}`) });
      }
      if (end >= 0 && end !== chunk.length) {
        socket.destroy();
        return finish({ error: upstreamError('bytes after the end of a response') });
      }
      const parts = this.walker.out;
      if (end >= 0) {
        const summary = this.walker.summary;
        if (summary.localInfile !== undefined) return finish({ value: { ...summary, heldBytes: Buffer.concat(parts) } });
        if (sink) for (const part of parts) sink.write(part);
        return finish({ value: summary });
      }
      let more = true;
      if (sink) for (const part of parts) more = sink.write(part);
      if (!more) {
        socket.pause();
        sink!.drain(() => socket.resume());
      }
    });
  }

  /**
   * Sends `command` (if any) and hands each chunk of the response to
   * `onChunk` until it calls `finish`: with a value the promise resolves,
   * with an error it rejects and the connection is not reused. A lost
   * connection rejects.
   */
  private exchange<T>(command: Buffer | undefined, onChunk: (chunk: Buffer, finish: (outcome: { value: T } | { error: Error }) => void) => void): Promise<T> {
    this.listen();
    const socket = this.socket;
    return new Promise<T>((resolve, reject) => {
      const finish = (outcome: { value: T } | { error: Error }) => {
        this.current = undefined;
        if ('error' in outcome) {
          this.reusable = false;
          reject(outcome.error);
        } else {
          resolve(outcome.value);
        }
      };
      this.current = {
        data: (chunk: Buffer) => onChunk(chunk, finish),
        lost: (e?: unknown) => finish({ error: upstreamError('connection lost', e instanceof Error ? e : undefined) }),
      };
      if (this.closed) return this.current.lost();
      if (socket.isPaused()) socket.resume();
      if (command) this.write(command);
    });
  }

  /** The exchange in progress: where the upstream's bytes go, and what a lost connection ends. */
  private current: { data(chunk: Buffer): void; lost(e?: unknown): void } | undefined;
  private listening = false;

  /**
   * After login, the socket keeps one set of listeners for every exchange
   * (adding and removing three per statement was measurable). Bytes with no
   * exchange in progress mean the server spoke out of turn (an ERR before it
   * hangs up, say): the protocol state is unknown, so the connection ends.
   * That holds for bytes that came between login and the first exchange
   * too: the login reader has them, and they are no answer to anything.
   */
  private listen(): void {
    if (this.listening) return;
    this.listening = true;
    const spokeOutOfTurn = this.source.pending > 0;
    this.source.hold();
    if (spokeOutOfTurn) {
      this.closed = true;
      this.reusable = false;
      this.socket.destroy();
      return;
    }
    const socket = this.socket;
    socket.on('data', (chunk: Buffer) => {
      if (this.current) return this.current.data(chunk);
      this.reusable = false;
      socket.destroy();
    });
    const lost = (e?: unknown) => this.current?.lost(e);
    socket.on('close', lost);
    socket.on('error', lost);
  }

  /**
   * Like `relay`, but packet by packet so that column definitions and rows
   * of the first result set can be rewritten (masking). Column definitions
   * are held until all have arrived, so that `transform.check` can refuse
   * the result (answering `refusal` instead) before anything of it is sent.
   */
  relayTransformed(command: Buffer, kind: ResponseKind, sink: Sink, transform: RowTransform, maxRows?: number, maxBytes?: ByteLimit,
    columns?: readonly ColumnDefinition[]): Promise<ResponseSummary> {
    if (this.closed) return Promise.reject(upstreamError('connection lost'));
    const walker = this.walker;
    walker.start(kind, this.deprecateEof, false, maxRows, maxBytes);
    const socket = this.socket;
    const framer = new PacketFramer();
    /** Head of a result set (column count + definitions) held back; `def` is the definition's index or -1. */
    let head: { bytes: Buffer; def: number }[] | undefined;
    let expected = 0;
    let swallow = false;
    let sets = 0;
    let rewrites: ReadonlySet<number> = new Set();
    if (columns) {
      // COM_STMT_FETCH: rows of a result whose definitions came with the execute.
      walker.summary.columns = [...columns];
      rewrites = transform.columns(columns) ?? new Set();
      sets = 1;
    }
    // What one upstream chunk produces leaves in one write, not one per packet.
    const batch = new OutBatch();
    const emit = (b: Buffer) => { if (!swallow) batch.copy(b); };
    const send = (): boolean => {
      let more = true;
      for (const part of batch.take()) more = sink.write(part);
      return more;
    };
    const releaseHead = () => {
      const defs = walker.summary.columns;
      rewrites = new Set();
      if (sets === 1) {
        const refusal = transform.check(defs);
        if (refusal) {
          swallow = true;
          batch.copy(refusal);
        }
        rewrites = transform.columns(defs) ?? new Set();
      }
      for (const h of head ?? []) {
        emit(h.def >= 0 && rewrites.has(h.def) ? framePayload(transform.columnDefinition(defs[h.def]), h.bytes[3]) : h.bytes);
      }
      head = undefined;
    };
    const rewriteRow = (payload: Buffer, seq: number) => {
      if (transform.rowInto?.(batch, payload, walker.summary.columns, seq)) return;
      const rewritten = transform.row(payload, walker.summary.columns);
      if (rewritten.length >= MAX_PACKET) throw new SqlgateError('RESULT_TOO_LARGE', 'sqlgate: a masked row over 16 MB');
      batch.copy(framePayload(rewritten, seq));
    };
    return this.exchange(command, (chunk, finish) => {
      framer.push(chunk);
      try {
        for (let p = framer.next(); p; p = framer.next()) {
          if (!head && walker.takeRow(p.payload, p.seq)) {
            // A plain row, counted without walking its bytes a second time.
            if (swallow) continue;
            if (rewrites.size === 0) emit(p.raw ?? framePayload(p.payload, p.seq));
            else rewriteRow(p.payload, p.seq);
            continue;
          }
          const bytes = p.raw ?? framePayload(p.payload, p.seq);
          const setsBefore = walker.summary.resultSets;
          const cols = walker.summary.columns.length;
          const rows = walker.summary.rows;
          const end = walker.feed(bytes);
          const out = walker.out;
          if (walker.summary.resultSets > setsBefore) {
            sets++;
            rewrites = new Set();
            head = out.map((b) => ({ bytes: b, def: -1 }));
            expected = new PayloadReader(p.payload).lenenc();
          } else if (head && walker.summary.columns.length > cols) {
            const index = walker.summary.columns.length - 1;
            head.push(...out.map((b) => ({ bytes: b, def: index })));
            if (walker.summary.columns.length === expected) releaseHead();
          } else if (rewrites.size > 0 && walker.summary.rows > rows && out.length > 0) {
            if (p.payload.length >= MAX_PACKET) throw new SqlgateError('RESULT_TOO_LARGE', 'sqlgate: a masked row over 16 MB');
            // swallow: a refused result, nothing of it is sent
            if (!swallow) rewriteRow(p.payload, out[0][3]);
          } else if (transform.error && p.payload[0] === 0xff && out.length === 1) {
            // Rows never start with 0xFF: this is the ERR that ends the response.
            const replaced = transform.error(p.payload);
            emit(replaced ? framePayload(replaced, out[0][3]) : out[0]);
          } else {
            for (const b of out) emit(b);
          }
          if (end >= 0) {
            if (framer.pending > 0) throw upstreamError('bytes after the end of a response');
            send();
            return finish({ value: walker.summary });
          }
        }
        if (!send()) {
          socket.pause();
          sink.drain(() => socket.resume());
        }
      } catch (err) {
        socket.destroy();
        finish({ error: err instanceof SqlgateError ? err : upstreamError(`malformed response: ${(err as Error).message}`) });
      }
    });
  }

  /** Ends the response in flight for the client with this ERR payload (see ResponseWalker.forceError). */
  forceError(err: Buffer): void {
    this.walker.forceError(err);
  }

  /** Runs an internal command whose response is not relayed. */
  async run(command: Buffer, kind: ResponseKind = 'single'): Promise<ResponseSummary> {
    return this.relay(command, kind, undefined);
  }

  /** A COM_QUERY for this connection (with the empty attribute header when CLIENT_QUERY_ATTRIBUTES is on). */
  queryPacket(sql: string): Buffer {
    return buildQuery(sql, (this.capabilities & Cap.QUERY_ATTRIBUTES) !== 0);
  }

  /** Runs a small internal query and returns its text rows (NULL as null). */
  async query(sql: string): Promise<(string | null)[][]> {
    const collected: Buffer[] = [];
    const summary = await this.relay(this.queryPacket(sql), 'query', {
      write: (b) => { collected.push(Buffer.from(b)); return true; },
      drain: (resume) => resume(),
    });
    if (summary.error) throw new SqlgateError('INTERNAL', `sqlgate: upstream: ${summary.error.message}`);
    // Re-read the (small) response packet by packet.
    const all = Buffer.concat(collected);
    const payloads: Buffer[] = [];
    for (let at = 0; at + 4 <= all.length;) {
      const n = all.readUIntLE(at, 3);
      payloads.push(all.subarray(at + 4, at + 4 + n));
      at += 4 + n;
    }
    const r = new PayloadReader();
    const columns = r.reset(payloads[0]).lenenc();
    let i = 1 + columns + (this.deprecateEof ? 0 : 1);
    const rows: (string | null)[][] = [];
    for (; i < payloads.length; i++) {
      const p = payloads[i];
      if (p[0] === Header.EOF && p.length < 0xffffff && (this.deprecateEof || p.length < 9)) break;
      r.reset(p);
      const row: (string | null)[] = [];
      for (let c = 0; c < columns; c++) {
        const len = r.lenencOrNull();
        row.push(len === null ? null : r.bytes(len).toString('utf8'));
      }
      rows.push(row);
    }
    return rows;
  }

  /** COM_RESET_CONNECTION: back to a fresh session (transactions, variables, temporary tables, prepared statements). */
  async reset(): Promise<boolean> {
    this.readingKnown = false;
    const s = await this.run(buildCommand(Com.RESET_CONNECTION));
    return s.error === undefined;
  }

  async initDb(database: string): Promise<ResponseSummary> {
    const s = await this.run(buildCommand(Com.INIT_DB, database));
    if (!s.error) this.database = database;
    return s;
  }

  /** Polite close: COM_QUIT then end. */
  quit(): void {
    if (this.closed) return;
    this.closed = true;
    this.reusable = false;
    try {
      this.socket.end(buildCommand(Com.QUIT));
    } catch {
      this.socket.destroy();
    }
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  destroy(): void {
    this.closed = true;
    this.reusable = false;
    this.socket.destroy();
  }
}

