/**
 * Walks a server's response to one command as bytes stream past, without
 * decoding rows: it finds where the response ends, counts rows, and reads
 * OK/EOF/ERR packets (affected rows, status flags, SERVER_MORE_RESULTS_EXISTS).
 * Row payloads are skipped, never copied; column definitions are kept for lazy decoding.
 * Reference: https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_query_response.html,
 * page_protocol_com_stmt_prepare.html#sect_protocol_com_stmt_prepare_response,
 * page_protocol_binary_resultset.html, page_protocol_com_stmt_fetch.html.
 */
import { Header, MAX_PACKET, Status } from './constants.js';
import { ColumnDefinition } from './column-definition.js';
import { buildEof, buildOk, isEofLike, parseEof, parseErr, parseOk, type ErrPacket } from './messages.js';
import { framePayload } from './packet-writer.js';
import { PayloadReader, WireError } from './packet-reader.js';

/** Which kind of response to expect. */
export type ResponseKind =
  | 'query'      // COM_QUERY, COM_STMT_EXECUTE: OK | ERR | LOCAL INFILE | result sets, possibly several
  | 'prepare'    // COM_STMT_PREPARE: prepare-OK + parameter and column definitions | ERR
  | 'fetch'      // COM_STMT_FETCH: rows then EOF | ERR
  | 'field-list' // COM_FIELD_LIST: column definitions then EOF | ERR
  | 'single';    // anything answered by one packet (OK, ERR, COM_STATISTICS text)

/** The outcome of one statement of a (possibly multi-statement) response. */
export interface StatementResult {
  readonly rows: number;
  readonly affectedRows: number;
  readonly error: ErrPacket | undefined;
}

/** What the walker learned about a response. */
export interface ResponseSummary {
  /** One entry per statement result, in order (an ERR ends the list). */
  results: StatementResult[];
  /** Rows forwarded. */
  rows: number;
  /** Rows dropped by the row cap or the byte limit. */
  cutRows: number;
  /** The result went over the byte limit: it was ended with the caller's ERR packet. */
  tooLarge: boolean;
  /** Row payload bytes counted against the byte limit. */
  rowBytes: number;
  affectedRows: number;
  /** Result sets seen (0 for a plain OK). */
  resultSets: number;
  /** Status flags of the last OK/EOF. */
  status: number;
  warnings: number;
  error: ErrPacket | undefined;
  /** The server asked for a LOCAL INFILE file: the name it asked for. */
  localInfile: string | undefined;
  /** Prepared statement facts (prepare responses only). */
  statementId: number | undefined;
  params: number;
  /** Columns of the most recent result set. */
  columns: ColumnDefinition[];
  /** Sequence id of the last packet seen. */
  lastSeq: number;
}

const EMPTY = Buffer.alloc(0);
/** Row-phase packets at least this long are rows (terminators and ERR packets are far smaller). */
const SMALL = 16 * 1024;

const enum S { First, Columns, ColumnsEof, Rows, PrepareParams, PrepareParamsEof, PrepareColumns, PrepareColumnsEof, Done }

/**
 * Feed it chunks with `feed`; it returns the offset just past the response's
 * last byte once the response is complete, else -1.
 */
export class ResponseWalker {
  private kind: ResponseKind = 'single';
  private deprecateEof = false;
  private cursor = false;
  private state = S.Done;
  private header = Buffer.alloc(4);
  private headerHave = 0;
  /** Bytes of the current payload still to come. */
  private left = 0;
  private length = 0;
  private seq = 0;
  /** Whether the current payload is being collected (else skipped). */
  private collect = false;
  private parts: Buffer[] = [];
  /** The previous packet was exactly MAX_PACKET long: this one continues it. */
  private continuation = false;
  private count = 0;
  private readonly reader = new PayloadReader();
  /** MariaDB extended metadata is on for this connection (column definitions carry an extra block). */
  extendedMetadata = false;
  /** Row cap per result set (undefined: none). */
  private maxRows: number | undefined;
  /** The current result set reached the cap: rows are dropped until its terminator. */
  private cutting = false;
  /** Row bytes one response may carry, and the ERR payload that ends it when it would carry more. */
  private maxBytes: { readonly limit: number; readonly err: Buffer } | undefined;
  private rowBytes = 0;
  /** Over the byte limit: the terminator becomes the ERR, and everything after it is dropped. */
  private overflowed = false;
  private swallow = false;
  /** The caller ended the response (a timeout): everything from the next packet on is dropped, then this ERR goes out. */
  private forced: Buffer | undefined;
  private forcedSeq = -1;
  /** A row header split across chunks is held back until we know whether the row goes out. */
  private pendingHeader = false;
  private headerStart = -1;
  /** Packets dropped so far: later sequence ids are lowered by this much. */
  private seqDelta = 0;
  /** Start of the bytes of the current chunk still to forward, or -1 while holding back. */
  private fwd = -1;
  private chunk: Buffer = EMPTY;
  /** What to forward from the last `feed` call, in order (views over the chunk where possible). */
  out: Buffer[] = [];
  summary: ResponseSummary = ResponseWalker.empty();

