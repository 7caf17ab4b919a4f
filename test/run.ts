/**
 * The test command: make sure a MariaDB and a PostgreSQL answer, then run
 * every compiled test file with node's test runner.
 *
 * MYSQL_URL / PG_URL (or the local defaults) are probed first. Where nothing
 * answers, throw-away servers are started from the installed Debian binaries
 * in a temp folder and stopped afterwards; where the binaries are missing,
 * the run fails with the packages to install.
 *
 *   node dist/test/run.js [test files or folders...]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { DEFAULT_MYSQL_URL, DEFAULT_PG_URL, serverInfo } from './helpers/db.js';

const here = dirname(fileURLToPath(import.meta.url));
const cleanups: (() => void)[] = [];

async function mysqlAnswers(url: string): Promise<boolean> {
  const s = serverInfo(url);
  try {
    const c = await mysql.createConnection({ host: s.host, port: s.port, user: s.user, password: s.password, connectTimeout: 3000 });
    await c.query('SELECT 1');
    await c.end();
    return true;
  } catch {
    return false;
  }
}

async function pgAnswers(url: string): Promise<boolean> {
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

function freePort(): Promise<number> {
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
  throw new Error(`test harness: no database answers and '${binary}' is not installed; install it with: apt-get install -y ${pkg}`);
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`test harness: ${what} did not start within ${ms / 1000}s`);
}

async function startMariadb(): Promise<string> {
  const installDb = need('mariadb-install-db', 'mariadb-server');
  const mariadbd = need('mariadbd', 'mariadb-server');
  const dir = mkdtempSync(join(tmpdir(), 'sqlgate-mariadb-'));
  const port = await freePort();
  const init = spawnSync(installDb, ['--no-defaults', `--datadir=${dir}/data`, '--user=root',
    '--auth-root-authentication-method=normal', '--skip-test-db'], { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`test harness: mariadb-install-db failed: ${init.stderr}`);
  const child: ChildProcess = spawn(mariadbd, ['--no-defaults', `--datadir=${dir}/data`, `--socket=${dir}/mysqld.sock`,
    `--port=${port}`, '--bind-address=127.0.0.1', '--user=root', `--pid-file=${dir}/mysqld.pid`,
    `--log-error=${dir}/err.log`, '--skip-log-bin', '--max-allowed-packet=256M'], { stdio: 'ignore' });
  cleanups.push(() => { child.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); });
  const url = `mysql://root@127.0.0.1:${port}/test`;
  await waitFor(() => mysqlAnswers(url), 'throw-away MariaDB');
  const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
  await c.query('CREATE DATABASE IF NOT EXISTS test');
  await c.end();
  console.log(`# test harness: started throw-away MariaDB on 127.0.0.1:${port}`);
  return url;
}

async function startPostgres(): Promise<string> {
  const initdb = need('initdb', 'postgresql-15');
  const pgCtl = need('pg_ctl', 'postgresql-15');
  const dir = mkdtempSync(join(tmpdir(), 'sqlgate-pg-'));
  const port = await freePort();
  // initdb refuses to run as root: run it as the postgres system user.
  const asPostgres = process.getuid?.() === 0;
  if (asPostgres) {
    const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (id.status !== 0) throw new Error('test harness: running as root needs a "postgres" system user (apt-get install -y postgresql-15)');
    chownSync(dir, Number(id.stdout.trim()), Number(gid.stdout.trim()));
  }
  const run = (cmd: string, args: string[]) => asPostgres
    ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' })
    : spawnSync(cmd, args, { encoding: 'utf8' });
  const init = run(initdb, ['-D', `${dir}/data`, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
  if (init.status !== 0) throw new Error(`test harness: initdb failed: ${init.stderr}`);
  const start = run(pgCtl, ['-D', `${dir}/data`, '-l', `${dir}/pg.log`, '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300`, '-w', 'start']);
  if (start.status !== 0) throw new Error(`test harness: pg_ctl start failed: ${start.stderr}`);
  cleanups.push(() => { run(pgCtl, ['-D', `${dir}/data`, '-m', 'immediate', 'stop']); rmSync(dir, { recursive: true, force: true }); });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await waitFor(() => pgAnswers(url), 'throw-away PostgreSQL');
  console.log(`# test harness: started throw-away PostgreSQL on 127.0.0.1:${port}`);
  return url;
}

function testFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.js'))
    .sort()
    .map((f) => join(path, f));
}

async function main(): Promise<number> {
  const env = { ...process.env };
  const mysqlUrl = env.MYSQL_URL || DEFAULT_MYSQL_URL;
  const pgUrl = env.PG_URL || DEFAULT_PG_URL;
  env.MYSQL_URL = (await mysqlAnswers(mysqlUrl)) ? mysqlUrl : await startMariadb();
  env.PG_URL = (await pgAnswers(pgUrl)) ? pgUrl : await startPostgres();
  // node 20 treats every .js under a folder named "test" as a test file, so
  // pass the *.test.js files explicitly rather than the folder.
  const targets = process.argv.slice(2);
  const files = (targets.length ? targets : [here]).flatMap(testFiles);
  const args = ['--test', '--test-concurrency=2', ...files];
  const child = spawn(process.execPath, args, { stdio: 'inherit', env });
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error((err as Error).message);
} finally {
  for (const c of cleanups.reverse()) {
    try { c(); } catch { /* best effort */ }
  }
}
process.exit(code);
