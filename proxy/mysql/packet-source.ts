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