  private static empty(): ResponseSummary {
    return { results: [], rows: 0, cutRows: 0, tooLarge: false, rowBytes: 0, affectedRows: 0, resultSets: 0, status: 0, warnings: 0, error: undefined, localInfile: undefined, statementId: undefined, params: 0, columns: [], lastSeq: 0 };
  }

  /**
   * Starts walking a new response. `cursor`: COM_STMT_EXECUTE opened a
   * cursor (no rows follow the metadata). `maxRows`: forward at most this
   * many rows per result set, then end it with its own terminator carrying
   * one more warning (DESIGN.md decision 4).
   */
  start(kind: ResponseKind, deprecateEof: boolean, cursor = false, maxRows?: number, maxBytes?: { limit: number; err: Buffer }): void {
    this.maxRows = kind === 'query' || kind === 'fetch' ? maxRows : undefined;
    this.maxBytes = kind === 'query' || kind === 'fetch' ? maxBytes : undefined;
    this.rowBytes = 0;
    this.overflowed = false;
    this.swallow = false;
    this.forced = undefined;
    this.forcedSeq = -1;
    this.forceAtBoundary = false;
    this.pendingHeader = false;
    this.cutting = false;
    this.seqDelta = 0;
    this.kind = kind;
    this.deprecateEof = deprecateEof;
    this.cursor = cursor;
    this.state = kind === 'fetch' ? S.Rows : kind === 'field-list' ? S.Columns : S.First;
    this.count = kind === 'field-list' ? Number.MAX_SAFE_INTEGER : 0;
    this.headerHave = 0;
    this.left = 0;
    this.parts = [];
    this.continuation = false;
    this.rowsAtStart = 0;
    this.summary = ResponseWalker.empty();
    if (this.state === S.Rows) this.checkCap();
  }

  get done(): boolean {
    return this.state === S.Done;
  }

  /**
   * Ends the response for the client with `err` (an ERR payload): from the
   * next packet boundary on, nothing more is forwarded, and once the server
   * has finished its response the ERR takes its place. Used when a statement
   * is cancelled for running past its time limit.
   */
  forceError(err: Buffer): void {
    if (this.done || this.forced) return;
    this.forced = err;
    // Never cut a packet (or a split row) in half: wait for its end.
    if (this.headerHave === 0 && this.left === 0 && !this.continuation) this.swallow = true;
    else this.forceAtBoundary = true;
  }

  private forceAtBoundary = false;

