/**
 * A throw-away PgBouncer (session mode) in front of the bench database:
 * generated ini and userlist in a temp dir, a free port, run as `postgres`
 * because PgBouncer refuses to run as root.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startServer, type Server } from './procs.js';
import { scramSha256 } from './verifiers.js';

/** A running PgBouncer. */
export interface Pgbouncer {
  readonly port: number;
  readonly pid: number;
  readonly dir: string;
  stop(): Promise<void>;
}

/** Upstream and client credentials PgBouncer is given. */
export interface PgbouncerConfig {
  readonly binary: string;
  readonly database: string;
  readonly upstream: { host: string; port: number; user: string; password: string };
  readonly client: { user: string; password: string };
}

const quoteConn = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The pgbouncer.ini text (exported for the unit test). */
export function pgbouncerIni(cfg: PgbouncerConfig, port: number, dir: string): string {
  const up = cfg.upstream;
  const conn = [`host=${up.host}`, `port=${up.port}`, `dbname=${cfg.database}`, `user=${up.user}`];
  if (up.password) conn.push(`password=${quoteConn(up.password)}`);
  return [
    '[databases]',
    `${cfg.database} = ${conn.join(' ')}`,
    '',
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = scram-sha-256',
    `auth_file = ${join(dir, 'userlist.txt')}`,
    'pool_mode = session',
    'max_client_conn = 1200',
    'default_pool_size = 40',
    // Hand server connections back soon after a round: the next target's
    // round needs them on a shared server with max_connections = 100.
    'server_idle_timeout = 3',
    `logfile = ${join(dir, 'pgbouncer.log')}`,
    `pidfile = ${join(dir, 'pgbouncer.pid')}`,
    'ignore_startup_parameters = extra_float_digits,options',
    'log_connections = 0',
    'log_disconnections = 0',
    '',
  ].join('\n');
}

function postgresIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error('running as root and there is no user postgres to run PgBouncer as (it refuses root)');
  }
}

/** Starts PgBouncer and waits until it accepts connections. */
export async function startPgbouncer(cfg: PgbouncerConfig): Promise<Pgbouncer> {
  const dir = mkdtempSync(join(tmpdir(), 'sqlgate-bench-pgbouncer-'));
  const port = await freePort();
  const ids = postgresIds();
  writeFileSync(join(dir, 'pgbouncer.ini'), pgbouncerIni(cfg, port, dir));
  // The SCRAM verifier, not the plaintext: with plaintext PgBouncer derives
  // the salted password (4,096 PBKDF2 rounds) at every login, which sqlgate,
  // holding verifiers, never does; the login-rate figures would not compare.
  writeFileSync(join(dir, 'userlist.txt'), `"${cfg.client.user}" "${scramSha256(cfg.client.password)}"\n`);
  chmodSync(join(dir, 'userlist.txt'), 0o600);
  if (ids) {
    for (const p of [dir, join(dir, 'pgbouncer.ini'), join(dir, 'userlist.txt')]) chownSync(p, ids.uid, ids.gid);
  }
  let server: Server;
  try {
    server = await startServer(cfg.binary, [join(dir, 'pgbouncer.ini')], { ...(ids ?? {}), cwd: dir },
      (out) => /process up|listening on/i.test(out), 15_000);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port, dir, pid: server.pid,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
