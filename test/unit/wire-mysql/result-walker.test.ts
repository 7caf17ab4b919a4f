import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseWalker, type ResponseKind } from '../../../wire/mysql/result-walker.js';
import { MAX_PACKET, Status } from '../../../wire/mysql/constants.js';

// An independent encoder for server responses.
function frame(seq: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUIntLE(payload.length, 0, 3);
  h[3] = seq;
  return Buffer.concat([h, payload]);
}
const lenstr = (s: string | Buffer) => { const b = Buffer.from(s); return Buffer.concat([Buffer.from([b.length]), b]); };
function coldef(table: string, name: string, orgName = name): Buffer {
  return Buffer.concat([lenstr('def'), lenstr('shop'), lenstr('c'), lenstr(table), lenstr(name), lenstr(orgName),
    Buffer.from([0x0c, 45, 0, 0, 1, 0, 0, 0xfd, 0, 0, 0, 0, 0])]);
}
const ok = (affected: number, status: number, header = 0) => Buffer.from([header, affected, 0, status & 0xff, status >> 8, 0, 0]);
const eof = (status: number) => Buffer.from([0xfe, 0, 0, status & 0xff, status >> 8]);
const err = () => Buffer.concat([Buffer.from([0xff, 0x7a, 0x04]), Buffer.from('#42S02no such table')]);

function stream(payloads: Buffer[]): Buffer {
  return Buffer.concat(payloads.map((p, i) => frame((i + 1) & 0xff, p)));
}

/** Feeds a response cut at every position (or the given ones) and checks the walker ends exactly at its end. */
function walkAllCuts(kind: ResponseKind, deprecateEof: boolean, bytes: Buffer, cuts?: number[]) {
  let summary;
  for (const cut of cuts ?? Array.from({ length: bytes.length + 1 }, (_, i) => i)) {
    const w = new ResponseWalker();
    w.start(kind, deprecateEof);
    const a = w.feed(bytes.subarray(0, cut));
    if (cut < bytes.length) assert.equal(a, -1, `not done at cut ${cut}`);
    const end = cut < bytes.length ? w.feed(bytes.subarray(cut)) : a;
    assert.equal(end, cut < bytes.length ? bytes.length - cut : bytes.length, `ends at the end (cut ${cut})`);
    summary = w.summary;
  }
  return summary!;
}

test('text result set with EOF packets, then a second result (MORE_RESULTS_EXISTS), then OK', () => {
  const bytes = stream([
    Buffer.from([2]), coldef('customers', 'p', 'phone'), coldef('customers', 'n', 'name'), eof(Status.AUTOCOMMIT),
    Buffer.concat([lenstr('138'), lenstr('ann')]), Buffer.concat([Buffer.from([0xfb]), lenstr('bob')]), Buffer.concat([lenstr(''), lenstr('')]),
    eof(Status.AUTOCOMMIT | Status.MORE_RESULTS_EXISTS),
    ok(4, Status.AUTOCOMMIT),
  ]);
  const s = walkAllCuts('query', false, bytes);
  assert.equal(s.rows, 3);
  assert.equal(s.resultSets, 1);
  assert.equal(s.affectedRows, 4);
  assert.equal(s.status, Status.AUTOCOMMIT);
  assert.equal(s.error, undefined);
});

test('CLIENT_DEPRECATE_EOF: no EOF after columns, OK (0xFE) ends rows; lazy column definitions', () => {
  const bytes = stream([
    Buffer.from([1]), coldef('customers', 'p', 'phone'),
    lenstr('x'), lenstr('y'),
    ok(0, Status.AUTOCOMMIT | Status.IN_TRANS, 0xfe),
  ]);
  const s = walkAllCuts('query', true, bytes);
  assert.equal(s.rows, 2);
  assert.equal(s.status, Status.AUTOCOMMIT | Status.IN_TRANS);
  assert.equal(s.columns.length, 1);
  assert.deepEqual([s.columns[0].schema, s.columns[0].table, s.columns[0].orgTable, s.columns[0].name, s.columns[0].orgName, s.columns[0].type],
    ['shop', 'c', 'customers', 'p', 'phone', 0xfd]);
});

