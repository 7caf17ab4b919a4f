/**
 * Turns a socket's 'data' events into protocol frames, with back-pressure:
 * awaitable one at a time (`next`, for logins), or pushed to a handler as
 * they arrive (`pump`, for the client's requests and the upstream's results:
 * no promise per frame, which on a streamed result was most of the relay's
 * cost).
 */
import type { Socket } from 'node:net';
import { FrameReader } from '../../wire/postgres/frame-reader.js';
import type { Frame } from '../../wire/postgres/messages.js';

const HIGH_WATER = 4 * 1024 * 1024;

export class SocketInput {
  readonly reader: FrameReader;
  private waiter: (() => void) | undefined;
  private closed = false;
  private sink: ((f: Frame) => void) | undefined;
  private sinkEnd: ((err?: unknown) => void) | undefined;
  private held = false;
  private readonly onData = (chunk: Buffer) => {
    this.reader.push(chunk);
    if (this.sink) return this.deliver();
    if (this.reader.buffered > HIGH_WATER) this.socket.pause();
    this.wake();
  };
  private readonly onEnd = () => {
    this.closed = true;
    if (this.sink) return this.deliver();
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

  /**
   * From now on every complete frame goes to `onFrame` as soon as it is
   * received, in order; `onEnd` is called once, when the peer has gone (no
   * argument) or a frame could not be read or handled (the error).
   */
  pump(onFrame: (f: Frame) => void, onEnd: (err?: unknown) => void): void {
    this.sink = onFrame;
    this.sinkEnd = onEnd;
    if (this.socket.isPaused()) this.socket.resume();
    this.deliver();
  }

  /**
   * Leaves push mode, for a connection going back to a pool: frames wait for
   * `next` again. False (and nothing changes) while the input is held.
   */
  unpump(): boolean {
    if (this.held) return false;
    this.sink = undefined;
    this.sinkEnd = undefined;
    return true;
  }

  /** The peer has gone (or the input was detached). */
  get ended(): boolean {
    return this.closed;
  }

  /** In push mode, stops reading and delivering until `until` settles (the reader's own back-pressure). */
  hold(until: Promise<unknown>): void {
    if (!this.sink || this.held) return;
    this.held = true;
    this.socket.pause();
    const resume = () => {
      this.held = false;
      if (!this.sink) return;
      this.socket.resume();
      this.deliver();
    };
    until.then(resume, resume);
  }

  private deliver(): void {
    try {
      while (!this.held && this.sink) {
        const f = this.reader.next();
        if (!f) break;
        this.sink(f);
      }
    } catch (err) {
      return this.endPump(err);
    }
    if (this.closed && !this.held) this.endPump();
  }

  private endPump(err?: unknown): void {
    const end = this.sinkEnd;
    this.sink = undefined;
    this.sinkEnd = undefined;
    end?.(err);
  }

  /** Stops listening (before handing the socket to TLS, or at close); a pending wait ends as "gone". */
  detach(): void {
    this.closed = true;
    this.sink = undefined;
    this.sinkEnd = undefined;
    this.wake();
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onEnd);
  }
}
