import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketFramer, PayloadReader, WireError } from '../../../wire/mysql/packet-reader.js';
import { PacketWriter, framePayload } from '../../../wire/mysql/packet-writer.js';
import { MAX_PACKET } from '../../../wire/mysql/constants.js';

/** Independent framing: 3-byte LE length + seq, no splitting. */
function frame(seq: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUIntLE(payload.length, 0, 3);
  h[3] = seq;
  return Buffer.concat([h, payload]);
}

function drain(f: PacketFramer): { seq: number; payload: string }[] {
  const out = [];
  for (let p = f.next(); p; p = f.next()) out.push({ seq: p.seq, payload: p.payload.toString('hex') });
  return out;
}

test('framer: packets come out whole whatever the chunk boundaries (front, middle, end and every byte)', () => {
  const packets = [Buffer.from('03', 'hex'), Buffer.from('hello world'), Buffer.alloc(0), Buffer.from([0xfe, 0, 0, 2, 0])];
  const stream = Buffer.concat(packets.map((p, i) => frame(i, p)));
  const expected = packets.map((p, i) => ({ seq: i, payload: p.toString('hex') }));
  for (let cut = 0; cut <= stream.length; cut++) {
    const f = new PacketFramer();
    f.push(stream.subarray(0, cut));
    const a = drain(f);
    f.push(stream.subarray(cut));
    assert.deepEqual([...a, ...drain(f)], expected, `cut at ${cut}`);
    assert.equal(f.pending, 0);
  }
  const f = new PacketFramer();
  const got = [];
  for (const b of stream) { f.push(Buffer.from([b])); got.push(...drain(f)); }
  assert.deepEqual(got, expected);
});

test('framer: a payload inside one chunk is a view, not a copy', () => {
  const chunk = frame(0, Buffer.from('abc'));
  const f = new PacketFramer();
  f.push(chunk);
  const p = f.next()!;
  assert.equal(p.payload.buffer, chunk.buffer);
});

test('framer + writer: 16 MB payloads split into 0xFFFFFF pieces with rising sequence ids and join back', () => {
  for (const size of [MAX_PACKET - 1, MAX_PACKET, MAX_PACKET + 5, 2 * MAX_PACKET]) {
    const payload = Buffer.alloc(size, 0x61);
    payload[0] = 1; payload[size - 1] = 2;
    const framed = framePayload(payload, 3);
    // independent expectation: pieces of MAX_PACKET, then the remainder (possibly empty)
    const pieces: Buffer[] = [];
    let at = 0; let seq = 3;
    for (;;) {
      const n = Math.min(MAX_PACKET, size - at);
      pieces.push(frame(seq++, payload.subarray(at, at + n)));
      at += n;
      if (n < MAX_PACKET) break;
    }
    assert.ok(framed.equals(Buffer.concat(pieces)), `framing of ${size}`);
    const w = new PacketWriter();
    w.bytes(payload);
    assert.ok(w.finish(3).equals(framed), `writer framing of ${size}`);
    const f = new PacketFramer();
    f.push(framed.subarray(0, 7));
    f.push(framed.subarray(7, MAX_PACKET + 6));
    f.push(framed.subarray(MAX_PACKET + 6));
    const p = f.next()!;
    assert.equal(p.seq, 3);
    assert.equal(p.lastSeq, seq - 1);
    assert.equal(p.payload.length, size);
    assert.ok(p.payload.equals(payload));
    assert.equal(f.next(), undefined);
  }
});

test('framer: refuses a packet larger than its limit before buffering it', () => {
  const f = new PacketFramer(100);
  f.push(frame(0, Buffer.alloc(101)));
  assert.throws(() => f.next(), WireError);
});

test('framer: a length field larger than the data waits for more (and holds what came)', () => {
  const f = new PacketFramer();
  f.push(Buffer.from([0xff, 0xff, 0x00, 0x00, 1, 2, 3]));
  assert.equal(f.next(), undefined);
  assert.equal(f.pending, 7);
});

test('reader: length-encoded integers of every width, NULL, and truncation', () => {
  const r = new PayloadReader(Buffer.from([
    0xfa, 0xfb, 0xfc, 0x34, 0x12, 0xfd, 0x56, 0x34, 0x12, 0xfe, 1, 0, 0, 0, 1, 0, 0, 0,
  ]));
  assert.equal(r.lenenc(), 250);
  assert.equal(r.lenencOrNull(), null);
  assert.equal(r.lenenc(), 0x1234);
  assert.equal(r.lenenc(), 0x123456);
  assert.equal(r.lenenc(), 2 ** 32 + 1);
  assert.throws(() => r.u8(), WireError);
  assert.throws(() => new PayloadReader(Buffer.from([0xfc, 1])).lenenc(), WireError);
  assert.throws(() => new PayloadReader(Buffer.from([0xff])).lenenc(), WireError);
  assert.throws(() => new PayloadReader(Buffer.from('abc')).nulBytesStrict(), WireError);
});

test('writer: length-encoded integers and strings match the protocol bytes', () => {
  const w = new PacketWriter(4);
  w.lenenc(250).lenenc(251).lenenc(0xffff).lenenc(0x10000).lenenc(0x1000000).lenencString('é').nulString('ab');
  const out = w.finish(9);
  const payload = Buffer.from([
    0xfa, 0xfc, 0xfb, 0x00, 0xfc, 0xff, 0xff, 0xfd, 0x00, 0x00, 0x01, 0xfe, 0, 0, 0, 1, 0, 0, 0, 0,
    0x02, 0xc3, 0xa9, 0x61, 0x62, 0x00,
  ]);
  assert.ok(out.equals(frame(9, payload)));
  // the writer is reusable
  assert.ok(w.u8(1).finish(0).equals(frame(0, Buffer.from([1]))));
});