test('rows of 0xFE-looking data are rows; ERR mid-result ends the response', () => {
  const bigRow = Buffer.alloc(40_000, 0x61);
  bigRow[0] = 0xfe; // looks like EOF by its first byte, but far too long
  const nineBytes = Buffer.alloc(9, 0xfe);
  const bytes = stream([Buffer.from([1]), coldef('t', 'a'), eof(2), bigRow, nineBytes, err()]);
  const s = walkAllCuts('query', false, bytes, [0, 1, 5, 50, 20_000, bytes.length - 20, bytes.length - 3, bytes.length]);
  assert.equal(s.rows, 2);
  assert.equal(s.error?.errno, 1146);
  assert.equal(s.error?.sqlstate, '42S02');
});

test('a row over 16 MB (split into 0xFFFFFF pieces) counts once', () => {
  const row = Buffer.alloc(MAX_PACKET + 10, 0x62);
  row[0] = 0xfd; row[1] = 0x05; row[2] = 0; row[3] = 0x01; // lenenc prefix claiming a long field
  const pieces = [frame(1, Buffer.from([1])), frame(2, coldef('t', 'b')), frame(3, eof(2)),
    frame(4, row.subarray(0, MAX_PACKET)), frame(5, row.subarray(MAX_PACKET)), frame(6, eof(2))];
  // the tail piece is 10 bytes starting 0x62: must not be read as a terminator or a row
  const bytes = Buffer.concat(pieces);
  const s = walkAllCuts('query', false, bytes, [0, 7, MAX_PACKET, bytes.length - 9, bytes.length]);
  assert.equal(s.rows, 1);
  // a continuation tail that starts with 0xFE and is short is still part of the row
  row[MAX_PACKET] = 0xfe;
  const bytes2 = Buffer.concat([pieces[0], pieces[1], pieces[2], frame(4, row.subarray(0, MAX_PACKET)), frame(5, row.subarray(MAX_PACKET)), frame(6, eof(2))]);
  assert.equal(walkAllCuts('query', false, bytes2, [bytes2.length]).rows, 1);
});

test('OK with MORE_RESULTS_EXISTS for multi-statement writes; LOCAL INFILE request; plain ERR', () => {
  const s = walkAllCuts('query', false, stream([ok(2, Status.MORE_RESULTS_EXISTS | 2), ok(3, 2)]));
  assert.equal(s.affectedRows, 5);
  assert.equal(s.resultSets, 0);
  const inf = walkAllCuts('query', false, stream([Buffer.concat([Buffer.from([0xfb]), Buffer.from('/etc/passwd')])]));
  assert.equal(inf.localInfile, '/etc/passwd');
  assert.equal(walkAllCuts('query', true, stream([err()])).error?.message, 'no such table');
});

test('prepare response: statement id, params and columns, with and without EOF packets', () => {
  const prepOk = Buffer.from([0, 7, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0]);
  const withEof = stream([prepOk, coldef('', '?'), eof(2), coldef('t', 'a'), coldef('t', 'b'), eof(2)]);
  const s = walkAllCuts('prepare', false, withEof);
  assert.deepEqual([s.statementId, s.params, s.columns.length], [7, 1, 2]);
  const noEof = stream([prepOk, coldef('', '?'), coldef('t', 'a'), coldef('t', 'b')]);
  assert.deepEqual([walkAllCuts('prepare', true, noEof).columns.length], [2]);
  const noParamsNoCols = stream([Buffer.from([0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])]);
  assert.equal(walkAllCuts('prepare', false, noParamsNoCols).statementId, 8);
});

test('binary rows (execute), fetch and field list', () => {
  const binRow = Buffer.from([0x00, 0x00, 1, 0, 0, 0]);
  const s = walkAllCuts('query', false, stream([Buffer.from([1]), coldef('t', 'a'), eof(2), binRow, binRow, eof(2)]));
  assert.equal(s.rows, 2);
  const f = walkAllCuts('fetch', false, stream([binRow, eof(Status.LAST_ROW_SENT | 2)]));
  assert.equal(f.rows, 1);
  const fl = walkAllCuts('field-list', false, stream([coldef('t', 'a'), coldef('t', 'b'), eof(2)]));
  assert.equal(fl.columns.length, 2);
  const single = walkAllCuts('single', false, stream([Buffer.from('Uptime: 5  Threads: 1')]));
  assert.equal(single.error, undefined);
});

