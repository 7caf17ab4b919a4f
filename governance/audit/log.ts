/**
 * The audit sink: one JSON line per AuditEvent, written synchronously with
 * write(2) or buffered through pino's destination (sonic-boom), chained by
 * hashes (chain.ts) so that `sqlgate audit verify` finds any edited, deleted,
 * reordered or truncated record. The chain continues across restarts: on
 * open, the last record of the file is read and checked.
 *
 * Fail closed (DESIGN.md decision 10): once a write has failed, or the
 * buffer of an asynchronous sink overflowed, every later `write` throws
 * AUDIT_UNAVAILABLE, and callers refuse the statement rather than run it
 * unaudited. Secrets are scrubbed before hashing (redact.ts).
 *
 * One file belongs to one writer: two processes appending to the same file
 * would interleave two chains. Give each node its own file.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import pino from 'pino';
import { SqlgateError } from '../errors.js';
import type { AuditEvent } from './event.js';
import { GENESIS, checkLine, sha256Hex } from './chain.js';
import { SENSITIVE, redactSql, scrubSecrets, type Redaction } from './redact.js';

export interface AuditLogOptions {
  readonly file: string;
  /** This node's id, used when an event leaves `node` empty. */
  readonly node: string;
  /**
   * true (default): each record is written with a synchronous write before
   * `write` returns, so an acknowledged statement is on disk (modulo the OS
   * cache). false: records are buffered and written asynchronously, up to
   * `maxBufferBytes`; overflow or a failed write fails the sink.
   */
  readonly sync?: boolean;
  /**
   * With `sync`: records made in one event-loop turn are written together,
   * with one synchronous write at the end of the turn (group commit), rather
   * than one write each. A record still reaches the file within microseconds
   * of being made; a failed write fails the sink for every later record.
   */
  readonly groupCommit?: boolean;
  readonly maxBufferBytes?: number;
}

/** Where a written record landed in the chain. */
export interface AuditReceipt {
  readonly seq: number;
  readonly hash: string;
}

type SonicBoom = ReturnType<typeof pino.destination>;

export class AuditLog {
  readonly file: string;
  readonly #node: string;
  /** The asynchronous sink; undefined when records are written synchronously to `#fd`. */
  readonly #dest: SonicBoom | undefined;
  readonly #fd: number;
  #seq: number;
  #prev: string;
  #failure: Error | undefined;
  #closed = false;
  readonly #group: boolean;
  #scheduled = false;

  private constructor(opts: AuditLogOptions, fd: number, seq: number, prev: string) {
    this.file = opts.file;
    this.#node = opts.node;
    this.#seq = seq;
    this.#prev = prev;
    const sync = opts.sync !== false;
    this.#group = sync && opts.groupCommit === true;
    this.#fd = fd;
    // Synchronous records go straight to write(2): sonic-boom's bookkeeping
    // (string buffer, byte-length checks) cost more than the write itself on
    // the statement path. The asynchronous sink keeps pino's destination.
    if (sync) {
      this.#dest = undefined;
      return;
    }
    // Async: one write(2) takes everything pending (up to 1 MiB), so the sink drains as fast as it fills.
    this.#dest = pino.destination({ fd, sync: false, minLength: 0, maxWrite: 1024 * 1024, maxLength: opts.maxBufferBytes ?? 16 * 1024 * 1024 });
    this.#dest.on('error', (err: Error) => this.#fail(err));
    this.#dest.on('drop', () => this.#fail(new Error('audit buffer overflow: the sink cannot keep up')));
  }

  /**
   * Opens (creating if needed) the audit file and picks the chain up from its
   * last record. Throws AUDIT_UNAVAILABLE if the file cannot be opened or its
   * last record is broken (run `sqlgate audit verify`, then rotate the file).
   */
  static open(opts: AuditLogOptions): AuditLog {
    let fd: number;
    try {
      mkdirSync(dirname(opts.file), { recursive: true });
      fd = openSync(opts.file, 'a+', 0o600);
    } catch (e) {
      throw new SqlgateError('AUDIT_UNAVAILABLE', `sqlgate: cannot open audit log ${opts.file}: ${(e as Error).message}`, { cause: e });
    }
    let seq = 0;
    let prev = GENESIS;
    try {
      const last = readLastLine(fd);
      if (last !== undefined) {
        if (!last.complete) throw new Error('it ends in a partial record');
        const r = checkLine(last.line);
        if ('reason' in r) throw new Error(`its last record is broken: ${r.reason}`);
        seq = r.record.seq;
        prev = r.record.hash;
      }
    } catch (e) {
      closeSync(fd);
      throw new SqlgateError('AUDIT_UNAVAILABLE',
        `sqlgate: audit log ${opts.file} cannot be continued: ${(e as Error).message}; run 'sqlgate audit verify ${opts.file}' and move the file aside`);
    }
    return new AuditLog(opts, fd, seq, prev);
  }

