import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseOptions, WORKLOADS } from '../../../bench/options.js';
import { pgbouncerIni } from '../../../bench/pgbouncer.js';
import { benchPolicy, parseListening } from '../../../bench/sqlgate.js';
import { TARGETS, joinNotes, ownWork, relayCeiling, verdict } from '../../../bench/targets.js';
import { classifyDecisionFigure, extractJson, flatten } from '../../../bench/workloads/decision.js';
import { parsePgbench } from '../../../bench/workloads/pgbench.js';
import { parseSysbench } from '../../../bench/workloads/sysbench.js';
import { policySchema } from '../../../rules/policy-schema.js';

const PGBENCH_OUT = `pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: <builtin: select only>
scaling factor: 1
query mode: simple
number of clients: 2
number of threads: 1
maximum number of tries: 1
duration: 1 s
number of transactions actually processed: 8309
number of failed transactions: 0 (0.000%)
latency average = 0.235 ms
initial connection time = 23.506 ms
tps = 8500.751450 (without initial connection time)
`;

const SYSBENCH_OUT = `SQL statistics:
    queries performed:
        read:                            4546
        write:                           0
        other:                           0
        total:                           4546
    transactions:                        4546   (4533.68 per sec.)
    queries:                             4546   (4533.68 per sec.)
    ignored errors:                      0      (0.00 per sec.)
`;

test('pgbench report: tps without connection time, transactions, failures', () => {
  assert.deepEqual(parsePgbench(PGBENCH_OUT), { tps: 8500.75145, transactions: 8309, failed: 0 });
  assert.equal(parsePgbench('pgbench: error: connection to server failed'), undefined);
});

test('sysbench report: transactions and queries per second', () => {
  assert.deepEqual(parseSysbench(SYSBENCH_OUT), { transactions: 4546, tps: 4533.68, queries: 4546, qps: 4533.68 });
  assert.equal(parseSysbench('FATAL: error 1045'), undefined);
});

test('options: defaults, quick, --only, bad input', () => {
  const d = parseOptions([]);
  assert.deepEqual(d.clients, [1, 8, 32]);
  assert.equal(d.rounds, 3);
  assert.equal(d.only.size, WORKLOADS.length);
  const q = parseOptions(['--quick', '--only', 'pgbench,sysbench', '--rounds=5']);
  assert.ok(q.quick);
  assert.deepEqual([...q.only], ['pgbench', 'sysbench']);
  assert.equal(q.rounds, 5);
  assert.deepEqual(q.clients, [8]);
  assert.deepEqual(parseOptions(['--clients', '1,32']).clients, [1, 32]);
  assert.equal(d.idleServers, true);
  assert.equal(d.cpuProf, false);
  const f = parseOptions(['--no-idle-servers', '--cpu-prof']);
  assert.equal(f.idleServers, false);
  assert.equal(f.cpuProf, true);
  assert.equal(d.streamRounds, 2, 'default: two 1M-row stream rounds');
  assert.equal(q.streamRounds, 5, '--rounds given: it applies to the stream too');
  assert.equal(parseOptions(['--quick']).streamRounds, 1);
  assert.equal(parseOptions(['--quick']).streamRows, 500_000);
  assert.equal(d.streamRows, 1_000_000);
  assert.equal(parseOptions(['--quick', '--idle', '1000']).idle, 1000);
  assert.throws(() => parseOptions(['--only', 'pgbench,nope']), /unknown workload/);
  assert.throws(() => parseOptions(['--rounds', '0']), /positive integer/);
  assert.throws(() => parseOptions(['--rounds']), /positive integer/);
  assert.throws(() => parseOptions(['--frobnicate']), /unknown option/);
});

test('the generated bench policy is valid against the policy schema', () => {
  const up = { host: '127.0.0.1', port: 5432, user: 'postgres', password: 'pw', database: 'sg_bench_1' };
  const policy = benchPolicy({
    pg: { ...up, listen: '127.0.0.1:40001' },
    mysql: { ...up, port: 3306, user: 'root', password: '', listen: '127.0.0.1:40002' },
    users: { plain: { user: 'sgbench', password: 'a' }, masked: { user: 'sgbench_masked', password: 'b' } },
    dir: '/tmp/x',
  });
  const parsed = policySchema.parse(policy);
  assert.equal(parsed.listeners.length, 2);
  assert.equal(parsed.instances.bench_pg.password_env, 'SQLGATE_BENCH_PG_PASSWORD');
  assert.equal(parsed.instances.bench_mysql.password_env, undefined, 'no password, no env');
  assert.equal(parsed.masking.length, 2);
  assert.deepEqual(parsed.masking[0].roles, ['bench_masked']);
  assert.deepEqual(parsed.users.sgbench.roles, ['bench']);
  assert.ok(parsed.users.sgbench_masked.roles.includes('bench_masked'));
  assert.ok(parsed.limits.max_rows_per_query! >= 1_000_000, 'the 1M-row stream must not be cut');
  assert.ok(parsed.roles.bench.statement_kinds!.includes('transaction'), 'TPC-B needs BEGIN/END');
  assert.ok(parsed.roles.bench.statement_kinds!.includes('use'), 'a MySQL login naming a database is a USE');
});

