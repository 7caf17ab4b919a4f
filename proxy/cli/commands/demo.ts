import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { parseDocument } from 'yaml';
import { parsePolicy } from '../../../governance/policy/load.js';
import { mysqlAnswers, pgAnswers, startMariadb, startPostgres, urlParts, type EmbeddedServer } from '../../embedded-servers.js';
import { formatAddress, startSqlgate, type RunningSqlgate } from '../../server.js';
import type { Command } from '../command.js';

const USAGE = `usage: sqlgate demo [--tour-only] [--state-dir DIR] [--mysql-port N] [--pg-port N]

Runs sqlgate on the sample policy (rules/sample-policy.yaml) in front of the
local MariaDB (127.0.0.1:3306) and PostgreSQL (127.0.0.1:5432). Where either
does not answer, a throw-away server is started from the installed Debian
packages. Creates and seeds the database sqlgate_demo on both, runs a short
tour through sqlgate's own endpoints (allowed, refused, masked statements),
then keeps listening on 127.0.0.1:6033 (MySQL) and 127.0.0.1:6432 (PostgreSQL)
until Ctrl-C.

  --tour-only       run the tour and exit (used by the tests)
  --state-dir DIR   where the demo policy, audit log and certificate go (default .sqlgate)
  --mysql-port N    MySQL listener port (default 6033; 0 picks a free one)
  --pg-port N       PostgreSQL listener port (default 6432; 0 picks a free one)
  --embedded        always use throw-away servers, never the local ones

Demo users: alice/alice-pw (analyst), bob/bob-pw (dba), carol/carol-pw (support).`;

const rulesDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../rules');

interface Upstreams { mysqlPort: number; pgPort: number; servers: EmbeddedServer[] }

/** Uses the local servers where they answer, else starts throw-away ones. */
async function upstreams(policyText: string, embedded: boolean): Promise<Upstreams> {
  const policy = parsePolicy(policyText, 'sample-policy.yaml');
  const my = policy.instances.demo_mysql;
  const pgi = policy.instances.demo_pg;
  const servers: EmbeddedServer[] = [];
  let mysqlPort = my.port;
  let pgPort = pgi.port;
  if (embedded || !(await mysqlAnswers(`mysql://${my.user}@${my.host}:${my.port}/`))) {
    console.log(`demo: ${embedded ? 'asked for' : `no MariaDB answers on ${my.host}:${my.port};`} starting a throw-away MariaDB`);
    const s = await startMariadb();
    servers.push(s);
    mysqlPort = urlParts(s.url).port;
  }
  if (embedded || !(await pgAnswers(`postgres://${pgi.user}@${pgi.host}:${pgi.port}/postgres`))) {
    console.log(`demo: ${embedded ? 'asked for' : `no PostgreSQL answers on ${pgi.host}:${pgi.port};`} starting a throw-away PostgreSQL`);
    const s = await startPostgres();
    servers.push(s);
    pgPort = urlParts(s.url).port;
  }
  return { mysqlPort, pgPort, servers };
}

async function seed(u: Upstreams): Promise<void> {
  const my = await mysql.createConnection({ host: '127.0.0.1', port: u.mysqlPort, user: 'root', multipleStatements: true });
  try {
    await my.query('CREATE DATABASE IF NOT EXISTS sqlgate_demo CHARACTER SET utf8mb4');
    await my.query('USE sqlgate_demo');
    await my.query(readFileSync(join(rulesDir, 'demo/seed-mysql.sql'), 'utf8'));
  } finally {
    await my.end();
  }
  const admin = new pg.Client({ host: '127.0.0.1', port: u.pgPort, user: 'postgres', database: 'postgres' });
  await admin.connect();
  try {
    const r = await admin.query(`SELECT 1 FROM pg_database WHERE datname = 'sqlgate_demo'`);
    if (r.rowCount === 0) await admin.query('CREATE DATABASE sqlgate_demo');
  } finally {
    await admin.end();
  }
  const c = new pg.Client({ host: '127.0.0.1', port: u.pgPort, user: 'postgres', database: 'sqlgate_demo' });
  await c.connect();
  try {
    await c.query('SET client_min_messages = warning');
    await c.query(readFileSync(join(rulesDir, 'demo/seed-postgres.sql'), 'utf8'));
    await c.query('ANALYZE');
  } finally {
    await c.end();
  }
}

/** The sample policy with the upstream ports and state paths this demo uses. */
function demoPolicy(text: string, u: Upstreams, stateDir: string, ports: { mysql?: string; pg?: string }): string {
  const doc = parseDocument(text);
  if (ports.mysql !== undefined) doc.setIn(['listeners', 0, 'listen'], `127.0.0.1:${ports.mysql}`);
  if (ports.pg !== undefined) doc.setIn(['listeners', 1, 'listen'], `127.0.0.1:${ports.pg}`);
  doc.setIn(['instances', 'demo_mysql', 'port'], u.mysqlPort);
  doc.setIn(['instances', 'demo_pg', 'port'], u.pgPort);
  doc.setIn(['audit', 'file'], join(stateDir, 'audit.jsonl'));
  doc.setIn(['store', 'path'], join(stateDir, 'state.db'));
  return doc.toString();
}

