/**
 * Throw-away servers for the idle-connection figure. When sqlgate holds one
 * upstream connection per client, 1,000 idle clients need a server that
 * allows 1,000 connections; the shared ones here allow 100 / 151 and serve
 * everyone else too. These are started from the Debian binaries in a temp
 * folder (commands as in DESIGN.md), used for that one figure, and removed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { startMariadb } from '../proxy/embedded-servers.js';
import { freePort, sleep } from './procs.js';

/** A throw-away server and how to remove it. */
export interface IdleServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  stop(): Promise<void>;
}

/** PostgreSQL 15 with a high max_connections (initdb and pg_ctl run as `postgres` when we are root). */
export async function startIdlePostgres(maxConnections: number): Promise<IdleServer> {
  const bin = '/usr/lib/postgresql/15/bin';
  if (!existsSync(join(bin, 'initdb'))) throw new Error('no /usr/lib/postgresql/15/bin/initdb (Debian package postgresql-15)');
  const dir = mkdtempSync(join(tmpdir(), 'sqlgate-bench-idle-pg-'));
  const asPostgres = process.getuid?.() === 0;
  if (asPostgres) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const run = (cmd: string, args: string[]) => (asPostgres
    ? spawnSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { encoding: 'utf8' })
    : spawnSync(join(bin, cmd), args, { encoding: 'utf8' }));
  const port = await freePort();
  const stop = async () => {
    run('pg_ctl', ['-D', `${dir}/data`, '-m', 'immediate', 'stop']);
    rmSync(dir, { recursive: true, force: true });
  };
  const init = run('initdb', ['-D', `${dir}/data`, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
  if (init.status !== 0) { await stop(); throw new Error(`initdb failed: ${init.stderr.trim().split('\n').pop()}`); }
  const start = run('pg_ctl', ['-D', `${dir}/data`, '-l', `${dir}/pg.log`, '-w', '-t', '60', '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=${maxConnections} -c shared_buffers=32MB`, 'start']);
  if (start.status !== 0) { await stop(); throw new Error(`pg_ctl start failed: ${start.stderr.trim().split('\n').pop()}`); }
  return { host: '127.0.0.1', port, user: 'postgres', database: 'postgres', stop };
}

/** MariaDB (the test harness's throw-away server) with max_connections raised at run time. */
export async function startIdleMariadb(maxConnections: number): Promise<IdleServer> {
  const server = await startMariadb();
  const u = new URL(server.url);
  const port = Number(u.port);
  try {
    const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
    try { await c.query(`SET GLOBAL max_connections = ${Number(maxConnections)}`); } finally { await c.end(); }
  } catch (err) {
    server.stop();
    throw err;
  }
  return {
    host: '127.0.0.1', port, user: 'root', database: 'test',
    async stop() { server.stop(); await sleep(100); },
  };
}
