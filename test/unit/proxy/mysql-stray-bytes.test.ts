/**
 * An upstream MySQL server that speaks out of turn: bytes with no command in
 * flight leave the protocol state unknown, so the connection must end and
 * never go back to the pool. A real server does this only as it hangs up
 * (an ERR before closing, say), which the close handling covers too; here a
 * scripted peer sends the bytes and keeps the socket open, which is the case
 * only this rule catches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { Cap, Com, PLUGIN_NATIVE, Status } from '../../../wire/mysql/constants.js';
import { buildHandshakeV10 } from '../../../wire/mysql/handshake.js';
import { buildErr, buildOk } from '../../../wire/mysql/messages.js';
import { PacketFramer } from '../../../wire/mysql/packet-reader.js';
import { UpstreamConnection } from '../../../proxy/mysql/upstream-session.js';
import { UpstreamPool } from '../../../proxy/mysql/pool.js';
import type { UpstreamTarget } from '../../../governance/gate.js';
import { until } from '../../helpers/until.js';

interface Peer {
  readonly server: Server;
  readonly port: number;
  /** The server side of the one connection, once logged in. */
  loggedIn(): Promise<Socket>;
  /** True once the server side has seen the connection end. */
  readonly ended: boolean;
}

/** A server that logs anyone in, answers COM_RESET_CONNECTION with OK and ignores the rest. */
async function scriptedServer(): Promise<Peer> {
  let onLogin!: (s: Socket) => void;
  let ended = false;
  const login = new Promise<Socket>((r) => { onLogin = r; });
  const server = createServer((socket) => {
    const framer = new PacketFramer();
    let phase: 'handshake' | 'commands' = 'handshake';
    socket.on('close', () => { ended = true; });
    socket.on('error', () => undefined);
    socket.write(buildHandshakeV10({
      serverVersion: '10.11.0-scripted', connectionId: 7, seed: Buffer.alloc(20, 7),
      capabilities: Cap.PROTOCOL_41 | Cap.SECURE_CONNECTION | Cap.PLUGIN_AUTH | Cap.LONG_PASSWORD | Cap.TRANSACTIONS,
      collation: 45, status: Status.AUTOCOMMIT, plugin: PLUGIN_NATIVE,
    }));
    socket.on('data', (chunk) => {
      framer.push(chunk);
      for (let p = framer.next(); p; p = framer.next()) {
        if (phase === 'handshake') {
          phase = 'commands';
          socket.write(buildOk(p.seq + 1));
          onLogin(socket);
        } else if (p.payload[0] === Com.RESET_CONNECTION) {
          socket.write(buildOk(1));
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { server, port, loggedIn: () => login, get ended() { return ended; } };
}

function target(port: number): UpstreamTarget {
  return { instance: 'scripted', protocol: 'mysql', host: '127.0.0.1', port, user: 'u', password: '', database: undefined, tls: undefined };
}

const PROFILE = { capabilities: Cap.PROTOCOL_41 | Cap.SECURE_CONNECTION, collation: 45 };
const STRAY = buildErr(0, 1927, '70100', 'Connection was killed');

test('bytes from the server between commands end the connection; the pool does not keep it', async () => {
  const peer = await scriptedServer();
  try {
    const conn = await UpstreamConnection.connect(target(peer.port), PROFILE);
    const serverSide = await peer.loggedIn();
    assert.equal(await conn.reset(), true, 'a normal exchange first');
    serverSide.write(STRAY);
    await until('the connection ends', () => peer.ended);
    assert.equal(conn.closed, true);
    assert.equal(conn.reusable, false);
    const pool = new UpstreamPool(() => target(peer.port));
    pool.release(conn);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(pool.size, 0, 'not kept');
    pool.close();
  } finally {
    peer.server.close();
  }
});

test('bytes from the server after login, before the first command, end the connection too', async () => {
  const peer = await scriptedServer();
  try {
    const conn = await UpstreamConnection.connect(target(peer.port), PROFILE);
    const serverSide = await peer.loggedIn();
    serverSide.write(STRAY);
    // No command in flight: whatever reads them must not take them for the next answer.
    await until('the stray bytes arrived', () => conn.closed || (conn as unknown as { source: { pending: number } }).source.pending > 0);
    await assert.rejects(conn.reset().then((ok) => { if (!ok) throw new Error('reset refused'); }));
    assert.equal(conn.reusable, false);
    await until('the connection ends', () => peer.ended);
    assert.equal(conn.closed, true);
  } finally {
    peer.server.close();
  }
});