const TOUR: readonly { user: string; sql: string; says: string }[] = [
  { user: 'alice', sql: 'SELECT id, name, city FROM customers ORDER BY id LIMIT 3', says: 'analyst reads granted columns' },
  { user: 'alice', sql: 'SELECT c.name, c.phone AS contact FROM customers c LIMIT 3', says: 'analyst asks for phone behind an alias' },
  { user: 'alice', sql: "SELECT id FROM customers WHERE id_card LIKE '3301%'", says: 'analyst uses id_card as a WHERE oracle' },
  { user: 'carol', sql: 'SELECT id, name, phone, email FROM customers ORDER BY id LIMIT 3', says: 'support sees phone and e-mail masked' },
  { user: 'carol', sql: "UPDATE orders SET status = 'paid'", says: 'support updates without WHERE' },
  { user: 'alice', sql: 'SELECT id FROM orders WHERE id = 1; DELETE FROM orders WHERE id = 2', says: 'multi-statement, second one not allowed' },
];

function show(rows: readonly Record<string, unknown>[]): string {
  return rows.map((r) => '      ' + Object.values(r).map((v) => String(v)).join(' | ')).join('\n');
}

async function tour(running: RunningSqlgate): Promise<number> {
  const my = running.listeners.find((l) => l.protocol === 'mysql');
  const pgl = running.listeners.find((l) => l.protocol === 'postgres');
  let failures = 0;
  for (const [door, l] of [['MySQL', my], ['PostgreSQL', pgl]] as const) {
    if (!l) continue;
    console.log(`\n== through the ${door} endpoint (${formatAddress(l.address)})`);
    for (const step of TOUR) {
      const password = `${step.user}-pw`;
      console.log(`  ${step.user}> ${step.sql}    -- ${step.says}`);
      try {
        if (door === 'MySQL') {
          const c = await mysql.createConnection({ host: l.address.address, port: l.address.port, user: step.user, password, database: 'sqlgate_demo', multipleStatements: true });
          try {
            const [rows] = await c.query(step.sql);
            console.log(Array.isArray(rows) ? show(rows as Record<string, unknown>[]) : '      OK');
          } finally {
            await c.end();
          }
        } else {
          const c = new pg.Client({ host: l.address.address, port: l.address.port, user: step.user, password, database: 'sqlgate_demo' });
          await c.connect();
          try {
            const r = await c.query(step.sql);
            const last = Array.isArray(r) ? r[r.length - 1] : r;
            console.log(last.rows?.length ? show(last.rows) : '      OK');
          } finally {
            await c.end();
          }
        }
      } catch (err) {
        const e = err as { code?: string; errno?: number; sqlState?: string; message: string };
        if (!e.message.startsWith('sqlgate:')) failures++;
        // MySQL errors carry an errno and a SQLSTATE, PostgreSQL ones a SQLSTATE only: print what there is, as each client would.
        console.log(`      ERROR ${e.errno !== undefined ? `${e.errno} ` : ''}(${e.sqlState ?? e.code ?? ''}): ${e.message}`);
      }
    }
  }
  return failures;
}

export const command: Command = {
  summary: 'run sqlgate on the sample policy with seeded demo databases',
  usage: USAGE,
  async run(args) {
    const opt = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
    const stateDir = resolve(opt('--state-dir') ?? '.sqlgate');
    mkdirSync(stateDir, { recursive: true });
    const text = readFileSync(join(rulesDir, 'sample-policy.yaml'), 'utf8');
    const u = await upstreams(text, args.includes('--embedded'));
    const stopServers = () => { for (const s of u.servers) s.stop(); };
    let running: RunningSqlgate | undefined;
    try {
      await seed(u);
      const policyPath = join(stateDir, 'demo-policy.yaml');
      writeFileSync(policyPath, demoPolicy(text, u, stateDir, { mysql: opt('--mysql-port'), pg: opt('--pg-port') }));
      running = await startSqlgate({ policyPath, stateDir });
      for (const l of running.listeners) console.log(`sqlgate: ${l.protocol} listening on ${formatAddress(l.address)} -> instance ${l.instance}`);
      for (const s of running.skipped) console.log(`sqlgate: skipped ${s}`);
      const failures = await tour(running);
      console.log(`\naudit log: ${join(stateDir, 'audit.jsonl')}  (check it: sqlgate audit verify ${join(stateDir, 'audit.jsonl')})`);
      if (args.includes('--tour-only')) return failures === 0 ? 0 : 1;
      console.log([
        '',
        'sqlgate is running. Connect as a user would:',
        ...running.listeners.map((l) => l.protocol === 'mysql'
          ? `  mariadb -h 127.0.0.1 -P ${l.address.port} -u alice -palice-pw sqlgate_demo`
          : `  psql "postgres://carol:carol-pw@127.0.0.1:${l.address.port}/sqlgate_demo"`),
        'Ctrl-C stops it.',
      ].join('\n'));
      await new Promise<void>((done) => {
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
      return 0;
    } catch (err) {
      console.error(`sqlgate demo: ${(err as Error).message}`);
      return 1;
    } finally {
      await running?.close();
      stopServers();
    }
  },
};
