/**
 * Turns a socket's 'data' events into awaitable protocol frames, with
 * back-pressure: reading pauses while too much is buffered.
 */
import type { Socket } from 'node:net';
import { FrameReader } from '../../wire/postgres/frame-reader.js';
import type { Frame } from '../../wire/postgres/messages.js';

const HIGH_WATER = 4 * 1024 * 1024;

export class SocketInput {
  readonly reader: FrameReader;
  private waiter: (() => void) | undefined;
  private closed = false;
  private readonly onData = (chunk: Buffer) => {
    this.reader.push(chunk);
    if (this.reader.buffered > HIGH_WATER) this.socket.pause();
    this.wake();
  };
  private readonly onEnd = () => {
    this.closed = true;
    this.wake();
  };

  constructor(private readonly socket: Socket, maxLength?: number) {
    this.reader = new FrameReader(maxLength);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onEnd);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private async more(): Promise<boolean> {
    if (this.closed) return false;
    if (this.socket.isPaused()) this.socket.resume();
    await new Promise<void>((resolve) => { this.waiter = resolve; });
    return true;
  }

  /** Next untyped startup packet body, or undefined when the peer went away. */
  async startup(): Promise<Buffer | undefined> {
    for (;;) {
      const p = this.reader.nextStartup();
      if (p) return p;
      if (!(await this.more())) return undefined;
    }
  }

  /** Next typed message, or undefined when the peer went away. */
  async next(): Promise<Frame | undefined> {
    for (;;) {
      const f = this.reader.next();
      if (f) return f;
      if (!(await this.more())) return undefined;
    }
  }

  /** Stops listening (before handing the socket to TLS, or at close); a pending wait ends as "gone". */
  detach(): void {
    this.closed = true;
    this.wake();
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onEnd);
  }
}