test('cursor execute: the response ends after the metadata', () => {
  const w = new ResponseWalker();
  w.start('query', false, true);
  const bytes = stream([Buffer.from([1]), coldef('t', 'a'), eof(Status.CURSOR_EXISTS | 2)]);
  assert.equal(w.feed(bytes), bytes.length);
});

/** Feeds `bytes` in pieces of `step` and returns the forwarded bytes. */
function forwarded(w: ResponseWalker, bytes: Buffer, step: number): Buffer {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += step) {
    w.feed(bytes.subarray(at, Math.min(bytes.length, at + step)));
    out.push(...w.out.map((b) => Buffer.from(b)));
  }
  return Buffer.concat(out);
}

test('row cap: rows past the cap are dropped, the terminator gets one more warning, later sequence ids stay consecutive', () => {
  for (const deprecateEof of [false, true]) {
    const rows = [1, 2, 3, 4, 5].map((i) => lenstr(`row${i}`));
    const end1 = deprecateEof ? ok(0, Status.AUTOCOMMIT | Status.MORE_RESULTS_EXISTS, 0xfe) : eof(Status.AUTOCOMMIT | Status.MORE_RESULTS_EXISTS);
    const end2 = deprecateEof ? ok(0, Status.AUTOCOMMIT, 0xfe) : eof(Status.AUTOCOMMIT);
    const head = deprecateEof ? [Buffer.from([1]), coldef('t', 'a')] : [Buffer.from([1]), coldef('t', 'a'), eof(2)];
    // two result sets: five rows, then one row
    const set1 = [...head, ...rows, end1];
    const set2 = [...head, lenstr('second'), end2];
    // one response: sequence ids run on across result sets
    const original = Buffer.concat([...set1, ...set2].map((p, i) => frame(i + 1, p)));
    // expected: first set cut to 2 rows, terminator warnings 1, seq consecutive
    const kept1 = [...head, rows[0], rows[1]];
    const warn = (p: Buffer) => { const b = Buffer.from(p); deprecateEof ? (b[5] = 1) : (b[1] = 1); return b; };
    const expected = Buffer.concat([...kept1, warn(end1), ...set2].map((p, i) => frame(i + 1, p)));
    for (const step of [1, 3, 7, 1000]) {
      const w = new ResponseWalker();
      w.start('query', deprecateEof, false, 2);
      const got = forwarded(w, Buffer.from(original), step);
      assert.ok(got.equals(expected), `deprecateEof=${deprecateEof} step=${step}`);
      assert.equal(w.summary.rows, 3);
      assert.equal(w.summary.cutRows, 3);
      assert.deepEqual(w.summary.results.map((r) => r.rows), [2, 1]);
      assert.equal(w.done, true);
    }
    // under the cap: byte-identical and zero-copy
    const w = new ResponseWalker();
    w.start('query', deprecateEof, false, 10);
    const chunk = Buffer.from(original);
    w.feed(chunk);
    assert.equal(w.out.length, 1);
    assert.equal(w.out[0].buffer, chunk.buffer);
    assert.ok(Buffer.concat(w.out).equals(original));
  }
});

