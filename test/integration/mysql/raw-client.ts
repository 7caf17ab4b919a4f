/**
 * A minimal MySQL client over a raw socket, built from sqlgate's own client
 * side codecs, that returns each response's exact bytes: the fidelity test
 * compares what MariaDB sends directly with what arrives through sqlgate.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { Cap, Com, PLUGIN_NATIVE } from '../../../wire/mysql/constants.js';
import { buildHandshakeResponse, parseHandshakeV10 } from '../../../wire/mysql/handshake.js';
import { PacketFramer } from '../../../wire/mysql/packet-reader.js';
import { ResponseWalker, type ResponseKind, type ResponseSummary } from '../../../wire/mysql/result-walker.js';
import { nativeToken } from '../../../wire/mysql/auth-scramble.js';
import { buildCommand } from '../../../wire/mysql/commands.js';
import { framePayload } from '../../../wire/mysql/packet-writer.js';
import { parseErr } from '../../../wire/mysql/messages.js';

export const RAW_CAPS = Cap.LONG_PASSWORD | Cap.LONG_FLAG | Cap.PROTOCOL_41 | Cap.TRANSACTIONS | Cap.SECURE_CONNECTION
  | Cap.PLUGIN_AUTH | Cap.PLUGIN_AUTH_LENENC_CLIENT_DATA | Cap.MULTI_RESULTS | Cap.PS_MULTI_RESULTS | Cap.MULTI_STATEMENTS;

export class RawMysql {
  private constructor(readonly socket: Socket, readonly capabilities: number) {}

  static async login(port: number, user: string, password: string, database: string | undefined, caps = RAW_CAPS): Promise<RawMysql> {
    const socket = netConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    const framer = new PacketFramer();
    const next = () => new Promise<Buffer>((resolve, reject) => {
      const tryNext = () => {
        const p = framer.next();
        if (p) { socket.off('data', onData); resolve(Buffer.from(p.payload)); return true; }
        return false;
      };
      const onData = (c: Buffer) => { framer.push(c); tryNext(); };
      if (!tryNext()) { socket.on('data', onData); socket.once('close', () => reject(new Error('closed'))); }
    });
    const greeting = parseHandshakeV10(await next());
    const negotiated = (caps & greeting.capabilities) >>> 0;
    socket.write(buildHandshakeResponse(1, {
      capabilities: negotiated | (database ? Cap.CONNECT_WITH_DB : 0), collation: 45, user,
      authData: nativeToken(password, greeting.seed), database, plugin: PLUGIN_NATIVE,
    }));
    const answer = await next();
    if (answer[0] === 0xff) throw new Error(parseErr(answer).message);
    if (answer[0] !== 0x00) throw new Error(`unexpected login answer 0x${answer[0].toString(16)}`);
    return new RawMysql(socket, negotiated);
  }

  /** Sends one command packet (payload) and returns the whole response, byte for byte. */
  command(payload: Buffer, kind: ResponseKind): Promise<{ bytes: Buffer; summary: ResponseSummary }> {
    const framed = framePayload(payload, 0);
    const walker = new ResponseWalker();
    walker.start(kind, (this.capabilities & Cap.DEPRECATE_EOF) !== 0);
    const chunks: Buffer[] = [];
    return new Promise((resolve, reject) => {
      const onData = (c: Buffer) => {
        chunks.push(Buffer.from(c));
        let end: number;
        try { end = walker.feed(c); } catch (e) { cleanup(); reject(e); return; }
        if (end >= 0) { cleanup(); resolve({ bytes: Buffer.concat(chunks), summary: walker.summary }); }
      };
      const onClose = () => { cleanup(); reject(new Error('closed')); };
      const cleanup = () => { this.socket.off('data', onData); this.socket.off('close', onClose); };
      this.socket.on('data', onData);
      this.socket.on('close', onClose);
      this.socket.write(framed);
    });
  }

  query(sql: string) {
    return this.command(Buffer.concat([Buffer.from([Com.QUERY]), Buffer.from(sql)]), 'query');
  }

  close(): void {
    this.socket.end(buildCommand(Com.QUIT));
  }
}
