/**
 * A bare Node.js TCP relay: every byte from the client to the database and
 * back, through `pipe`, with no protocol work at all. The bench runs it
 * beside sqlgate as a reference: what the runtime and one extra hop cost on
 * this machine before any governance is done. Not a product component.
 *
 * Usage: node dist/bench/relay.js <upstream-host> <upstream-port>
 * Prints `relay listening on 127.0.0.1:<port>` once it accepts connections.
 */
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startServer, freePort } from './procs.js';

/** Starts the relay as a child process; resolves with its port, pid and stop. */
export async function startRelay(upstreamHost: string, upstreamPort: number): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const server = await startServer(process.execPath, [fileURLToPath(import.meta.url), upstreamHost, String(upstreamPort), String(port)], {},
    (out) => out.includes('relay listening'), 10_000);
  return { port, pid: server.pid, stop: () => server.stop() };
}

function serve(upstreamHost: string, upstreamPort: number, port: number): void {
  const server = createServer((client) => {
    client.setNoDelay(true);
    const upstream = connect(upstreamPort, upstreamHost);
    upstream.setNoDelay(true);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => { client.destroy(); upstream.destroy(); };
    for (const s of [client, upstream]) { s.on('error', end); s.on('close', end); }
  });
  server.listen(port, '127.0.0.1', () => console.log(`relay listening on 127.0.0.1:${port}`));
  process.on('SIGTERM', () => process.exit(0));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) serve(process.argv[2], Number(process.argv[3]), Number(process.argv[4]));