  /**
   * Walks a chunk. Returns the offset just past the response's end, or -1
   * when more is to come. `out` then holds the bytes to forward: the chunk
   * itself unless a row cap dropped rows.
   */
  feed(chunk: Buffer, offset = 0): number {
    let at = offset;
    this.out = [];
    this.chunk = chunk;
    this.fwd = this.cutting || this.swallow || this.pendingHeader ? -1 : at;
    while (at < chunk.length && !this.done) {
      if (this.headerHave < 4) {
        if (this.headerHave === 0) {
          if (this.cutting || this.swallow) this.hold(at);
          // A row whose size decides whether it may go out (byte limit).
          this.headerStart = this.maxBytes && this.state === S.Rows && !this.continuation && !this.cutting && !this.swallow ? at : -1;
        }
        if (this.headerHave === 0 && at + 4 <= chunk.length) {
          // The whole header is in this chunk (nearly always): read it where it is, no copy per packet.
          this.length = chunk[at] | (chunk[at + 1] << 8) | (chunk[at + 2] << 16);
          this.seq = chunk[at + 3];
          this.headerHave = 4;
          at += 4;
        } else {
          const n = Math.min(4 - this.headerHave, chunk.length - at);
          chunk.copy(this.header, this.headerHave, at, at + n);
          this.headerHave += n;
          at += n;
          if (this.headerHave < 4) {
            if (this.headerStart >= 0) {
              this.hold(this.headerStart);
              this.pendingHeader = true;
            }
            break;
          }
          this.length = this.header.readUIntLE(0, 3);
          this.seq = this.header[3];
        }
        if (this.forced && this.swallow && this.forcedSeq < 0) this.forcedSeq = (this.seq - this.seqDelta) & 0xff;
        const watched = this.pendingHeader || this.headerStart >= 0;
        // After dropped rows, sequence ids must stay consecutive for the client.
        if (this.seqDelta !== 0 && !this.cutting && !this.swallow) {
          if (this.pendingHeader) this.header[3] = (this.seq - this.seqDelta) & 0xff;
          else chunk[at - 1] = (this.seq - this.seqDelta) & 0xff;
        }
        if (watched) {
          // Big rows are judged before they go out; small ones (which could be
          // the terminator) are counted once classified, in packetDone.
          if (this.length >= SMALL && this.rowBytes + this.length > this.maxBytes!.limit) {
            if (!this.pendingHeader) this.hold(this.headerStart);
            this.cutting = true;
            this.overflowed = true;
          } else {
            if (this.length >= SMALL) this.rowBytes += this.length;
            if (this.pendingHeader) {
              this.out.push(Buffer.from(this.header));
              this.fwd = at;
            }
          }
          this.pendingHeader = false;
          this.headerStart = -1;
        }
        this.left = this.length;
        this.parts = [];
        // Rows are skipped, never copied: a terminator or ERR is always small,
        // so only small packets in the row phase need their first byte looked at.
        this.collect = !this.continuation && (this.state !== S.Rows || this.length < SMALL);
        if (this.left === 0) this.packetDone(EMPTY, at);
        continue;
      }
      const n = Math.min(this.left, chunk.length - at);
      if (this.collect) this.parts.push(chunk.subarray(at, at + n));
      this.left -= n;
      at += n;
      if (this.left === 0) {
        const payload = !this.collect ? EMPTY : this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
        this.parts = [];
        this.packetDone(payload, at);
      }
    }
    if (this.fwd >= 0 && at > this.fwd) this.out.push(chunk.subarray(this.fwd, at));
    this.summary.rowBytes = this.rowBytes;
    if (this.done && this.forced) {
      // forcedSeq < 0: the response ended with the packet in flight; the client has it all.
      if (this.forcedSeq >= 0) this.out.push(framePayload(this.forced, this.forcedSeq));
      this.forced = undefined;
    }
    this.chunk = EMPTY;
    return this.done ? at : -1;
  }

  /**
   * One whole packet the caller framed itself (the masked relay frames every
   * packet anyway): counted as feed() would count it when it is a plain row
   * of the rows phase and nothing is being cut, held or forced. false: not
   * such a row, nothing was counted, and the caller must feed() its bytes.
   */
  takeRow(payload: Buffer, seq: number): boolean {
    const length = payload.length;
    if (this.state !== S.Rows || this.done || this.headerHave !== 0 || this.continuation || this.cutting || this.swallow
      || this.pendingHeader || this.forced !== undefined || this.forceAtBoundary || this.seqDelta !== 0 || length === 0 || length >= SMALL) return false;
    const first = payload[0];
    if (first === Header.ERR || first === Header.EOF) return false;
    this.seq = seq;
    this.length = length;
    this.summary.lastSeq = seq;
    this.summary.rows++;
    if (this.maxBytes) {
      this.rowBytes += length;
      this.summary.rowBytes = this.rowBytes;
      if (this.rowBytes > this.maxBytes.limit) {
        this.cutting = true;
        this.overflowed = true;
      }
    }
    this.checkCap();
    return true;
  }

