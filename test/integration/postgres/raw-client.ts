/**
 * A minimal raw PostgreSQL client for byte-exact comparisons: logs in
 * (trust, md5 or cleartext), sends frontend messages built by pg-protocol,
 * and returns the server's answer up to ReadyForQuery as raw bytes.
 */
import { connect, type Socket } from 'node:net';
import { serialize } from 'pg-protocol';
import { FrameReader } from '../../../wire/postgres/frame-reader.js';
import { md5Response } from '../../../governance/auth/password-checks.js';
import type { Frame } from '../../../wire/postgres/messages.js';

export class RawClient {
  private readonly reader = new FrameReader();
  private wake: (() => void) | undefined;
  private ended = false;
  /** BackendKeyData and ParameterStatus seen at login. */
  readonly login: Frame[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (d) => { this.reader.push(d); this.wake?.(); });
    socket.on('close', () => { this.ended = true; this.wake?.(); });
    socket.on('error', () => undefined);
  }

  static async open(port: number, user: string, database: string, password?: string): Promise<RawClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    const c = new RawClient(socket);
    socket.write(serialize.startup({ user, database }));
    for (;;) {
      const f = await c.frame();
      if (!f) throw new Error('closed during login');
      if (f.type === 0x52) {
        const code = f.body.readInt32BE(0);
        if (code === 5) socket.write(serialize.password(md5Response(user, password ?? '', f.body.subarray(4, 8))));
        else if (code === 3) socket.write(serialize.password(password ?? ''));
        else if (code !== 0) throw new Error(`auth method ${code} not supported by the raw client`);
      } else if (f.type === 0x45) {
        throw new Error(`login failed: ${f.body.toString('latin1')}`);
      } else if (f.type === 0x5a) {
        return c;
      } else {
        c.login.push({ ...f, raw: Buffer.from(f.raw) });
      }
    }
  }

  async frame(): Promise<Frame | undefined> {
    for (;;) {
      const f = this.reader.next();
      if (f) return f;
      if (this.ended) return undefined;
      await new Promise<void>((r) => { this.wake = r; });
    }
  }

  /** Sends messages, returns every answer byte up to and including ReadyForQuery. */
  async roundTrip(...messages: Buffer[]): Promise<Buffer> {
    this.socket.write(Buffer.concat(messages));
    const out: Buffer[] = [];
    for (;;) {
      const f = await this.frame();
      if (!f) throw new Error('connection closed');
      out.push(Buffer.from(f.raw));
      if (f.type === 0x5a) return Buffer.concat(out);
    }
  }

  /** Extended-protocol query with all results in one format (0 text, 1 binary). */
  extended(sql: string, format: 0 | 1): Promise<Buffer> {
    return this.roundTrip(
      serialize.parse({ text: sql }), serialize.bind({ binary: format === 1 }), serialize.describe({ type: 'P' }),
      serialize.execute({}), serialize.sync(),
    );
  }

  simple(sql: string): Promise<Buffer> {
    return this.roundTrip(serialize.query(sql));
  }

  close(): void {
    this.socket.end(serialize.end());
  }
}
