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
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mysqlAnswers, pgAnswers, startMariadb, startPostgres, type EmbeddedServer } from '../proxy/embedded-servers.js';
import { DEFAULT_MYSQL_URL, DEFAULT_PG_URL } from './helpers/db.js';

const here = dirname(fileURLToPath(import.meta.url));
const started: EmbeddedServer[] = [];

// node 20 treats every .js under a folder named "test" as a test file, so
// pass the *.test.js files explicitly rather than the folder.
function testFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.js'))
    .sort()
    .map((f) => join(path, f));
}

async function ensure(kind: 'MariaDB' | 'PostgreSQL', url: string): Promise<string> {
  const answers = kind === 'MariaDB' ? await mysqlAnswers(url) : await pgAnswers(url);
  if (answers) return url;
  const server = kind === 'MariaDB' ? await startMariadb() : await startPostgres();
  started.push(server);
  console.log(`# test harness: nothing answered at ${url}; started a throw-away ${kind} at ${server.url}`);
  return server.url;
}

async function main(): Promise<number> {
  const env = { ...process.env };
  env.MYSQL_URL = await ensure('MariaDB', env.MYSQL_URL || DEFAULT_MYSQL_URL);
  env.PG_URL = await ensure('PostgreSQL', env.PG_URL || DEFAULT_PG_URL);
  const targets = process.argv.slice(2);
  const files = (targets.length ? targets : [here]).flatMap(testFiles);
  const child = spawn(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=600000', ...files], { stdio: 'inherit', env });
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error(`test harness: ${(err as Error).message}`);
} finally {
  for (const s of started.reverse()) {
    try { s.stop(); } catch { /* best effort */ }
  }
}
process.exit(code);