  /** Stops forwarding at `at` (the bytes before it go out). */
  private hold(at: number): void {
    if (this.fwd >= 0 && at > this.fwd) this.out.push(this.chunk.subarray(this.fwd, at));
    this.fwd = -1;
  }

  /** While cutting: a packet ended at `end`; forward from there on. */
  private resume(end: number): void {
    if (!this.swallow) this.fwd = end;
  }

  private packetDone(payload: Buffer, end: number): void {
    this.headerHave = 0;
    this.summary.lastSeq = this.seq;
    const wasContinuation = this.continuation;
    this.continuation = this.length === MAX_PACKET;
    if (this.forceAtBoundary && !this.continuation) {
      this.forceAtBoundary = false;
      this.hold(end);
      this.swallow = true;
    }
    if (this.cutting) return this.cutPacketDone(payload, end, wasContinuation);
    if (wasContinuation) {
      // the rest of a split packet: already classified (and counted, if a row)
      if (this.state === S.Rows) {
        if (this.maxBytes) {
          this.rowBytes += this.length;
          // Half a row cannot be taken back: the cut starts after it.
          if (this.rowBytes > this.maxBytes.limit && !this.continuation) {
            this.cutting = true;
            this.overflowed = true;
          }
        }
        this.checkCap();
      }
      return;
    }
    const first = this.collect && payload.length > 0 ? payload[0] : -1;
    switch (this.state) {
      case S.First: return this.onFirst(payload);
      case S.Columns:
        if (this.kind === 'field-list' && (first === Header.ERR || (first === Header.EOF && isEofLike(payload, this.deprecateEof)))) {
          return this.onTerminator(payload, first);
        }
        this.summary.columns.push(new ColumnDefinition(this.collect ? Buffer.from(payload) : Buffer.alloc(0), this.extendedMetadata));
        if (--this.count === 0) {
          this.state = this.deprecateEof ? (this.cursor ? S.Done : S.Rows) : S.ColumnsEof;
          if (this.state === S.Rows) this.checkCap(); // a cap of 0 drops every row
        }
        return;
      case S.ColumnsEof: {
        if (first === Header.ERR) return this.onTerminator(payload, first);
        const eof = parseEof(payload);
        this.summary.status = eof.status;
        this.state = this.cursor || eof.status & Status.CURSOR_EXISTS ? S.Done : S.Rows;
        if (this.state === S.Rows) this.checkCap();
        return;
      }
      case S.Rows:
        if (first === Header.ERR || (first === Header.EOF && this.collect && isEofLike(payload, this.deprecateEof))) {
          return this.onTerminator(payload, first);
        }
        this.summary.rows++;
        if (this.maxBytes && this.length < SMALL) {
          this.rowBytes += this.length;
          if (this.rowBytes > this.maxBytes.limit) {
            this.cutting = true;
            this.overflowed = true;
          }
        }
        this.checkCap();
        return;
      case S.PrepareParams:
        if (--this.count === 0) this.afterParams();
        return;
      case S.PrepareParamsEof:
        this.afterParamsEof();
        return;
      case S.PrepareColumns:
        this.summary.columns.push(new ColumnDefinition(Buffer.from(payload), this.extendedMetadata));
        if (--this.count === 0) this.state = this.deprecateEof ? S.Done : S.PrepareColumnsEof;
        return;
      case S.PrepareColumnsEof:
        this.state = S.Done;
        return;
      default:
        throw new WireError('packet after the end of the response');
    }
  }

  /** After a whole row: at the cap, the rest of this result set is dropped. */
  private checkCap(): void {
    if (this.maxRows !== undefined && !this.continuation && this.summary.rows - this.rowsAtStart >= this.maxRows && !this.cutting) {
      this.cutting = true;
      this.cutRowsBefore = this.summary.cutRows;
    }
  }

  /** summary.cutRows when the current cut began (rows dropped from this result set are the difference). */
  private cutRowsBefore = 0;

