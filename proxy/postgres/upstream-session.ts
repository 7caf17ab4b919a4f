/**
 * sqlgate acting as a PostgreSQL client: logs in to the upstream with the
 * service account (SCRAM-SHA-256, md5, cleartext or trust, TLS when the
 * instance says so), then relays frames. Frontend messages it sends are built
 * with pg-protocol's serializer; backend frames are read as raw views.
 * Reference: https://www.postgresql.org/docs/15/protocol-flow.html#PROTOCOL-FLOW-START-UP
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { serialize } from 'pg-protocol';
import { SqlgateError } from '../../governance/errors.js';
import type { UpstreamTarget, UpstreamTls } from '../../governance/gate.js';
import { secured, upstreamTlsOptions } from '../upstream-tls.js';
import { ScramClient, SCRAM_MECHANISM } from '../../governance/auth/scram.js';
import { md5Response } from '../../governance/auth/password-checks.js';
import { AuthCode, BackendCode, type ErrorFields, type Frame, type TransactionStatus } from '../../wire/postgres/messages.js';
import {
  parseAuthentication, parseBackendKeyData, parseErrorFields, parseParameterStatus, parseReadyForQuery, parseSaslMechanisms,
} from '../../wire/postgres/backend-parser.js';
import { SocketInput } from './socket-input.js';

/** The upstream refused the login; `raw` is its ErrorResponse, relayed to the client as is. */
export class UpstreamLoginError extends Error {
  constructor(readonly fields: ErrorFields, readonly raw: Buffer) {
    super(fields.message);
  }
}

function openSocket(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host, port });
    s.setNoDelay(true);
    s.once('connect', () => { s.off('error', reject); resolve(s); });
    s.once('error', reject);
  });
}

async function startTls(socket: Socket, target: UpstreamTarget, tls: UpstreamTls): Promise<Socket> {
  const options = upstreamTlsOptions(target, tls, socket);
  socket.write(serialize.requestSsl());
  const answer = await new Promise<Buffer>((resolve, reject) => {
    socket.once('data', resolve);
    socket.once('error', reject);
  });
  if (answer.length !== 1 || answer[0] !== 0x53) {
    throw new SqlgateError('UPSTREAM_UNAVAILABLE', 'sqlgate: upstream does not accept TLS but the instance requires it');
  }
  return secured(target, tlsConnect(options));
}

/** A logged-in upstream connection. */
export class UpstreamSession {
  /** ParameterStatus messages received during login, raw, in order. */
  readonly parameterStatus: Frame[] = [];
  readonly parameters = new Map<string, string>();
  processId = 0;
  secretKey = 0;
  status: TransactionStatus = 'I';
  private constructor(readonly socket: Socket, readonly input: SocketInput, readonly target: UpstreamTarget) {}

  /** Connects and logs in; `startup` holds database and session parameters to pass on. */
  static async connect(target: UpstreamTarget, startup: Record<string, string>): Promise<UpstreamSession> {
    let socket: Socket;
    try {
      socket = await openSocket(target.host, target.port);
      if (target.tls) socket = await startTls(socket, target, target.tls);
    } catch (err) {
      if (err instanceof SqlgateError) throw err;
      throw new SqlgateError('UPSTREAM_UNAVAILABLE', `sqlgate: upstream ${target.instance} is unavailable`, { cause: err });
    }
    const input = new SocketInput(socket);
    const session = new UpstreamSession(socket, input, target);
    try {
      await session.login(startup);
    } catch (err) {
      input.detach();
      socket.destroy();
      throw err;
    }
    return session;
  }

