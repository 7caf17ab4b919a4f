import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { SocketInput } from '../../../proxy/postgres/socket-input.js';
import { FrameReader } from '../../../wire/postgres/frame-reader.js';

/** A connected loopback pair: [the side that writes, the side SocketInput reads]. */
async function pair(): Promise<[Socket, Socket, () => void]> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const accepted = once(server, 'connection');
  const writer = connect(port, '127.0.0.1');
  const [reader] = (await accepted) as [Socket];
  return [writer, reader, () => { writer.destroy(); reader.destroy(); server.close(); }];
}

function frame(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type.charCodeAt(0);
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}

test('push mode: frames split and merged across writes arrive whole and in order', async () => {
  const [w, r, done] = await pair();
  try {
    const input = new SocketInput(r);
    const got: string[] = [];
    let ended: unknown = 'no';
    input.pump((f) => got.push(`${String.fromCharCode(f.type)}:${f.body.toString()}`), (err) => { ended = err; });
    const bytes = Buffer.concat(Array.from({ length: 200 }, (_, i) => frame('D', Buffer.from(`row ${i}`))));
    for (let i = 0; i < bytes.length; i += 7) { w.write(bytes.subarray(i, i + 7)); if (i % 700 === 0) await sleep(1); }
    w.end();
    for (let i = 0; i < 200 && ended === 'no'; i++) await sleep(10);
    assert.equal(got.length, 200);
    assert.deepEqual(got.slice(0, 2), ['D:row 0', 'D:row 1']);
    assert.equal(got[199], 'D:row 199');
    assert.equal(ended, undefined, 'the end is reported once, without an error');
  } finally {
    done();
  }
});

test('push mode: hold stops delivery and reading until the promise settles', async () => {
  const [w, r, done] = await pair();
  try {
    const input = new SocketInput(r);
    let count = 0;
    let release!: () => void;
    const gate = new Promise<void>((res) => { release = res; });
    input.pump(() => {
      count++;
      if (count === 3) input.hold(gate);
    }, () => undefined);
    w.write(Buffer.concat(Array.from({ length: 10 }, () => frame('D', Buffer.from('x')))));
    for (let i = 0; i < 100 && count < 3; i++) await sleep(5);
    await sleep(50);
    assert.equal(count, 3, 'nothing is delivered while held');
    assert.equal(r.isPaused(), true, 'the socket is not read while held');
    release();
    for (let i = 0; i < 100 && count < 10; i++) await sleep(5);
    assert.equal(count, 10, 'the rest arrives once released');
  } finally {
    done();
  }
});

test('push mode: a bad frame length ends the pump with the error', async () => {
  const [w, r, done] = await pair();
  try {
    const input = new SocketInput(r);
    let ended: unknown = 'no';
    input.pump(() => undefined, (err) => { ended = err; });
    const bad = Buffer.alloc(5);
    bad[0] = 0x44;
    bad.writeInt32BE(2, 1);
    w.write(bad);
    for (let i = 0; i < 100 && ended === 'no'; i++) await sleep(5);
    assert.match(String(ended), /invalid message length/);
  } finally {
    done();
  }
});

test('frame reader: offsets across chunks, startup packets, drain of the rest', () => {
  const fr = new FrameReader();
  const a = frame('Q', Buffer.from('SELECT 1\0'));
  const b = frame('X', Buffer.alloc(0));
  const all = Buffer.concat([a, b, Buffer.from('tail')]);
  fr.push(all.subarray(0, 3));
  assert.equal(fr.next(), undefined);
  fr.push(all.subarray(3, a.length + 2));
  const q = fr.next()!;
  assert.equal(String.fromCharCode(q.type), 'Q');
  assert.equal(q.body.toString(), 'SELECT 1\0');
  fr.push(all.subarray(a.length + 2));
  assert.equal(String.fromCharCode(fr.next()!.type), 'X');
  assert.equal(fr.buffered, 4);
  assert.equal(fr.drain().toString(), 'tail');
  assert.equal(fr.buffered, 0);
});