  /** A packet seen while the current result set is over its cap: drop rows, rebuild the terminator. */
  private cutPacketDone(payload: Buffer, end: number, wasContinuation: boolean): void {
    const first = this.collect && payload.length > 0 ? payload[0] : -1;
    const terminator = !wasContinuation && (first === Header.ERR || (first === Header.EOF && isEofLike(payload, this.deprecateEof)));
    if (!terminator) {
      if (!wasContinuation) this.summary.cutRows++;
      this.seqDelta++;
      return;
    }
    this.cutting = false;
    const seq = (this.seq - this.seqDelta) & 0xff;
    const dropped = this.summary.cutRows > this.cutRowsBefore;
    if (this.swallow) {
      // already ended for the client
    } else if (this.overflowed) {
      this.out.push(framePayload(this.maxBytes!.err, seq));
      this.summary.tooLarge = true;
      this.swallow = true;
    } else if (first === Header.ERR) {
      this.out.push(framePayload(payload, seq));
    } else if (this.deprecateEof) {
      const ok = parseOk(payload);
      this.out.push(buildOk(seq, { ...ok, warnings: ok.warnings + (dropped ? 1 : 0) }, true));
    } else {
      const eof = parseEof(payload);
      this.out.push(buildEof(seq, eof.status, eof.warnings + (dropped ? 1 : 0)));
    }
    this.resume(end);
    this.onTerminator(payload, first);
  }

  private onFirst(payload: Buffer): void {
    if (payload.length === 0) throw new WireError('empty response packet');
    const h = payload[0];
    if (h === Header.ERR) return this.onTerminator(payload, h);
    if (this.kind === 'single') {
      if (h === Header.OK) this.applyOk(payload);
      this.state = S.Done;
      return;
    }
    if (this.kind === 'prepare') {
      if (h !== Header.OK) throw new WireError('unexpected prepare response');
      const r = this.reader.reset(payload, 1);
      this.summary.statementId = r.u32();
      const columns = r.u16();
      const params = r.u16();
      this.summary.params = params;
      this.prepareColumns = columns;
      this.count = params;
      if (params > 0) this.state = S.PrepareParams;
      else this.afterParamsEof();
      return;
    }
    if (h === Header.OK) {
      this.applyOk(payload);
      this.state = this.summary.status & Status.MORE_RESULTS_EXISTS ? S.First : S.Done;
      return;
    }
    if (h === Header.LOCAL_INFILE) {
      this.summary.localInfile = payload.subarray(1).toString('utf8');
      this.state = S.Done;
      return;
    }
    const columns = this.reader.reset(payload).lenenc();
    if (columns === 0) throw new WireError('result set with no columns');
    this.summary.resultSets++;
    this.rowsAtStart = this.summary.rows;
    this.summary.columns = [];
    this.count = columns;
    this.state = S.Columns;
  }

  private prepareColumns = 0;
  private rowsAtStart = 0;

  private afterParams(): void {
    if (this.deprecateEof) this.afterParamsEof();
    else this.state = S.PrepareParamsEof;
  }

  private afterParamsEof(): void {
    this.count = this.prepareColumns;
    this.state = this.count > 0 ? S.PrepareColumns : S.Done;
  }

  private applyOk(payload: Buffer): void {
    const ok = parseOk(payload);
    this.summary.results.push({ rows: 0, affectedRows: ok.affectedRows, error: undefined });
    this.summary.affectedRows += ok.affectedRows;
    this.summary.status = ok.status;
    this.summary.warnings += ok.warnings;
  }

  private onTerminator(payload: Buffer, first: number): void {
    if (first === Header.ERR) {
      this.summary.error = parseErr(payload);
      this.summary.results.push({ rows: this.state === S.Rows ? this.summary.rows - this.rowsAtStart : 0, affectedRows: 0, error: this.summary.error });
      this.state = S.Done;
      return;
    }
    let affected = 0;
    // EOF (or OK standing in for it) after rows.
    if (this.deprecateEof) {
      const ok = parseOk(payload);
      this.summary.status = ok.status;
      this.summary.warnings += ok.warnings;
      this.summary.affectedRows += ok.affectedRows;
      affected = ok.affectedRows;
    } else {
      const eof = parseEof(payload);
      this.summary.status = eof.status;
      this.summary.warnings += eof.warnings;
    }
    this.summary.results.push({ rows: this.summary.rows - this.rowsAtStart, affectedRows: affected, error: undefined });
    this.state = this.kind === 'query' && this.summary.status & Status.MORE_RESULTS_EXISTS ? S.First : S.Done;
  }
}
