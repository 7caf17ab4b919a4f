/**
 * Throw-away MariaDB and PostgreSQL servers started from the installed Debian
 * binaries in a temp folder: what the test runner and the demo fall back to
 * when no database answers. Commands as measured in DESIGN.md.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';

/** A started server: its URL and how to stop it (synchronous, so it can run at exit). */
export interface EmbeddedServer {
  readonly url: string;
  stop(): void;
}

export function urlParts(url: string): { host: string; port: number; user: string; password: string; database: string } {
  const u = new URL(url);
  const isPg = u.protocol.startsWith('postgres');
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || (isPg ? 5432 : 3306)),
    user: decodeURIComponent(u.username || (isPg ? 'postgres' : 'root')),
    password: decodeURIComponent(u.password || ''),
    database: decodeURIComponent(u.pathname.slice(1)),
  };
}

export async function mysqlAnswers(url: string): Promise<boolean> {
  const s = urlParts(url);
  try {
    const c = await mysql.createConnection({ host: s.host, port: s.port, user: s.user, password: s.password, connectTimeout: 3000 });
    await c.query('SELECT 1');
    await c.end();
    return true;
  } catch {
    return false;
  }
}

export async function pgAnswers(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    await c.end();
    return true;
  } catch {
    await c.end().catch(() => undefined);
    return false;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function need(binary: string, pkg: string): string {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/lib/postgresql/15/bin', '/usr/local/bin']) {
    const p = join(dir, binary);
    if (existsSync(p)) return p;
  }
  throw new Error(`no database answers and '${binary}' is not installed; install it with: apt-get install -y ${pkg}`);
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not start within ${ms / 1000}s`);
}

/** Starts MariaDB as root in a temp datadir (about 1 s). */
export async function startMariadb(serverOptions: readonly string[] = []): Promise<EmbeddedServer> {
  const installDb = need('mariadb-install-db', 'mariadb-server');
  const mariadbd = need('mariadbd', 'mariadb-server');
  const dir = mkdtempSync(join(tmpdir(), 'sqlgate-mariadb-'));
  const port = await freePort();
  // A tmpdir of its own (TMPDIR, which mariadbd and its bootstrap take): at
  // start mariadbd deletes every #sql* file in its tmpdir, and in /tmp those
  // are the temporary tables of other servers at work.
  mkdirSync(join(dir, 'tmp'));
  const env = { ...process.env, TMPDIR: join(dir, 'tmp') };
  const init = spawnSync(installDb, ['--no-defaults', `--datadir=${dir}/data`, '--user=root',
    '--auth-root-authentication-method=normal', '--skip-test-db'], { encoding: 'utf8', env });
  if (init.status !== 0) throw new Error(`mariadb-install-db failed: ${init.stderr}`);
  const child: ChildProcess = spawn(mariadbd, ['--no-defaults', `--datadir=${dir}/data`, `--socket=${dir}/mysqld.sock`,
    `--port=${port}`, '--bind-address=127.0.0.1', '--user=root', `--pid-file=${dir}/mysqld.pid`, `--tmpdir=${dir}/tmp`,
    `--log-error=${dir}/err.log`, '--skip-log-bin', '--max-allowed-packet=256M', ...serverOptions], { stdio: 'ignore', env });
  const stop = () => { child.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); };
  const url = `mysql://root@127.0.0.1:${port}/test`;
  try {
    await waitFor(() => mysqlAnswers(url), 'throw-away MariaDB');
    const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
    await c.query('CREATE DATABASE IF NOT EXISTS test');
    await c.end();
  } catch (err) {
    stop();
    throw err;
  }
  return { url, stop };
}

/** Starts PostgreSQL 15 in a temp datadir, as the postgres user when we are root (initdb refuses root). */
export async function startPostgres(): Promise<EmbeddedServer> {
  const initdb = need('initdb', 'postgresql-15');
  const pgCtl = need('pg_ctl', 'postgresql-15');
  const dir = mkdtempSync(join(tmpdir(), 'sqlgate-pg-'));
  const port = await freePort();
  const asPostgres = process.getuid?.() === 0;
  if (asPostgres) {
    const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (uid.status !== 0) throw new Error('running as root needs a "postgres" system user: apt-get install -y postgresql-15');
    chownSync(dir, Number(uid.stdout.trim()), Number(gid.stdout.trim()));
  }
  const run = (cmd: string, args: string[]) => asPostgres
    ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' })
    : spawnSync(cmd, args, { encoding: 'utf8' });
  const init = run(initdb, ['-D', `${dir}/data`, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const start = run(pgCtl, ['-D', `${dir}/data`, '-l', `${dir}/pg.log`, '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300`, '-w', 'start']);
  const stop = () => { run(pgCtl, ['-D', `${dir}/data`, '-m', 'immediate', 'stop']); rmSync(dir, { recursive: true, force: true }); };
  if (start.status !== 0) {
    stop();
    throw new Error(`pg_ctl start failed: ${start.stderr}`);
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  try {
    await waitFor(() => pgAnswers(url), 'throw-away PostgreSQL');
  } catch (err) {
    stop();
    throw err;
  }
  return { url, stop };
}
