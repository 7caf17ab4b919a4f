/**
 * sqlgate under test: a generated policy (bench users with computed
 * verifiers, grants on the bench databases, a label, a masked column, row cap,
 * quotas, audit to a file) and `sqlgate start` as a child process whose CPU
 * time and RSS the workloads read from /proc.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { startServer, freePort } from './procs.js';
import { allVerifiers } from './verifiers.js';

/** Where one upstream lives and which bench database the policy governs there. */
export interface Upstream {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

/** The two bench logins: `plain` sees everything, `masked` gets the masked column. */
export interface BenchUsers {
  readonly plain: { user: string; password: string };
  readonly masked: { user: string; password: string };
}

/** Table and column the masking rule covers (in both dialects). */
export const MASKED = { table: 'sg_stream', column: 'c3' } as const;

export const PG_PASSWORD_ENV = 'SQLGATE_BENCH_PG_PASSWORD';
export const MYSQL_PASSWORD_ENV = 'SQLGATE_BENCH_MYSQL_PASSWORD';

/** Parameters of the generated policy. */
export interface PolicyParams {
  readonly pg?: Upstream & { listen: string };
  readonly mysql?: Upstream & { listen: string };
  readonly users: BenchUsers;
  readonly dir: string;
  /** Node id and audit file of this node (several nodes share `dir`'s store, never an audit file). */
  readonly node?: string;
}

/**
 * The bench policy: governance fully on but permissive enough for the
 * workloads (pgbench TPC-B writes, 1M-row streams, millions of queries).
 */
export function benchPolicy(p: PolicyParams): Record<string, unknown> {
  const instances: Record<string, unknown> = {};
  const listeners: unknown[] = [];
  const grants: unknown[] = [];
  const masking: unknown[] = [];
  for (const [proto, up, env] of [['postgres', p.pg, PG_PASSWORD_ENV], ['mysql', p.mysql, MYSQL_PASSWORD_ENV]] as const) {
    if (!up) continue;
    const inst = `bench_${proto === 'postgres' ? 'pg' : 'mysql'}`;
    instances[inst] = {
      protocol: proto, host: up.host, port: up.port, user: up.user,
      ...(up.password ? { password_env: env } : {}),
      database: up.database,
    };
    listeners.push({ protocol: proto, listen: up.listen, instance: inst });
    grants.push({ instance: inst, database: up.database, privileges: ['select', 'insert', 'update', 'delete'] });
    masking.push({ instance: inst, database: up.database, table: MASKED.table, column: MASKED.column, kind: 'partial', keep_first: 3, keep_last: 4, roles: ['bench_masked'] });
  }
  const limits = {
    // A row cap and quotas that are counted on every statement but never bite.
    max_rows_per_query: 5_000_000,
    max_rows_per_day: 1_000_000_000_000,
    max_queries_per_day: 1_000_000_000_000,
    max_result_bytes: 16 * 1024 ** 3,
    statement_timeout_ms: 600_000,
  };
  return {
    version: 1,
    node_id: p.node ?? 'bench',
    listeners,
    audit: { file: join(p.dir, p.node ? `audit-${p.node}.jsonl` : 'audit.jsonl'), slow_ms: 1000 },
    store: { kind: 'sqlite', path: join(p.dir, 'state.db') },
    limits,
    instances,
    users: {
      [p.users.plain.user]: { password: allVerifiers(p.users.plain.user, p.users.plain.password), roles: ['bench'], clearance: 3 },
      [p.users.masked.user]: { password: allVerifiers(p.users.masked.user, p.users.masked.password), roles: ['bench', 'bench_masked'], clearance: 3 },
    },
    roles: {
      bench: {
        description: 'bench workloads: pgbench, sysbench, streams',
        grants,
        // 'use': a MySQL client naming a database at login switches to it.
        statement_kinds: ['select', 'insert', 'update', 'delete', 'transaction', 'set', 'show', 'use'],
      },
      bench_masked: { description: 'sees sg_stream.c3 masked', grants: [] },
    },
    labels: [{ table: MASKED.table, column: 'c8', level: 1 }],
    masking,
  };
}

/** A sqlgate listener the workloads can reach, and the process serving it. */
export interface SqlgateEndpoint {
  readonly host: string;
  readonly port: number;
  readonly pid: number;
}

/** Running sqlgate process(es): one endpoint per protocol that came up. */
export interface Sqlgate {
  readonly pg?: SqlgateEndpoint;
  readonly mysql?: SqlgateEndpoint;
  readonly dir: string;
  /** Why a protocol is missing, when it is. */
  readonly notes: string[];
  stop(): Promise<void>;
}

/** Path of the compiled `sqlgate start` command, or undefined when it is not there (not merged yet). */
export function startCommandPath(distDir: string): string | undefined {
  const p = join(distDir, 'proxy', 'cli', 'commands', 'start.js');
  return existsSync(p) ? p : undefined;
}

const LISTENING = /sqlgate: (mysql|postgres) listening on (\S+):(\d+)/g;

/** Protocol → actual host:port from sqlgate's start-up lines. */
export function parseListening(output: string): Map<string, { host: string; port: number }> {
  const m = new Map<string, { host: string; port: number }>();
  for (const x of output.matchAll(LISTENING)) m.set(x[1], { host: x[2].replace(/^\[|\]$/g, ''), port: Number(x[3]) });
  return m;
}

/**
 * Starts sqlgate with both listeners; when that fails (one endpoint not
 * merged yet, say), starts one process per protocol so that whatever works
 * is measured.
 */
export async function startSqlgate(distDir: string, pg: Upstream | undefined, mysql: Upstream | undefined, users: BenchUsers, cpuProfDir?: string): Promise<Sqlgate> {
  const dir = mkdtempSync(join(tmpdir(), 'sqlgate-bench-'));
  const main = join(distDir, 'proxy', 'cli', 'main.js');
  const env = { ...process.env };
  if (pg?.password) env[PG_PASSWORD_ENV] = pg.password;
  if (mysql?.password) env[MYSQL_PASSWORD_ENV] = mysql.password;
  const notes: string[] = [];
  const stops: (() => Promise<void>)[] = [];

  async function attempt(name: string, withPg: boolean, withMysql: boolean) {
    const params: PolicyParams = {
      pg: withPg && pg ? { ...pg, listen: `127.0.0.1:${await freePort()}` } : undefined,
      mysql: withMysql && mysql ? { ...mysql, listen: `127.0.0.1:${await freePort()}` } : undefined,
      users, dir,
    };
    const policyPath = join(dir, `policy-${name}.yaml`);
    writeFileSync(policyPath, YAML.stringify(benchPolicy(params)));
    const want = [params.pg ? 'postgres' : '', params.mysql ? 'mysql' : ''].filter(Boolean);
    // --cpu-prof writes its profile when the process exits normally, i.e. when
    // `sqlgate start` handles SIGTERM by closing down rather than dying.
    const nodeArgs = cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : [];
    // Ready when every wanted listener is up, or the rest were reported skipped.
    const skipped = (out: string) => out.split('\n').filter((l) => /^sqlgate: skipped/.test(l.trim()));
    const server = await startServer(process.execPath, [...nodeArgs, main, 'start', '--policy', policyPath, '--state-dir', dir], { env, cwd: dir },
      (out) => want.every((p) => parseListening(out).has(p)) || (skipped(out).length > 0 && parseListening(out).size + skipped(out).length >= want.length), 60_000);
    for (const l of skipped(server.output())) notes.push(l.trim());
    stops.push(() => server.stop());
    const found = parseListening(server.output());
    const at = (p: string): SqlgateEndpoint | undefined => {
      const a = found.get(p);
      return a ? { host: a.host === '0.0.0.0' || a.host === '::' ? '127.0.0.1' : a.host, port: a.port, pid: server.pid } : undefined;
    };
    return { pg: at('postgres'), mysql: at('mysql') };
  }

  let eps: { pg?: SqlgateEndpoint; mysql?: SqlgateEndpoint } = {};
  try {
    eps = await attempt('both', true, true);
  } catch (err) {
    notes.push(`sqlgate with both listeners did not start: ${firstLine(err)}`);
    for (const [proto, up] of [['postgres', pg], ['mysql', mysql]] as const) {
      if (!up) continue;
      try {
        const e = await attempt(proto, proto === 'postgres', proto === 'mysql');
        eps = { ...eps, ...(proto === 'postgres' ? { pg: e.pg } : { mysql: e.mysql }) };
      } catch (err2) {
        notes.push(`sqlgate ${proto} listener: ${firstLine(err2)}`);
      }
    }
  }
  return {
    ...eps, dir, notes,
    async stop() {
      for (const s of stops) await s();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function firstLine(err: unknown): string {
  return ((err as Error).message ?? String(err)).split('\n').slice(0, 3).join(' | ');
}

/**
 * `sqlgate start --workers N` beside the single-process sqlgate: PostgreSQL
 * listener only, the same users and the same control store (the SQLite file
 * in `dir`, shared through its file locks), its own audit files (one per
 * worker). Its pid is the primary's; the workers are its children.
 */
export async function startCluster(distDir: string, dir: string, pg: Upstream, users: BenchUsers, workers: number): Promise<{ endpoint: SqlgateEndpoint; stop(): Promise<void> }> {
  const main = join(distDir, 'proxy', 'cli', 'main.js');
  const env = { ...process.env };
  if (pg.password) env[PG_PASSWORD_ENV] = pg.password;
  const params: PolicyParams = { pg: { ...pg, listen: `127.0.0.1:${await freePort()}` }, users, dir, node: 'bench-cluster' };
  const policyPath = join(dir, 'policy-cluster.yaml');
  writeFileSync(policyPath, YAML.stringify(benchPolicy(params)));
  const server = await startServer(process.execPath, [main, 'start', '--policy', policyPath, '--state-dir', join(dir, 'cluster'), '--workers', String(workers)], { env, cwd: dir },
    (out) => new RegExp(`${workers} workers ready`).test(out), 60_000);
  const a = parseListening(server.output()).get('postgres')!;
  return { endpoint: { host: a.host === '0.0.0.0' ? '127.0.0.1' : a.host, port: a.port, pid: server.pid }, stop: () => server.stop() };
}
