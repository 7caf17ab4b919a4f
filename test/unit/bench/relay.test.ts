import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { startRelay } from '../../../bench/relay.js';

test('the reference relay passes bytes both ways unchanged; the upstream hanging up closes the client', async () => {
  // An upstream that answers each chunk with its bytes reversed, so a relay that echoed would fail.
  const sockets: Socket[] = [];
  const upstream = createServer((s) => {
    sockets.push(s);
    s.on('data', (d: Buffer) => s.write(Buffer.from(d).reverse()));
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const relay = await startRelay('127.0.0.1', (upstream.address() as AddressInfo).port);
  try {
    const c = connect(relay.port, '127.0.0.1');
    await once(c, 'connect');
    c.write('abc\u00ff');
    const [reply] = await once(c, 'data') as [Buffer];
    assert.deepEqual(reply, Buffer.from('abc\u00ff').reverse());
    const closed = once(c, 'close');
    for (const s of sockets) s.destroy();
    await closed;
  } finally {
    await relay.stop();
    upstream.close();
  }
});