  private async login(startup: Record<string, string>): Promise<void> {
    const { socket, input, target } = this;
    socket.write(serialize.startup({ ...startup, user: target.user }));
    let scram: ScramClient | undefined;
    for (;;) {
      const f = await input.next();
      if (!f) throw new SqlgateError('UPSTREAM_UNAVAILABLE', 'sqlgate: upstream closed the connection during login');
      switch (f.type) {
        case BackendCode.Authentication: {
          const { code, data } = parseAuthentication(f.body);
          const password = target.password;
          const needPassword = (): string => {
            if (password === undefined) throw new SqlgateError('UPSTREAM_UNAVAILABLE', `sqlgate: upstream ${target.instance} asks for a password and none is configured`);
            return password;
          };
          if (code === AuthCode.Ok) break;
          if (code === AuthCode.CleartextPassword) socket.write(serialize.password(needPassword()));
          else if (code === AuthCode.MD5Password) socket.write(serialize.password(md5Response(target.user, needPassword(), data.subarray(0, 4))));
          else if (code === AuthCode.SASL) {
            if (!parseSaslMechanisms(data).includes(SCRAM_MECHANISM)) throw new SqlgateError('UPSTREAM_UNAVAILABLE', 'sqlgate: upstream offers no SASL mechanism sqlgate speaks');
            scram = new ScramClient(needPassword());
            socket.write(serialize.sendSASLInitialResponseMessage(SCRAM_MECHANISM, scram.first()));
          } else if (code === AuthCode.SASLContinue && scram) socket.write(serialize.sendSCRAMClientFinalMessage(scram.final(data.toString('utf8'))));
          else if (code === AuthCode.SASLFinal && scram) scram.verify(data.toString('utf8'));
          else throw new SqlgateError('UPSTREAM_UNAVAILABLE', `sqlgate: upstream asks for an unsupported authentication method (${code})`);
          break;
        }
        case BackendCode.ParameterStatus:
          this.noteParameter(f);
          break;
        case BackendCode.BackendKeyData: {
          const k = parseBackendKeyData(f.body);
          this.processId = k.processId;
          this.secretKey = k.secretKey;
          break;
        }
        case BackendCode.NegotiateProtocolVersion:
        case BackendCode.NoticeResponse:
          break;
        case BackendCode.ErrorResponse:
          throw new UpstreamLoginError(parseErrorFields(f.body), Buffer.from(f.raw));
        case BackendCode.ReadyForQuery:
          this.status = parseReadyForQuery(f.body);
          return;
        default:
          throw new SqlgateError('UPSTREAM_UNAVAILABLE', `sqlgate: unexpected upstream message ${f.type} during login`);
      }
    }
  }

  /** Keeps a ParameterStatus: the value, and the frame a client logging in on this connection is sent. */
  private noteParameter(f: Frame): void {
    const p = parseParameterStatus(f.body);
    const frame = { ...f, raw: Buffer.from(f.raw) };
    const i = this.parameterStatus.findIndex((x) => parseParameterStatus(x.body).name === p.name);
    if (i >= 0) this.parameterStatus[i] = frame;
    else this.parameterStatus.push(frame);
    this.parameters.set(p.name, p.value);
  }

  write(buf: Buffer): boolean {
    return this.socket.write(buf);
  }

  /**
   * True when the connection could serve another client after a reset: open,
   * idle outside a transaction, nothing unread, and no cancel request of the
   * last client still on its way (it could land on the next one's statement).
   */
  get reusable(): boolean {
    return !this.socket.destroyed && !this.input.ended && this.status === 'I' && this.cancelsInFlight === 0
      && this.input.reader.buffered === 0;
  }

  /**
   * DISCARD ALL — what PgBouncer runs between clients: closes cursors, drops
   * temporary tables and prepared statements, resets every setting and the
   * session role, releases advisory locks, stops LISTENing. True when the
   * server answered exactly CommandComplete and ReadyForQuery (idle) and
   * nothing else is pending; the caller closes the connection otherwise.
   * Settings the reset changes come back as ParameterStatus and are kept for
   * the next client's login.
   */
  async reset(timeoutMs = 5000): Promise<boolean> {
    if (!this.reusable) return false;
    this.socket.write(serialize.query('DISCARD ALL'));
    const timer = setTimeout(() => this.socket.destroy(), timeoutMs);
    timer.unref();
    try {
      let discarded = false;
      for (;;) {
        const f = await this.input.next();
        if (!f) return false;
        switch (f.type) {
          case BackendCode.ParameterStatus:
            this.noteParameter(f);
            break;
          case BackendCode.NoticeResponse:
            break;
          case BackendCode.CommandComplete:
            discarded = true;
            break;
          case BackendCode.ReadyForQuery:
            this.status = parseReadyForQuery(f.body);
            return discarded && this.reusable;
          default:
            return false;
        }
      }
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends a CancelRequest with the upstream's own key on a side connection (PostgreSQL's cancel protocol). */
  async cancel(): Promise<void> {
    this.cancelsInFlight++;
    try {
      const s = await openSocket(this.target.host, this.target.port);
      await new Promise<void>((resolve) => {
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        s.end(serialize.cancel(this.processId, this.secretKey));
      });
    } finally {
      this.cancelsInFlight--;
    }
  }

  private cancelsInFlight = 0;

  close(): void {
    if (!this.socket.destroyed) this.socket.end(serialize.end());
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }
}