  /** Sequence number of the last record written (0 for an empty file). */
  get seq(): number {
    return this.#seq;
  }

  /** Why the sink failed, if it has. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Appends one record. Throws AUDIT_UNAVAILABLE if the sink has failed or is closed. */
  write(event: AuditEvent): AuditReceipt {
    this.#check();
    const seq = this.#seq + 1;
    // The record is serialized once, into the bytes that are written, and the
    // hash covers exactly those bytes (minus the hash member appended last),
    // so the chain does not depend on any serializer agreeing with another.
    const hash = this.#append(this.#serialize(event, seq, this.#prev));
    if (this.#group) {
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#writePending);
      }
    } else {
      this.#writePending();
      this.#check();
    }
    this.#seq = seq;
    this.#prev = hash;
    return { seq, hash };
  }

  /** Records serialized and not yet written: UTF-8 lines in `#out[0, #outLength)`. */
  #out = Buffer.allocUnsafe(OUT_BYTES);
  #outLength = 0;

  /** Encodes a record's text once, hashes those bytes, and closes the line with its hash. */
  #append(text: string): string {
    const room = this.#outLength + text.length * 3 + HASH_MEMBER_BYTES;
    if (room > this.#out.length) {
      const bigger = Buffer.allocUnsafe(Math.max(room, this.#out.length * 2));
      this.#out.copy(bigger, 0, 0, this.#outLength);
      this.#out = bigger;
    }
    const start = this.#outLength;
    const n = this.#out.write(text, start, 'utf8');
    const hash = sha256Hex(this.#out.subarray(start, start + n));
    // The hash member replaces the closing brace.
    this.#outLength = start + n - 1 + this.#out.write(`,"hash":"${hash}"}\n`, start + n - 1, 'latin1');
    return hash;
  }

  /** Writes the records of this turn now (group commit); a failure fails the sink, it does not throw here. */
  writePending(): void {
    this.#writePending();
  }

  readonly #writePending = (): void => {
    this.#scheduled = false;
    if (this.#outLength === 0) return;
    const bytes = this.#out.subarray(0, this.#outLength);
    this.#outLength = 0;
    if (!this.#failure) {
      try {
        if (this.#dest) this.#dest.write(bytes.toString('utf8'));
        else writeAllSync(this.#fd, bytes);
      } catch (e) {
        this.#fail(e as Error);
      }
    }
    // One huge statement must not keep a huge buffer.
    if (this.#out.length > 16 * OUT_BYTES) this.#out = Buffer.allocUnsafe(OUT_BYTES);
  };

  /** Forces buffered records to the file. Throws AUDIT_UNAVAILABLE on failure. */
  flush(): void {
    this.#writePending();
    this.#check();
    try {
      this.#dest?.flushSync();
    } catch (e) {
      this.#fail(e as Error);
    }
    this.#check();
  }

  /** Flushes and closes the file; later writes throw. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#writePending();
    this.#closed = true;
    const dest = this.#dest;
    if (!dest) {
      try { closeSync(this.#fd); } catch { /* already gone: nothing is left to write */ }
      return;
    }
    if (this.#failure) {
      // A failed sink may never drain: drop what is left rather than hang.
      dest.destroy();
      return;
    }
    // A sink that fails while draining may never emit 'close': give it a
    // bounded time, then drop it rather than hang shutdown.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { dest.destroy(); resolve(); }, 5000);
      const done = () => { clearTimeout(timer); resolve(); };
      dest.once('close', done);
      dest.once('error', done);
      dest.end();
    });
  }

  #check(): void {
    if (this.#failure) {
      throw new SqlgateError('AUDIT_UNAVAILABLE',
        `sqlgate: the audit log is unavailable (${this.#failure.message}); statements are refused until it is restored`,
        { cause: this.#failure });
    }
    if (this.#closed) throw new SqlgateError('AUDIT_UNAVAILABLE', 'sqlgate: the audit log is closed');
  }

  #fail(err: Error): void {
    this.#failure ??= err;
  }

  /**
   * The record as JSON text: a fixed member order, secrets scrubbed, strings
   * made well-formed so the written bytes are the hashed bytes. Written out
   * member by member rather than by JSON.stringify of an object (2.5x faster
   * for a statement record); the text is exactly what JSON.stringify would
   * give for the same members, which `sqlgate audit verify` checks.
   */
  #serialize(e: AuditEvent, seq: number, prev: string): string {
    const sql = e.sql === undefined ? undefined : redactSql(wellFormed(e.sql));
    const scrub = e.error === undefined && e.detail === undefined ? undefined : scrubber(sql);
    let t = `{"kind":"audit","seq":${seq},"prev":"${prev}"`;
    t += member('time', e.time);
    t += member('node', e.node || this.#node, true);
    t += member('session', e.session, true);
    t += member('user', e.user, true);
    t += member('clientIp', e.clientIp, true);
    t += member('door', e.door, true);
    t += member('type', e.type, true);
    t += member('instance', e.instance, true);
    t += member('database', e.database, true);
    t += member('sql', sql?.text);
    t += member('fingerprint', e.fingerprint === undefined ? undefined : redactedFingerprint(e.fingerprint), true);
    t += member('decision', e.decision, true);
    t += e.rules.length === 0 ? ',"rules":[]' : member('rules', e.rules);
    t += member('durationMs', e.durationMs);
    t += member('rowsReturned', e.rowsReturned);
    t += member('rowsAffected', e.rowsAffected);
    t += member('error', e.error === undefined ? undefined : { code: e.error.code, message: scrub!(e.error.message) });
    t += member('operation', e.operation);
    t += member('detail', e.detail === undefined ? undefined : scrub!(e.detail));
    return t + '}';
  }
}