test('listening lines give the actual addresses', () => {
  const out = 'starting\nsqlgate: mysql listening on 127.0.0.1:40002\nsqlgate: postgres listening on [::1]:40001\n';
  const m = parseListening(out);
  assert.deepEqual(m.get('mysql'), { host: '127.0.0.1', port: 40002 });
  assert.deepEqual(m.get('postgres'), { host: '::1', port: 40001 });
  assert.equal(parseListening('nothing').size, 0);
});

test('pgbouncer.ini: session mode, loopback, the upstream with its user', () => {
  const ini = pgbouncerIni({ binary: '/usr/sbin/pgbouncer', database: 'sg_b', upstream: { host: '127.0.0.1', port: 5432, user: 'postgres', password: "it's" }, client: { user: 'u', password: 'p' } }, 6543, '/tmp/d');
  assert.match(ini, /^pool_mode = session$/m);
  assert.match(ini, /^listen_addr = 127\.0\.0\.1$/m);
  assert.match(ini, /^listen_port = 6543$/m);
  assert.match(ini, /^sg_b = host=127\.0\.0\.1 port=5432 dbname=sg_b user=postgres password='it\\'s'$/m);
});

test('decision figures: JSON found, flattened, classified by name and unit', () => {
  assert.deepEqual(extractJson('warming up\n{"a":1}\n'), { a: 1 });
  assert.deepEqual(extractJson('{"a":\n 2}'), { a: 2 });
  assert.equal(extractJson('no json'), undefined);
  const flat = flatten({ postgres: { cached_us: 2.5, uncached_us: 40 }, mysql: { hit_ns: 3000, miss_us: 700, samples: 1000 } });
  assert.deepEqual(flat, { 'postgres.cached_us': 2.5, 'postgres.uncached_us': 40, 'mysql.hit_ns': 3000, 'mysql.miss_us': 700, 'mysql.samples': 1000 });
  assert.deepEqual(classifyDecisionFigure('postgres.uncached_us', 40), { kind: 'uncached', dialect: 'postgres', us: 40 });
  assert.deepEqual(classifyDecisionFigure('mysql.hit_ns', 3000), { kind: 'cached', dialect: 'mysql', us: 3 });
  assert.equal(classifyDecisionFigure('mysql.samples', 1000), undefined);
  assert.equal(classifyDecisionFigure('postgres.uncached_p99_us', 90), undefined, 'p99 is not the figure the target names');
  assert.equal(classifyDecisionFigure('postgres.cached', 2), undefined, 'no unit, no verdict');
});

test('the relay ceiling note says when the bare relay misses the target too', () => {
  const x = (v: number) => `${v.toFixed(2)}×`;
  assert.equal(relayCeiling(TARGETS.sysbenchPointSelect, 0.45, x), 'bare Node.js relay: 0.45×, which misses it too');
  assert.equal(relayCeiling(TARGETS.pgbenchSvsPgbouncer, 1.02, x), 'bare Node.js relay: 1.02×');
  assert.equal(relayCeiling(TARGETS.addedLatencyP50, 110, (v) => `${v} µs`), 'bare Node.js relay: 110 µs, which misses it too');
  assert.equal(relayCeiling(TARGETS.addedLatencyP50, undefined, x), undefined, 'no relay figure, no note');
  assert.equal(relayCeiling(TARGETS.sysbenchPointSelect, 0.4952, x), 'bare Node.js relay: 0.50× (0.495), which misses it too', 'rounded onto the bound: the precise figure too');
  assert.equal(relayCeiling(TARGETS.sysbenchPointSelect, 0.5, x), 'bare Node.js relay: 0.50×');
  assert.equal(joinNotes('CPU/query: 37 µs', undefined, 'bare Node.js relay: 0.94×'), 'CPU/query: 37 µs; bare Node.js relay: 0.94×');
  assert.equal(joinNotes(undefined, ''), undefined);
  assert.equal(ownWork(36.3, 15.7), "sqlgate's own work 20.6 µs/statement (its CPU less the relay's)");
  assert.equal(ownWork(36.3, undefined), undefined, 'no relay figure, no difference');
  assert.equal(ownWork(NaN, 15.7), undefined);
});

test('verdicts: met / missed / n/a, min and max targets', () => {
  assert.equal(verdict(TARGETS.pgbenchSvsPgbouncer, 1.0), 'met');
  assert.equal(verdict(TARGETS.pgbenchSvsPgbouncer, 0.99), 'missed');
  assert.equal(verdict(TARGETS.addedLatencyP50, 100), 'met');
  assert.equal(verdict(TARGETS.addedLatencyP50, 101), 'missed');
  assert.equal(verdict(TARGETS.idleRss, undefined), 'n/a');
  assert.equal(verdict(TARGETS.idleRss, NaN), 'n/a');
});

test('sysbench errors: the FATAL lines, not the banner', async () => {
  const { sysbenchError } = await import('../../../bench/workloads/sysbench.js');
  const out = `sysbench 1.0.20 (using system LuaJIT 2.1.0-beta3)

Running the test with following options:
Number of threads: 8

FATAL: unable to connect to MySQL server on host '127.0.0.1', port 4000, aborting...
FATAL: error 1045: Access denied for user 'sgbench'@'localhost'
`;
  const e = sysbenchError(out);
  assert.match(e, /^FATAL: unable to connect/);
  assert.match(e, /error 1045/);
  assert.doesNotMatch(e, /LuaJIT/);
});

test('decision figures from the table bench/governance prints', async () => {
  const { parseTextTable } = await import('../../../bench/workloads/decision.js');
  const out = `governance decisions, 12-statement mix per dialect, users a/b, node v20.19.0; median of 3 rounds
dialect   path                                 CPU µs/decision  wall µs/decision  decisions
--------  -----------------------------------  ---------------  ----------------  ---------
mysql     miss: analyse + rules                812.4            901.0             900
mysql     hit: cached analysis and decision    3.1              3.4               60000
mysql     rules only: decide() on ready facts  1.2              1.3               60000
postgres  miss: analyse + rules                61.5             70.2              4500
postgres  hit: cached analysis and decision    2.8              3.0               60000
`;
  const f = parseTextTable(out)!;
  assert.equal(f['mysql.miss: analyse + rules.CPU µs/decision'], 812.4);
  assert.equal(f['postgres.hit: cached analysis and decision.wall µs/decision'], 3);
  assert.equal(f['mysql.rules only: decide() on ready facts.decisions'], 60000);
  assert.deepEqual(classifyDecisionFigure('mysql.miss: analyse + rules.CPU µs/decision', 812.4), { kind: 'uncached', dialect: 'mysql', us: 812.4 });
  assert.deepEqual(classifyDecisionFigure('postgres.hit: cached analysis and decision.CPU µs/decision', 2.8), { kind: 'cached', dialect: 'postgres', us: 2.8 });
  assert.equal(classifyDecisionFigure('mysql.rules only: decide() on ready facts.CPU µs/decision', 1.2), undefined, 'neither cached nor uncached');
  assert.equal(classifyDecisionFigure('mysql.hit: cached analysis and decision.decisions', 60000), undefined, 'a count, not a time');
  assert.equal(parseTextTable('no table here'), undefined);
});

test('decision targets are judged on the worse of early and warm misses, CPU time first', async () => {
  const { parseTextTable, decisionTargetFigures } = await import('../../../bench/workloads/decision.js');
  const out = `dialect   path                                   CPU µs/decision  wall µs/decision  decisions
--------  -------------------------------------  ---------------  ----------------  ---------
mysql     miss, early: analyse + rules           906.1            504.6             600
mysql     miss, warm: analyse + rules            309.8            218.9             1800
mysql     hit: cached analysis and decision      0.8              0.8               60000
mysql     new literals: shared analysis + rules  4.3              4.2               15000
postgres  miss, early: analyse + rules           74.7             197.5             2000
postgres  miss, warm: analyse + rules            61.4             54.7              6000
postgres  hit: cached analysis and decision      1.7              1.9               60000
`;
  const f = decisionTargetFigures(parseTextTable(out)!);
  assert.deepEqual(f, { cached: 1.7, uncachedPg: 74.7, uncachedMysql: 906.1 });
  assert.deepEqual(decisionTargetFigures({ 'postgres.miss.wall µs': 80 }), { cached: undefined, uncachedPg: 80, uncachedMysql: undefined }, 'wall time when no CPU figure is printed');
});
