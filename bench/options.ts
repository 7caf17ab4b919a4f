/** Command-line options of `npm run bench` (see usage below). */

export const WORKLOADS = ['pgbench', 'sysbench', 'latency', 'stream', 'connect', 'idle', 'scale', 'governance'] as const;
export type Workload = (typeof WORKLOADS)[number];

/** What one run measures and for how long. */
export interface BenchOptions {
  readonly quick: boolean;
  readonly only: ReadonlySet<Workload>;
  /** Interleaved rounds per throughput figure. */
  readonly rounds: number;
  /** Interleaved rounds of the 1M-row stream and of the connection rate. */
  readonly streamRounds: number;
  readonly connectRounds: number;
  /** Seconds per pgbench / sysbench round. */
  readonly seconds: number;
  /** pgbench client counts. */
  readonly clients: readonly number[];
  /** pgbench scale factor (-i -s). */
  readonly scale: number;
  /** Rows in the streaming table. */
  readonly streamRows: number;
  /** Point SELECTs per target in the latency loop. */
  readonly latencyQueries: number;
  /** Idle client connections opened for the memory figure. */
  readonly idle: number;
  /** Seconds per connection-rate round. */
  readonly connectSeconds: number;
  /** sysbench tables and rows per table. */
  readonly sysbenchTables: number;
  readonly sysbenchTableSize: number;
  /** Retry the idle figure on throw-away servers when the shared ones cap it. */
  readonly idleServers: boolean;
  /** Run sqlgate under `node --cpu-prof`, profiles written to this folder's parent's results. */
  readonly cpuProf: boolean;
  readonly help: boolean;
}

export const USAGE = `usage: npm run bench -- [options]

  --quick              short run (about 4 minutes): 8 clients only, 4-s rounds,
                       one 500,000-row stream round, two connection-rate rounds,
                       300 idle connections
  --only LIST          comma-separated subset of: ${WORKLOADS.join(', ')}
  --rounds N           interleaved rounds per throughput figure (default 3)
  --seconds N          seconds per pgbench/sysbench round (default 6, quick 4)
  --clients LIST       pgbench client counts (default 1,8,32, quick 8)
  --rows N             rows in the streaming table (default 1000000, quick 500000)
  --idle N             idle client connections for the memory figure (default 1000, quick 300)
  --no-idle-servers    when sqlgate holds an upstream connection per client, do not
                       retry the idle figure on throw-away servers (max_connections N+100)
  --cpu-prof           run sqlgate under node --cpu-prof; .cpuprofile files go to
                       bench/results/profiles-<time>/ (open in Chrome DevTools / speedscope)
  --help               this text

Environment: MYSQL_URL, PG_URL (defaults mysql://root@127.0.0.1:3306/test,
postgres://postgres@127.0.0.1:5432/postgres). Results: bench/results/*.json.`;

function positiveInt(flag: string, v: string | undefined): number {
  const n = Number(v);
  if (!v || !Number.isInteger(n) || n <= 0) throw new Error(`${flag} wants a positive integer, got '${v ?? ''}'`);
  return n;
}

/** Parses argv (without node and script); throws with a readable message on bad input. */
export function parseOptions(argv: readonly string[]): BenchOptions {
  const quick = argv.includes('--quick');
  let only: Set<Workload> = new Set(WORKLOADS);
  let rounds = 3;
  let roundsGiven = false;
  let seconds = quick ? 4 : 6;
  let clients: number[] = quick ? [8] : [1, 8, 32];
  let streamRows = quick ? 500_000 : 1_000_000;
  let idle = quick ? 300 : 1000;
  let help = false;
  let cpuProf = false;
  let idleServers = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--quick': break;
      case '--help': case '-h': help = true; break;
      case '--cpu-prof': cpuProf = true; break;
      case '--no-idle-servers': idleServers = false; break;
      case '--only': {
        const names = (value() ?? '').split(',').map((s) => s.trim()).filter(Boolean);
        const bad = names.filter((n) => !(WORKLOADS as readonly string[]).includes(n));
        if (bad.length || names.length === 0) throw new Error(`--only: unknown workload(s) '${bad.join(',')}'; choose from ${WORKLOADS.join(', ')}`);
        only = new Set(names as Workload[]);
        break;
      }
      case '--rounds': rounds = positiveInt(flag, value()); roundsGiven = true; break;
      case '--seconds': seconds = positiveInt(flag, value()); break;
      case '--clients': clients = (value() ?? '').split(',').map((s) => positiveInt(flag, s.trim())); break;
      case '--rows': streamRows = positiveInt(flag, value()); break;
      case '--idle': idle = positiveInt(flag, value()); break;
      default: throw new Error(`unknown option '${a}'\n\n${USAGE}`);
    }
  }
  return {
    quick, only, rounds, seconds,
    streamRounds: roundsGiven ? rounds : quick ? 1 : Math.min(rounds, 2),
    connectRounds: roundsGiven || !quick ? rounds : 2, clients, scale: 5, streamRows,
    latencyQueries: quick ? 2000 : 5000,
    idle,
    connectSeconds: quick ? 2 : 3,
    sysbenchTables: 4,
    sysbenchTableSize: quick ? 10_000 : 25_000,
    cpuProf,
    idleServers,
    help,
  };
}