/** Room kept for records between writes; a turn's records usually fit. */
const OUT_BYTES = 64 * 1024;
/** `,"hash":"<64 hex>"}\n` */
const HASH_MEMBER_BYTES = 77;

/**
 * `,"name":<value as JSON>`, or nothing where JSON.stringify leaves the
 * member out (undefined, a function). `repeats`: the value is one of few
 * (a user, a session, a fingerprint) and its JSON text is remembered.
 */
function member(name: string, v: unknown, repeats = false): string {
  if (v === undefined) return '';
  const j = repeats && typeof v === 'string' ? quoted(v) : JSON.stringify(v);
  return j === undefined ? '' : `,"${name}":${j}`;
}

const quotes = new Map<string, string>();

function quoted(s: string): string {
  let q = quotes.get(s);
  if (q === undefined) {
    q = JSON.stringify(s);
    if (quotes.size >= 10_000) quotes.clear();
    quotes.set(s, q);
  }
  return q;
}

/**
 * Writes all of `buf`, continuing after a short write. The file is opened
 * blocking, so EAGAIN means someone handed us a non-blocking descriptor
 * (a pipe): it is retried briefly, then the write fails, and the log with it.
 */
function writeAllSync(fd: number, buf: Buffer): void {
  let off = 0;
  let retries = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN' || ++retries > 100) throw e;
      Atomics.wait(SLEEP, 0, 0, 10);
    }
  }
}

const SLEEP = new Int32Array(new SharedArrayBuffer(4));

/** Scrubs what may echo the statement's secrets: error messages and details. */
function scrubber(sql: Redaction | undefined): (v: unknown) => unknown {
  const secrets = sql?.secrets ?? [];
  const sensitive = sql?.sensitive ?? false;
  const scrub = (v: unknown): unknown => {
    if (typeof v === 'string') return scrubSecrets(wellFormed(v), secrets, sensitive);
    if (Array.isArray(v)) return v.map(scrub);
    if (typeof v === 'bigint') return v.toString();
    if (v && typeof v === 'object') {
      // A member named like a secret (password, api_key, token…) loses its value whatever it holds.
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [wellFormed(k), SENSITIVE.test(k) ? '***' : scrub(x)]));
    }
    if (typeof v === 'number' && !Number.isFinite(v)) return null;
    return v;
  };
  return scrub;
}

/**
 * Fingerprints are few (one per statement shape) and repeat on every
 * statement of that shape: their redaction is remembered, in a bounded map.
 */
const fingerprints = new Map<string, string>();

function redactedFingerprint(fp: string): string {
  let r = fingerprints.get(fp);
  if (r === undefined) {
    r = redactSql(wellFormed(fp)).text;
    if (fingerprints.size >= 10_000) fingerprints.clear();
    fingerprints.set(fp, r);
  }
  return r;
}

function wellFormed(s: string): string {
  const w = s as string & { isWellFormed(): boolean; toWellFormed(): string };
  return w.isWellFormed() ? s : w.toWellFormed();
}

/** The last line of a file (without its newline), read backwards in chunks. */
function readLastLine(fd: number): { line: string; complete: boolean } | undefined {
  const st = fstatSync(fd);
  if (!st.isFile() || st.size === 0) return undefined;
  const chunk = 64 * 1024;
  let end = st.size;
  const parts: Buffer[] = [];
  let complete: boolean | undefined;
  while (end > 0) {
    const start = Math.max(0, end - chunk);
    const buf = Buffer.alloc(end - start);
    readSync(fd, buf, 0, buf.length, start);
    let b = buf;
    if (complete === undefined) {
      complete = b[b.length - 1] === 0x0a;
      if (complete) b = b.subarray(0, b.length - 1);
    }
    const nl = b.lastIndexOf(0x0a);
    if (nl >= 0) {
      parts.unshift(b.subarray(nl + 1));
      break;
    }
    parts.unshift(b);
    end = start;
  }
  return { line: Buffer.concat(parts).toString('utf8'), complete: complete ?? false };
}
