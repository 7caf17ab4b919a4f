/**
 * Pulls whole MySQL packets from a socket one at a time, so that a
 * connection's protocol can be written as sequential async code. Reading
 * pauses while a complete packet waits to be taken (a client cannot make us
 * buffer without bound), and the socket can be swapped for its TLS wrapper.
 */
import type { Socket } from 'node:net';
import { PacketFramer, type Packet } from '../../wire/mysql/packet-reader.js';

export class SocketClosedError extends Error {
  constructor(message = 'connection closed') {
    super(message);
    this.name = 'SocketClosedError';
  }
}

export class PacketSource {
  private socket: Socket;
  private readonly framer: PacketFramer;
  private waiter: { resolve: (p: Packet) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;
  /** Optional peek at raw bytes before framing (PROXY header detection). */
  private rawListener: ((chunk: Buffer) => Buffer | undefined) | undefined;
  private readonly onData = (chunk: Buffer) => this.push(chunk);
  private readonly onEnd = () => this.fail(new SocketClosedError());
  private readonly onError = (err: Error) => this.fail(err);

  constructor(socket: Socket, maxPayload?: number) {
    this.socket = socket;
    this.framer = new PacketFramer(maxPayload);
    this.attach(socket);
  }

  /** Largest packet payload accepted from now on. */
  set maxPayload(n: number) {
    this.framer.maxPayload = n;
  }

  get current(): Socket {
    return this.socket;
  }

  private attach(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  private detach(socket: Socket): void {
    socket.off('data', this.onData);
    socket.off('end', this.onEnd);
    socket.off('close', this.onEnd);
    socket.off('error', this.onError);
  }

  /** Routes raw chunks through `fn` first: it returns the bytes to frame (or undefined to hold them). */
  intercept(fn: ((chunk: Buffer) => Buffer | undefined) | undefined): void {
    this.rawListener = fn;
  }

  /** Hands reading over to another socket (the TLS wrapper of the same connection). */
  switchTo(socket: Socket): void {
    this.detach(this.socket);
    this.socket = socket;
    this.attach(socket);
    socket.resume();
  }

  /** Stops reading from the current socket without failing waiters (before a TLS upgrade). */
  hold(): void {
    this.detach(this.socket);
  }

  /**
   * Stops reading and returns every byte received but not yet consumed: a
   * client may send its TLS ClientHello right behind the SSLRequest, and
   * those bytes belong to the TLS layer.
   */
  takeUnread(): Buffer {
    this.socket.pause();
    this.detach(this.socket);
    const parts: Buffer[] = [this.framer.drain()];
    for (let c = this.socket.read() as Buffer | null; c; c = this.socket.read() as Buffer | null) parts.push(c);
    return Buffer.concat(parts);
  }

  /** Bytes already received beyond complete packets. */
  get pending(): number {
    return this.framer.pending;
  }

  private push(chunk: Buffer): void {
    if (this.rawListener) {
      let rest: Buffer | undefined;
      try {
        rest = this.rawListener(chunk);
      } catch (err) {
        this.socket.pause();
        this.fail(err as Error);
        return;
      }
      if (rest === undefined) return;
      chunk = rest;
    }
    this.framer.push(chunk);
    this.deliver();
  }

  private deliver(): void {
    if (!this.waiter) {
      if (this.sink && !this.held) return this.deliverToSink();
      // Someone will come for it; stop reading meanwhile.
      if (this.framer.pending > 0) this.socket.pause();
      return;
    }
    let p: Packet | undefined;
    try {
      p = this.framer.next();
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    if (p) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(p);
    }
  }

  private fail(err: Error): void {
    if (!this.failure) this.failure = err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(this.failure);
    if (!w && this.sink && !this.held) this.endPump(this.failure);
  }

  /** Where pushed packets go (`pump`), and whether a packet's handling holds the rest back. */
  private sink: ((p: Packet) => Promise<unknown> | void) | undefined;
  private sinkEnd: ((err: Error) => void) | undefined;
  private held = false;

  /**
   * From now on every complete packet goes to `onPacket` as it arrives, in
   * order, with no promise per packet. A handler that returns a promise
   * holds the packets after it until it settles; meanwhile `next()` still
   * serves whoever reads inside that handling (a LOCAL INFILE upload).
   * `onEnd` is called once, with what ended the stream (SocketClosedError
   * when the peer went away, the WireError of a malformed packet).
   */
  pump(onPacket: (p: Packet) => Promise<unknown> | void, onEnd: (err: Error) => void): void {
    this.sink = onPacket;
    this.sinkEnd = onEnd;
    this.deliverToSink();
  }

  private deliverToSink(): void {
    while (this.sink && !this.held && !this.waiter) {
      let p: Packet | undefined;
      try {
        p = this.framer.next();
      } catch (err) {
        this.failure ??= err as Error;
        return this.endPump(this.failure);
      }
      if (!p) break;
      let r: Promise<unknown> | void;
      try {
        r = this.sink(p);
      } catch (err) {
        return this.endPump(err as Error);
      }
      if (r) {
        this.held = true;
        const resume = () => {
          this.held = false;
          this.deliver();
        };
        r.then(resume, (err: unknown) => this.endPump(err as Error));
        return;
      }
    }
    if (!this.sink || this.held || this.waiter) return;
    if (this.failure) return this.endPump(this.failure);
    if (this.socket.isPaused()) this.socket.resume();
  }

  private endPump(err: Error): void {
    const end = this.sinkEnd;
    this.sink = undefined;
    this.sinkEnd = undefined;
    end?.(err);
  }

  /** The next packet; rejects when the socket closes or the bytes are malformed. */
  next(): Promise<Packet> {
    if (this.waiter) return Promise.reject(new Error('concurrent read'));
    try {
      const p = this.framer.next();
      if (p) return Promise.resolve(p);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<Packet>((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.socket.resume();
    });
  }

  /** Stop listening entirely. */
  close(): void {
    this.detach(this.socket);
    this.fail(new SocketClosedError());
  }
}