test('byte limit: a big row over the limit never goes out (even with its header split across chunks); small rows end the result after', () => {
  const err = Buffer.concat([Buffer.from([0xff, 0x15, 0x05]), Buffer.from('#54000too large')]);
  const big = Buffer.alloc(40_000, 0x61); big[0] = 0xfd; // a text field of a big row
  const small = lenstr('tiny');
  for (const deprecateEof of [false, true]) {
    const head = deprecateEof ? [Buffer.from([1]), coldef('t', 'a')] : [Buffer.from([1]), coldef('t', 'a'), eof(2)];
    const end = deprecateEof ? ok(0, Status.AUTOCOMMIT | Status.MORE_RESULTS_EXISTS, 0xfe) : eof(Status.AUTOCOMMIT | Status.MORE_RESULTS_EXISTS);
    const second = [Buffer.from([1]), coldef('t', 'b'), ...(deprecateEof ? [] : [eof(2)]), lenstr('x'), deprecateEof ? ok(0, 2, 0xfe) : eof(2)];
    const packets = [...head, small, big, small, end, ...second];
    const original = Buffer.concat(packets.map((p, i) => frame(i + 1, p)));
    const expected = Buffer.concat([...head, small, err].map((p, i) => frame(i + 1, p)));
    const bigAt = Buffer.concat([...head, small].map((p, i) => frame(i + 1, p))).length;
    for (const step of [1, 2, 5, 4096, original.length]) {
      for (const extraCut of [bigAt + 1, bigAt + 3]) {
        const w = new ResponseWalker();
        w.start('query', deprecateEof, false, undefined, { limit: 30_000, err });
        const out: Buffer[] = [];
        const b = Buffer.from(original);
        const cuts = [...new Set([...Array.from({ length: Math.ceil(b.length / step) }, (_, i) => i * step), extraCut])].sort((x, y) => x - y).filter((x) => x < b.length);
        cuts.forEach((from, i) => { w.feed(b.subarray(from, cuts[i + 1] ?? b.length)); out.push(...w.out.map((x) => Buffer.from(x))); });
        assert.ok(Buffer.concat(out).equals(expected), `deprecateEof=${deprecateEof} step=${step} cut=${extraCut}`);
        assert.equal(w.summary.tooLarge, true);
        assert.equal(w.done, true);
      }
    }
    // within the limit: untouched
    const w = new ResponseWalker();
    w.start('query', deprecateEof, false, undefined, { limit: 100_000, err });
    w.feed(Buffer.from(original));
    assert.ok(Buffer.concat(w.out).equals(original));
    // many small rows: the result ends with the ERR once the limit is passed
    const many = [...head, ...Array.from({ length: 10 }, () => small), deprecateEof ? ok(0, 2, 0xfe) : eof(2)];
    const w2 = new ResponseWalker();
    w2.start('query', deprecateEof, false, undefined, { limit: 12, err });
    w2.feed(Buffer.concat(many.map((p, i) => frame(i + 1, p))));
    const got = Buffer.concat(w2.out);
    assert.ok(got.equals(Buffer.concat([...head, small, small, small, err].map((p, i) => frame(i + 1, p)))), got.toString('hex'));
  }
});

test('forceError: the packet in flight completes, the rest is dropped, the ERR follows with the next sequence id', () => {
  const err = Buffer.concat([Buffer.from([0xff, 0xc0, 0x0b]), Buffer.from('#57014timeout')]);
  const row = Buffer.alloc(100, 0x61); row[0] = 99;
  const packets = [Buffer.from([1]), coldef('t', 'a'), eof(2), row, row, row, eof(2)];
  const bytes = Buffer.concat(packets.map((p, i) => frame(i + 1, p)));
  const firstRowAt = Buffer.concat(packets.slice(0, 3).map((p, i) => frame(i + 1, p))).length;
  for (const forceAt of [0, 5, firstRowAt, firstRowAt + 2, firstRowAt + 50, bytes.length - 3]) {
    const w = new ResponseWalker();
    w.start('query', false);
    const out: Buffer[] = [];
    w.feed(bytes.subarray(0, forceAt));
    out.push(...w.out.map((b) => Buffer.from(b)));
    w.forceError(err);
    w.feed(bytes.subarray(forceAt));
    out.push(...w.out.map((b) => Buffer.from(b)));
    const got = Buffer.concat(out);
    // whole packets up to the one in flight, then the ERR
    let complete = 0;
    let at = 0;
    for (const [i, p] of packets.entries()) {
      const len = frame(i + 1, p).length;
      if (at >= forceAt) break;
      at += len;
      complete++;
    }
    const expected = complete === packets.length ? bytes
      : Buffer.concat([...packets.slice(0, complete).map((p, i) => frame(i + 1, p)), frame(complete + 1, err)]);
    assert.ok(got.equals(expected), `force at ${forceAt}: ${got.toString('hex')}`);
    assert.equal(w.done, true);
  }
});
