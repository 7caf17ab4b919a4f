/**
 * `npm run bench`: sqlgate against a direct connection and PgBouncer, on one
 * machine, in one run. Starts what it needs (bench databases, PgBouncer,
 * sqlgate), runs the workloads as interleaved short rounds, prints a table
 * with the issue-7 targets beside the figures, writes JSON to bench/results/,
 * and cleans up. Method and figures: bench/README.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMysqlDatabase, createPgDatabase, mysqlConnect, mysqlUrl, pgConnect, pgUrl, serverInfo, type TempDatabase } from '../test/helpers/db.js';
import { byRound, errorLine, type Endpoint, type Sample, type Via } from './endpoints.js';
import { parseOptions, USAGE, type BenchOptions } from './options.js';
import { startPgbouncer, type Pgbouncer } from './pgbouncer.js';
import { startRelay } from './relay.js';
import { findTools, missingToolsAdvice } from './prereqs.js';
import { machineTicks, stealShare, type MachineTicks } from './proc.js';
import { MASKED, startCluster, startCommandPath, startSqlgate, type BenchUsers, type Sqlgate } from './sqlgate.js';
import { median, medianRatio, rotate } from './stats.js';
import { fmt, fmtRatio, renderTable } from './table.js';
import { TARGETS, joinNotes, ownWork, relayCeiling, verdict, type Target } from './targets.js';
import { connectRound } from './workloads/connect.js';
import { decisionCost, decisionTargetFigures } from './workloads/decision.js';
import { idleMemory, MIN_RELIABLE, type IdleResult, type ServerConnections } from './workloads/idle.js';
import { startIdleMariadb, startIdlePostgres, type IdleServer } from './idle-servers.js';
import { pointSelectLatency } from './workloads/latency.js';
import { pgbenchInit, pgbenchRound, type PgbenchMode } from './workloads/pgbench.js';
import { streamOnce, streamTableSql, STREAM_TABLE, type StreamRun } from './workloads/stream.js';
import { sysbenchPrepare, sysbenchRound, type SysbenchTest } from './workloads/sysbench.js';

const distDir = dirname(dirname(fileURLToPath(import.meta.url)));
const rootDir = dirname(distDir);
const SQLGATE_NA = 'n/a (sqlgate start not available)';
/** Steal over the run from which the report says that absolute figures are depressed (2-core CI VMs have shown 10–45 %). */
const STEAL_WORTH_A_NOTE = 0.05;

/** A target's line in the report. */
interface TargetLine { target: Target; value?: number; shown: string; verdict: string; note?: string }

/** Everything the run found, as written to the JSON file. */
interface Report {
  started: string;
  finished?: string;
  seconds?: number;
  machine: Record<string, unknown>;
  options: Record<string, unknown>;
  notes: string[];
  sqlgate: { available: boolean; notes: string[] };
  pgbench: unknown[];
  sysbench: unknown[];
  latency: Record<string, unknown>;
  stream: Record<string, unknown>;
  connect: unknown[];
  idle: Record<string, unknown>;
  scale?: unknown;
  decision?: unknown;
  targets: { id: string; text: string; value?: number; verdict: string; note?: string }[];
}

const t0 = Date.now();
/** Progress lines carry the seconds since start, so a slow phase shows where the time went. */
const progress = (s: string): void => console.log(`[${String(Math.round((Date.now() - t0) / 1000)).padStart(4)} s] ${s}`);
const log = (s: string): void => console.log(s);
const sections: string[] = [];
/** CPU steal per part of the run, as a share of the machine's CPU time (report.machine.steal). */
const stealByPart: Record<string, number> = {};
let partStart: MachineTicks | undefined;

/**
 * Adds a part's table, with the share of the machine's CPU time the
 * hypervisor gave to other guests while the part ran: on a shared VM that
 * moves every absolute figure of the part, and it differs between runs.
 */
function section(part: string, text: string): void {
  const now = machineTicks();
  const steal = stealShare(partStart, now);
  partStart = now;
  if (steal !== undefined) stealByPart[part] = +steal.toFixed(3);
  sections.push(steal === undefined ? text : `${text}\n(CPU steal while this part ran: ${percent(steal)} of the machine's CPU time)`);
}

function percent(share: number): string {
  return `${(share * 100).toFixed(share < 0.1 ? 1 : 0)}%`;
}

const targetLines: TargetLine[] = [];

function addTarget(target: Target, value: number | undefined, shown: string, note?: string): void {
  targetLines.push({ target, value, shown, verdict: verdict(target, value), note });
}

/**
 * Cleanup actions, run once, in reverse order, also on Ctrl-C. Every caller
 * awaits the same run: a signal arriving while main() is still unwinding
 * must not let the final process.exit cut the database drops short.
 */
const cleanups: (() => Promise<void>)[] = [];
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const c of cleanups.reverse()) {
      // A step that hangs (a DROP waiting on a lock) must not keep the rest from running.
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<void>((_, reject) => { timer = setTimeout(() => reject(new Error('cleanup step took over 30 s')), 30_000); });
      try { await Promise.race([c(), limit]); } catch (err) { console.error(`cleanup: ${errorLine(err)}`); } finally { clearTimeout(timer); }
    }
  })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => { console.error(`\n${sig}: cleaning up`); void cleanup().then(() => process.exit(130)); });
}

function sampleText(s: Sample, unit: string): string {
  if (s.error) return `${s.via} error: ${s.error}`;
  const cpu = s.proxyCpuUs !== undefined ? ` (proxy ${fmt(s.proxyCpuUs, 1)} µs)` : '';
  return `${s.via} ${fmt(s.value)} ${unit}${cpu}`;
}

/** Per-figure summary of interleaved samples: medians, median ratios, proxy CPU. */
function summarise(samples: readonly Sample[], rounds: number, vias: readonly Via[]) {
  const value: Partial<Record<Via, number>> = {};
  const cpu: Partial<Record<Via, number>> = {};
  const errors: Partial<Record<Via, string>> = {};
  for (const v of vias) {
    const mine = samples.filter((s) => s.via === v);
    value[v] = median(mine.map((s) => s.value ?? NaN));
    cpu[v] = median(mine.map((s) => s.proxyCpuUs ?? NaN));
    const e = mine.find((s) => s.error)?.error;
    if (e) errors[v] = e;
  }
  const r = (a: Via, b: Via) => medianRatio(byRound(samples, a, rounds), byRound(samples, b, rounds));
  return {
    value, cpu, errors,
    ratios: {
      pgbouncerVsDirect: r('pgbouncer', 'direct'), sqlgateVsDirect: r('sqlgate', 'direct'), sqlgateVsPgbouncer: r('sqlgate', 'pgbouncer'),
      relayVsDirect: r('relay', 'direct'), relayVsPgbouncer: r('relay', 'pgbouncer'),
    },
  };
}

function ratioCell(x: { ratio: number; min: number; max: number; count: number }): string {
  return Number.isFinite(x.ratio) ? `${fmtRatio(x.ratio)} [${x.min.toFixed(2)}–${x.max.toFixed(2)}]` : '-';
}

function viaCell(v: number | undefined, err: string | undefined, ep: Endpoint | undefined, naText: string): string {
  if (!ep) return naText;
  if (err && (v === undefined || !Number.isFinite(v))) return `error: ${err.slice(0, 60)}`;
  return fmt(v);
}

async function main(): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  if (opts.help) { log(USAGE); return 0; }
  const want = opts.only;
  const report: Report = {
    started: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGb: +(totalmem() / 2 ** 30).toFixed(1), kernel: release(), node: process.version, loadavgAtStart: loadavg() },
    options: { ...opts, only: [...opts.only] },
    notes: [], sqlgate: { available: false, notes: [] },
    pgbench: [], sysbench: [], latency: {}, stream: {}, connect: [], idle: {}, targets: [],
  };
  const note = (s: string): void => { report.notes.push(s); log(`note: ${s}`); };

  log(`sqlgate bench — ${opts.quick ? 'quick' : 'default'} mode, ${opts.rounds} interleaved rounds, ${cpus().length} CPUs, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const tools = findTools();
  for (const l of missingToolsAdvice(tools)) note(l);

  // --- databases ------------------------------------------------------------
  const pgInfo = serverInfo(pgUrl());
  const myInfo = serverInfo(mysqlUrl());
  let pgDb: TempDatabase | undefined;
  let myDb: TempDatabase | undefined;
  try {
    pgDb = await createPgDatabase('bench');
    cleanups.push(() => pgDb!.drop());
  } catch (err) { note(`PostgreSQL at ${pgInfo.host}:${pgInfo.port} unusable: ${errorLine(err)}`); }
  try {
    myDb = await createMysqlDatabase('bench');
    cleanups.push(() => myDb!.drop());
  } catch (err) { note(`MySQL/MariaDB at ${myInfo.host}:${myInfo.port} unusable: ${errorLine(err)}`); }

  const pgDirect: Endpoint | undefined = pgDb && { via: 'direct', dialect: 'postgres', ...pgInfo, database: pgDb.name };
  const myDirect: Endpoint | undefined = myDb && { via: 'direct', dialect: 'mysql', ...myInfo, database: myDb.name };

  const needStream = want.has('stream') || want.has('latency');
  const streamRows = want.has('stream') ? opts.streamRows : 100_000;
  const ready = { pgbench: false, sysbench: false, streamPg: false, streamMy: false };
  if (pgDirect && (want.has('pgbench') || want.has('scale')) && tools.pgbench.path) {
    const t = Date.now();
    try { await pgbenchInit(tools.pgbench.path, pgDirect, opts.scale); ready.pgbench = true; progress(`setup: pgbench -i -s ${opts.scale} in ${((Date.now() - t) / 1000).toFixed(1)} s`); }
    catch (err) { note(errorLine(err)); }
  }
  if (myDirect && want.has('sysbench') && tools.sysbench.path) {
    const t = Date.now();
    try { await sysbenchPrepare(tools.sysbench.path, myDirect, opts.sysbenchTables, opts.sysbenchTableSize); ready.sysbench = true; progress(`setup: sysbench prepare ${opts.sysbenchTables}×${opts.sysbenchTableSize} rows in ${((Date.now() - t) / 1000).toFixed(1)} s`); }
    catch (err) { note(errorLine(err)); }
  }
  if (needStream && pgDirect) {
    const t = Date.now();
    try {
      const c = await pgConnect(pgDb!.url);
      try { for (const sql of streamTableSql('postgres', streamRows)) await c.query(sql); } finally { await c.end(); }
      ready.streamPg = true;
      progress(`setup: PostgreSQL ${STREAM_TABLE} ${streamRows} rows in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    } catch (err) { note(`PostgreSQL stream table: ${errorLine(err)}`); }
  }
  if (needStream && myDirect) {
    const t = Date.now();
    try {
      const c = await mysqlConnect(myDb!.url);
      try { for (const sql of streamTableSql('mysql', streamRows)) await c.query(sql); } finally { await c.end(); }
      ready.streamMy = true;
      progress(`setup: MariaDB ${STREAM_TABLE} ${streamRows} rows in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    } catch (err) { note(`MySQL stream table: ${errorLine(err)}`); }
  }

  // --- proxies --------------------------------------------------------------
  const users = {
    plain: { user: 'sgbench', password: randomBytes(12).toString('hex') },
    masked: { user: 'sgbench_masked', password: randomBytes(12).toString('hex') },
  };
  let bouncer: Pgbouncer | undefined;
  if (pgDb && tools.pgbouncer.path && (want.has('pgbench') || want.has('connect') || want.has('idle') || want.has('latency'))) {
    try {
      bouncer = await startPgbouncer({ binary: tools.pgbouncer.path, database: pgDb.name, upstream: pgInfo, client: users.plain });
      cleanups.push(() => bouncer!.stop());
      progress(`setup: PgBouncer (session mode) pid ${bouncer.pid} on 127.0.0.1:${bouncer.port}`);
    } catch (err) { note(`PgBouncer did not start: ${errorLine(err)}`); }
  }
  const pgBouncer: Endpoint | undefined = bouncer && pgDb && { via: 'pgbouncer', dialect: 'postgres', host: '127.0.0.1', port: bouncer.port, ...users.plain, database: pgDb.name, proxyPid: bouncer.pid };

  // The bare Node.js relay, for reference beside sqlgate (8-client figures and latency only).
  const relayFor = async (db: TempDatabase | undefined, info: typeof pgInfo, dialect: 'postgres' | 'mysql'): Promise<Endpoint | undefined> => {
    if (!db) return undefined;
    try {
      const r = await startRelay(info.host, info.port);
      cleanups.push(() => r.stop());
      return { via: 'relay', dialect, ...info, host: '127.0.0.1', port: r.port, database: db.name, proxyPid: r.pid };
    } catch (err) {
      note(`bare Node.js relay (${dialect}) did not start: ${errorLine(err)}`);
      return undefined;
    }
  };
  const pgRelay = want.has('pgbench') || want.has('latency') ? await relayFor(pgDb, pgInfo, 'postgres') : undefined;
  const myRelay = want.has('sysbench') || want.has('latency') ? await relayFor(myDb, myInfo, 'mysql') : undefined;

  let gate: Sqlgate | undefined;
  let sqlgateNa = SQLGATE_NA;
  if (!startCommandPath(distDir)) {
    note('sqlgate start is not built (dist/proxy/cli/commands/start.js missing): sqlgate columns are n/a');
  } else {
    const up = (db: TempDatabase | undefined, info: typeof pgInfo) => db && { ...info, database: db.name };
    const profDir = opts.cpuProf ? join(rootDir, 'bench', 'results', `profiles-${report.started.replace(/[:.]/g, '-')}`) : undefined;
    if (profDir) { mkdirSync(profDir, { recursive: true }); note(`sqlgate runs under --cpu-prof; profiles in ${profDir} after it stops (summary: node dist/bench/profile-summary.js ${profDir})`); }
    gate = await startSqlgate(distDir, up(pgDb, pgInfo), up(myDb, myInfo), users, profDir);
    cleanups.push(() => gate!.stop());
    report.sqlgate = { available: Boolean(gate.pg || gate.mysql), notes: gate.notes };
    for (const n of gate.notes) note(n);
    if (!gate.pg && !gate.mysql) sqlgateNa = 'n/a (sqlgate did not start)';
    progress(`setup: sqlgate ${[gate.pg && `postgres on ${gate.pg.host}:${gate.pg.port} (pid ${gate.pg.pid})`, gate.mysql && `mysql on ${gate.mysql.host}:${gate.mysql.port} (pid ${gate.mysql.pid})`].filter(Boolean).join(', ') || 'not listening'}`);
  }
  const sg = (dialect: 'postgres' | 'mysql', who: 'plain' | 'masked'): Endpoint | undefined => {
    const e = dialect === 'postgres' ? gate?.pg : gate?.mysql;
    const db = dialect === 'postgres' ? pgDb : myDb;
    return e && db && { via: 'sqlgate', dialect, host: e.host, port: e.port, ...users[who], database: db.name, proxyPid: e.pid };
  };
  const pgGate = sg('postgres', 'plain');
  const myGate = sg('mysql', 'plain');
  const naFor = (dialect?: string) => (gate ? `n/a (no sqlgate ${dialect ? `${dialect} ` : ''}listener)` : sqlgateNa);

  const runStart = machineTicks();
  partStart = runStart;

  // --- pgbench ----------------------------------------------------------------
  if (want.has('pgbench')) {
    if (!ready.pgbench || !pgDirect) {
      section('pgbench', `pgbench: n/a (${tools.pgbench.path ? 'set-up failed, see notes' : 'pgbench not installed: apt-get install postgresql-15'})`);
    } else {
      const eps = [pgDirect, pgBouncer, pgGate, pgRelay].filter((e): e is Endpoint => Boolean(e));
      const modes: PgbenchMode[] = ['select-only', 'tpcb'];
      // The reference relay runs the 8-client figures only (the targets'), to keep the run short.
      const epsFor = (clients: number) => eps.filter((e) => e.via !== 'relay' || clients === 8);
      const samples = new Map<string, Sample[]>();
      // Warm-up, not counted: first connections, catalog loads, analysis caches, JIT.
      for (const ep of eps) await pgbenchRound(tools.pgbench.path!, ep, 'select-only', 2, 2, -1);
      progress('pgbench warm-up done (2 s per target, not counted)');
      for (let round = 0; round < opts.rounds; round++) {
        for (const mode of modes) {
          for (const clients of opts.clients) {
            const key = `${mode}/${clients}`;
            const line: string[] = [];
            for (const ep of rotate(epsFor(clients), round)) {
              const s = await pgbenchRound(tools.pgbench.path!, ep, mode, clients, opts.seconds, round);
              (samples.get(key) ?? samples.set(key, []).get(key)!).push(s);
              line.push(sampleText(s, 'tps'));
            }
            progress(`pgbench ${mode} c=${clients} round ${round + 1}/${opts.rounds}: ${line.join(' | ')}`);
          }
        }
      }
      const rows: string[][] = [];
      for (const mode of modes) {
        for (const clients of opts.clients) {
          const all = samples.get(`${mode}/${clients}`) ?? [];
          const s = summarise(all, opts.rounds, ['direct', 'pgbouncer', 'sqlgate', 'relay']);
          report.pgbench.push({ mode, clients, ...s, samples: all });
          rows.push([
            `${mode === 'select-only' ? '-S' : 'TPC-B'} c=${clients}`,
            viaCell(s.value.direct, s.errors.direct, pgDirect, '-'),
            viaCell(s.value.pgbouncer, s.errors.pgbouncer, pgBouncer, 'n/a (no pgbouncer)'),
            viaCell(s.value.sqlgate, s.errors.sqlgate, pgGate, naFor('postgres')),
            ratioCell(s.ratios.pgbouncerVsDirect), ratioCell(s.ratios.sqlgateVsDirect), ratioCell(s.ratios.sqlgateVsPgbouncer),
            fmt(s.cpu.pgbouncer, 1), fmt(s.cpu.sqlgate, 1),
            clients === 8 && pgRelay ? `${viaCell(s.value.relay, s.errors.relay, pgRelay, '-')} ${ratioCell(s.ratios.relayVsPgbouncer)}` : '-',
            clients === 8 && pgRelay ? fmt(s.cpu.relay, 1) : '-',
          ]);
          if (mode === 'select-only' && clients === 8) {
            const ok = Number.isFinite(s.ratios.sqlgateVsPgbouncer.ratio);
            addTarget(TARGETS.pgbenchSvsPgbouncer, s.ratios.sqlgateVsPgbouncer.ratio,
              !pgGate ? naFor('postgres') : ok ? fmtRatio(s.ratios.sqlgateVsPgbouncer.ratio) : `n/a (error: ${(s.errors.sqlgate ?? s.errors.pgbouncer ?? '').slice(0, 100)})`,
              joinNotes(Number.isFinite(s.cpu.sqlgate ?? NaN) ? `CPU/query: sqlgate ${fmt(s.cpu.sqlgate, 1)} µs vs PgBouncer ${fmt(s.cpu.pgbouncer, 1)} µs` : undefined,
                ownWork(s.cpu.sqlgate, s.cpu.relay), relayCeiling(TARGETS.pgbenchSvsPgbouncer, s.ratios.relayVsPgbouncer.ratio, fmtRatio)));
          }
        }
      }
      section('pgbench', `pgbench (tps, median of ${opts.rounds} interleaved ${opts.seconds}-s rounds; ratios: median of per-round ratios [min–max]; CPU: proxy process µs per statement)\n` +
        renderTable(['workload', 'direct', 'pgbouncer', 'sqlgate', 'pgb/direct', 'sqlgate/direct', 'sqlgate/pgb', 'pgb µs/q', 'sqlgate µs/q', 'node relay (relay/pgb)', 'relay µs/q'], rows) +
        '\n(node relay: a bare Node.js TCP pipe, no protocol work, for reference: what the runtime and the hop cost on this machine)');
    }
  }

  // --- sysbench -------------------------------------------------------------
  if (want.has('sysbench')) {
    if (!ready.sysbench || !myDirect) {
      section('sysbench', `sysbench: n/a (${tools.sysbench.path ? 'set-up failed, see notes' : 'sysbench not installed: apt-get install sysbench'})`);
    } else {
      const eps = [myDirect, myGate, myRelay].filter((e): e is Endpoint => Boolean(e));
      const tests: SysbenchTest[] = ['oltp_point_select', 'oltp_read_only'];
      const samples = new Map<string, Sample[]>();
      for (const ep of eps) await sysbenchRound(tools.sysbench.path!, ep, 'oltp_read_only', 2, 2, opts.sysbenchTables, opts.sysbenchTableSize, -1);
      progress('sysbench warm-up done (2 s per target, not counted)');
      for (let round = 0; round < opts.rounds; round++) {
        for (const test of tests) {
          const line: string[] = [];
          for (const ep of rotate(eps, round)) {
            const s = await sysbenchRound(tools.sysbench.path!, ep, test, 8, opts.seconds, opts.sysbenchTables, opts.sysbenchTableSize, round);
            (samples.get(test) ?? samples.set(test, []).get(test)!).push(s);
            line.push(sampleText(s, 'qps'));
          }
          progress(`sysbench ${test} 8 threads round ${round + 1}/${opts.rounds}: ${line.join(' | ')}`);
        }
      }
      const rows: string[][] = [];
      for (const test of tests) {
        const all = samples.get(test) ?? [];
        const s = summarise(all, opts.rounds, ['direct', 'sqlgate', 'relay']);
        report.sysbench.push({ test, threads: 8, ...s, samples: all });
        rows.push([test, viaCell(s.value.direct, s.errors.direct, myDirect, '-'), viaCell(s.value.sqlgate, s.errors.sqlgate, myGate, naFor('mysql')),
          ratioCell(s.ratios.sqlgateVsDirect), fmt(s.cpu.sqlgate, 1),
          myRelay ? `${viaCell(s.value.relay, s.errors.relay, myRelay, '-')} ${ratioCell(s.ratios.relayVsDirect)}` : '-', fmt(s.cpu.relay, 1)]);
        if (test === 'oltp_point_select') {
          const ok = Number.isFinite(s.ratios.sqlgateVsDirect.ratio);
          addTarget(TARGETS.sysbenchPointSelect, s.ratios.sqlgateVsDirect.ratio,
            !myGate ? naFor('mysql') : ok ? fmtRatio(s.ratios.sqlgateVsDirect.ratio) : 'n/a (error)',
            !ok && s.errors.sqlgate ? s.errors.sqlgate.slice(0, 140) : joinNotes(s.cpu.sqlgate !== undefined && Number.isFinite(s.cpu.sqlgate) ? `CPU/query: sqlgate ${fmt(s.cpu.sqlgate, 1)} µs` : undefined,
              ownWork(s.cpu.sqlgate, s.cpu.relay), relayCeiling(TARGETS.sysbenchPointSelect, s.ratios.relayVsDirect.ratio, fmtRatio)));
        }
      }
      section('sysbench', `sysbench, 8 threads, text protocol (queries/s, median of ${opts.rounds} interleaved ${opts.seconds}-s rounds)\n` +
        renderTable(['workload', 'direct', 'sqlgate', 'sqlgate/direct', 'sqlgate µs/q', 'node relay (relay/direct)', 'relay µs/q'], rows) +
        '\n(node relay: a bare Node.js TCP pipe, no protocol work, for reference)');
    }
  }

  // --- latency --------------------------------------------------------------
  if (want.has('latency')) {
    const rows: string[][] = [];
    const added: number[] = [];
    const relayAdded: number[] = [];
    for (const [dialect, direct, viaGate, isReady] of [['postgres', pgDirect, pgGate, ready.streamPg], ['mysql', myDirect, myGate, ready.streamMy]] as const) {
      if (!direct || !isReady) { rows.push([dialect, 'n/a (no database)', '', '', '', '', '', '', '']); continue; }
      const ref = dialect === 'postgres' ? pgBouncer : undefined;
      const relay = dialect === 'postgres' ? pgRelay : myRelay;
      // A hot set of rows (a few heap pages, warm after the first queries): the figure is the hop, not disk reads.
      const r = await pointSelectLatency([direct, viaGate, ref, relay].filter((e): e is Endpoint => Boolean(e)), STREAM_TABLE, Math.min(streamRows, 2000), opts.latencyQueries);
      report.latency[dialect] = r;
      const d = r.direct && 'p50' in r.direct ? r.direct : undefined;
      const g = r.sqlgate && 'p50' in r.sqlgate ? r.sqlgate : undefined;
      const b = r.pgbouncer && 'p50' in r.pgbouncer ? r.pgbouncer : undefined;
      const n = r.relay && 'p50' in r.relay ? r.relay : undefined;
      const gErr = r.sqlgate && 'error' in r.sqlgate ? `error: ${r.sqlgate.error.slice(0, 60)}` : undefined;
      const addP50 = d && g ? g.p50 - d.p50 : undefined;
      const addP99 = d && g ? g.p99 - d.p99 : undefined;
      if (addP50 !== undefined) added.push(addP50);
      if (n && d) relayAdded.push(n.p50 - d.p50);
      rows.push([dialect, fmt(d?.p50, 0), fmt(d?.p99, 0), viaGate ? gErr ?? fmt(g?.p50, 0) : naFor(dialect), g ? fmt(g.p99, 0) : '-', fmt(addP50, 0), fmt(addP99, 0),
        b && d ? fmt(b.p50 - d.p50, 0) : '-', n && d ? fmt(n.p50 - d.p50, 0) : '-']);
      progress(`latency ${dialect}: direct p50 ${fmt(d?.p50, 0)} µs${g ? `, sqlgate p50 ${fmt(g.p50, 0)} µs` : ''}`);
    }
    addTarget(TARGETS.addedLatencyP50, added.length ? Math.max(...added) : undefined,
      added.length ? `${fmt(Math.max(...added), 0)} µs (worse dialect)` : naFor(),
      relayCeiling(TARGETS.addedLatencyP50, relayAdded.length ? Math.max(...relayAdded) : undefined, (v) => `${fmt(v, 0)} µs (worse dialect)`));
    section('latency', `point SELECT latency, one client, ${opts.latencyQueries} queries per endpoint in alternating batches (µs)\n` +
      renderTable(['dialect', 'direct p50', 'direct p99', 'sqlgate p50', 'sqlgate p99', 'added p50', 'added p99', 'PgBouncer added p50', 'node relay added p50'], rows) +
      '\n(PgBouncer / node relay added p50: what one proxy hop in between costs on this machine, for reference)');
  }

  // --- streaming ------------------------------------------------------------
  if (want.has('stream')) {
    const rows: string[][] = [];
    const ratios = { plain: [] as number[], masked: [] as number[] };
    const maskNotes: string[] = [];
    /** Why a sqlgate stream produced no figure, per kind, for the target line. */
    const streamErrors: Record<'plain' | 'masked', string[]> = { plain: [], masked: [] };
    for (const [dialect, direct, isReady] of [['postgres', pgDirect, ready.streamPg], ['mysql', myDirect, ready.streamMy]] as const) {
      if (!direct || !isReady) { rows.push([dialect, 'n/a (no database)', '', '', '', '', '', '']); continue; }
      const plain = sg(dialect, 'plain');
      const masked = sg(dialect, 'masked');
      const eps = [direct, plain, masked].filter((e): e is Endpoint => Boolean(e));
      const runs: { kind: string; round: number; run: StreamRun }[] = [];
      const streamRounds = opts.streamRounds;
      // Warm-up, not counted: the first large result through a fresh process pays its JIT and
      // heap growth (seen as +1–2 µs/row on a cold sqlgate), and the server's caches fill.
      for (const ep of eps) await streamOnce(ep, Math.min(streamRows, 100_000));
      progress(`stream ${dialect} warm-up done (${fmt(Math.min(streamRows, 100_000))} rows per endpoint, not counted)`);
      for (let round = 0; round < streamRounds; round++) {
        const line: string[] = [];
        for (const ep of rotate(eps, round)) {
          const kind = ep.via === 'direct' ? 'direct' : ep.user === users.masked.user ? 'masked' : 'plain';
          const r = await streamOnce(ep);
          runs.push({ kind, round, run: r });
          line.push(r.error ? `${kind} error: ${r.error}` : `${kind} ${fmt(r.rowsPerSec)} rows/s`);
        }
        progress(`stream ${dialect} round ${round + 1}/${streamRounds}: ${line.join(' | ')}`);
      }
      const per = (kind: string) => runs.filter((x) => x.kind === kind);
      const aligned = (kind: string) => Array.from({ length: streamRounds }, (_, i) => per(kind).find((x) => x.round === i)?.run.rowsPerSec);
      const rPlain = medianRatio(aligned('plain'), aligned('direct'));
      const rMasked = medianRatio(aligned('masked'), aligned('direct'));
      if (Number.isFinite(rPlain.ratio)) ratios.plain.push(rPlain.ratio);
      if (Number.isFinite(rMasked.ratio)) ratios.masked.push(rMasked.ratio);
      const maskedRuns = per('masked').filter((x) => x.run.masked !== undefined);
      const enforced = maskedRuns.length ? maskedRuns.every((x) => x.run.masked) : undefined;
      const plainMaskedWrongly = per('plain').some((x) => x.run.masked);
      if (enforced === false) maskNotes.push(`${dialect}: masking NOT enforced yet (c3 came back in clear for the masked user); the masked figure measures an unmasked stream`);
      if (plainMaskedWrongly) maskNotes.push(`${dialect}: the unmasked user received a masked c3`);
      const errOf = (kind: string) => per(kind).find((x) => x.run.error)?.run.error;
      for (const k of ['plain', 'masked'] as const) {
        const e = errOf(k);
        if (e && !per(k).some((x) => x.run.rowsPerSec !== undefined)) streamErrors[k].push(`${dialect}: ${e}`);
      }
      const cell = (kind: string, ep: Endpoint | undefined) => {
        if (!ep) return naFor(dialect);
        const v = median(per(kind).map((x) => x.run.rowsPerSec ?? NaN));
        return Number.isFinite(v) ? fmt(v) : `error: ${(errOf(kind) ?? '').slice(0, 60)}`;
      };
      report.stream[dialect] = { rows: streamRows, runs, ratioPlain: rPlain, ratioMasked: rMasked, maskingEnforced: enforced };
      rows.push([dialect, cell('direct', direct), cell('plain', plain), cell('masked', masked), ratioCell(rPlain), ratioCell(rMasked),
        fmt(median(per('plain').map((x) => x.run.proxyCpuUsPerRow ?? NaN)), 2),
        enforced === undefined ? '-' : enforced ? 'yes' : 'NO']);
    }
    const worse = (xs: number[]) => (xs.length ? Math.min(...xs) : undefined);
    const noFigure = (k: 'plain' | 'masked') => (streamErrors[k].length ? 'n/a (error)' : naFor());
    const errNote = (k: 'plain' | 'masked') => streamErrors[k].map((e) => e.slice(0, 120));
    addTarget(TARGETS.streamUnmasked, worse(ratios.plain), ratios.plain.length ? `${fmtRatio(worse(ratios.plain))} (worse dialect)` : noFigure('plain'),
      errNote('plain').join('; ') || undefined);
    addTarget(TARGETS.streamMasked, worse(ratios.masked), ratios.masked.length ? `${fmtRatio(worse(ratios.masked))} (worse dialect)` : noFigure('masked'),
      [...(maskNotes.some((n) => n.includes('NOT enforced')) ? ['masking not enforced yet'] : []), ...errNote('masked')].join('; ') || undefined);
    section('stream', `streaming ${streamRows.toLocaleString('en-US')} rows × 10 columns (rows/s, median of interleaved rounds)\n` +
      renderTable(['dialect', 'direct', 'sqlgate', 'sqlgate masked', 'plain/direct', 'masked/direct', 'sqlgate µs/row', 'mask applied'], rows) +
      (maskNotes.length ? '\n' + maskNotes.map((n) => `note: ${n}`).join('\n') : ''));
  }

  // --- connection setup rate ------------------------------------------------
  if (want.has('connect')) {
    const eps = [pgDirect, pgBouncer, pgGate, myDirect, myGate].filter((e): e is Endpoint => Boolean(e));
    const samples = new Map<Endpoint, Sample[]>();
    for (let round = 0; round < opts.connectRounds; round++) {
      const line: string[] = [];
      for (const ep of rotate(eps, round)) {
        const s = await connectRound(ep, opts.connectSeconds, 4, round);
        (samples.get(ep) ?? samples.set(ep, []).get(ep)!).push(s);
        line.push(`${ep.dialect}/${sampleText(s, 'conn/s')}`);
      }
      progress(`connect round ${round + 1}/${opts.connectRounds}: ${line.join(' | ')}`);
    }
    const rows: string[][] = [];
    for (const [dialect, vias] of [['postgres', ['direct', 'pgbouncer', 'sqlgate']], ['mysql', ['direct', 'sqlgate']]] as const) {
      for (const via of vias) {
        const ep = eps.find((e) => e.dialect === dialect && e.via === via);
        const all = ep ? samples.get(ep) ?? [] : [];
        const v = median(all.map((s) => s.value ?? NaN));
        const err = all.find((s) => s.error)?.error;
        report.connect.push({ dialect, via, connPerSec: v, proxyCpuUsPerConn: median(all.map((s) => s.proxyCpuUs ?? NaN)), samples: all });
        rows.push([`${dialect} ${via}`, ep ? (Number.isFinite(v) ? fmt(v) : `error: ${(err ?? '').slice(0, 60)}`) : via === 'sqlgate' ? naFor(dialect) : 'n/a',
          fmt(median(all.map((s) => s.proxyCpuUs ?? NaN)), 0)]);
      }
    }
    section('connect', `connection setup rate (connect + log in + close, 4 in parallel, ${opts.connectSeconds}-s rounds, median)\n` +
      renderTable(['endpoint', 'conn/s', 'proxy µs/conn'], rows));
  }

  // --- idle connection memory ---------------------------------------------
  if (want.has('idle')) {
    const pgServer = pgConnections(pgUrl());
    const myServer = myConnections(mysqlUrl());
    const rows: string[][] = [];
    const sgFigures: number[] = [];
    const idleNotes: string[] = [];
    for (const [label, ep, server] of [['postgres pgbouncer', pgBouncer, pgServer], ['postgres sqlgate', pgGate, pgServer], ['mysql sqlgate', myGate, myServer]] as const) {
      if (!ep) { rows.push([label, label.includes('sqlgate') ? naFor(label.split(' ')[0]) : 'n/a', '', '', '']); continue; }
      let r = await idleMemory(ep, opts.idle, server);
      if (label.includes('sqlgate') && opts.idleServers && (r.cappedBy || (r.upstreamPerClient && (r.opened ?? 0) < opts.idle))) {
        progress(`idle ${label}: one upstream connection per client, stopped at ${r.opened} on the shared server; retrying on a throw-away server with max_connections ${opts.idle + 100}`);
        report.idle[`${label} (shared server, capped)`] = r;
        r = await idleOnThrowaway(ep.dialect, opts.idle, users);
      }
      report.idle[label] = r;
      if (label.includes('sqlgate') && r.kbPerConnection !== undefined && r.reliable) sgFigures.push(r.kbPerConnection);
      if (label.includes('sqlgate') && r.kbPerConnection !== undefined && !r.reliable) idleNotes.push(`${label}: only ${r.opened} connections, too few for a figure (need ${MIN_RELIABLE})`);
      progress(`idle ${label}: ${r.opened ?? 0}/${r.requested} connections, ${fmt(r.kbPerConnection, 1)} KB each${r.cappedBy ? ` (capped by ${r.cappedBy})` : ''}${r.error ? `; ${r.error}` : ''}`);
      rows.push([label, `${r.opened ?? 0}/${r.requested}`, fmt(r.kbPerConnection, 1), `${fmt(r.rssBeforeMb, 1)} → ${fmt(r.rssAfterMb, 1)}`,
        [r.server ?? '', r.cappedBy ? `capped: ${r.cappedBy}` : '', r.error ?? ''].filter(Boolean).join('; ')]);
    }
    addTarget(TARGETS.idleRss, sgFigures.length ? Math.max(...sgFigures) : undefined,
      sgFigures.length ? `${fmt(Math.max(...sgFigures), 1)} KB (worse dialect)` : gate ? 'n/a (no reliable figure)' : sqlgateNa, idleNotes.join('; ') || undefined);
    section('idle', `memory per idle client connection (proxy RSS delta / connections opened)\n` +
      renderTable(['proxy', 'open/asked', 'KB/conn', 'RSS MB', 'note'], rows));
  }

  // --- scale-out: sqlgate start --workers 2 ---------------------------------
  if (want.has('scale')) {
    const workers = 2;
    const title = `scale-out: pgbench -S, 8 clients, one sqlgate process vs \`sqlgate start --workers ${workers}\` (same policy, same control store)`;
    if (!ready.pgbench || !pgGate || !gate || !pgDb) {
      section('scale', `${title}: n/a (${!ready.pgbench ? 'pgbench set-up failed or not installed' : naFor('postgres')})`);
    } else {
      let clustered: Awaited<ReturnType<typeof startCluster>> | undefined;
      try {
        clustered = await startCluster(distDir, gate.dir, { ...pgInfo, database: pgDb.name }, users, workers);
        cleanups.push(() => clustered!.stop());
      } catch (err) { note(`sqlgate --workers ${workers} did not start: ${errorLine(err)}`); }
      if (!clustered) {
        section('scale', `${title}: n/a (the cluster did not start)`);
      } else {
        const cl: Endpoint = { ...pgGate, port: clustered.endpoint.port, proxyPid: clustered.endpoint.pid };
        await pgbenchRound(tools.pgbench.path!, cl, 'select-only', 2, 2, -1);
        const ones: Sample[] = [];
        const many: Sample[] = [];
        for (let round = 0; round < opts.rounds; round++) {
          for (const ep of rotate([pgGate, cl], round)) {
            const s = await pgbenchRound(tools.pgbench.path!, ep, 'select-only', 8, opts.seconds, round);
            (ep === cl ? many : ones).push(s);
          }
          progress(`scale-out round ${round + 1}/${opts.rounds}: one process ${sampleText(ones[round], 'tps')} | ${workers} workers ${sampleText(many[round], 'tps')}`);
        }
        const values = (xs: Sample[]) => xs.map((x) => x.value);
        const ratio = medianRatio(values(many), values(ones));
        const med = (xs: (number | undefined)[]) => median(xs.filter((x): x is number => x !== undefined));
        report.scale = { workers, one: ones, cluster: many, ratio };
        section('scale', `${title}\n` + renderTable(['one process tps', `${workers} workers tps`, `${workers} workers / one`, 'one process µs/q', `${workers} workers µs/q`], [[
          fmt(med(values(ones))), fmt(med(values(many))), ratioCell(ratio),
          fmt(med(ones.map((x) => x.proxyCpuUs)), 1), fmt(med(many.map((x) => x.proxyCpuUs)), 1),
        ]]) + `\n(${cpus().length} CPUs shared with PostgreSQL and pgbench; µs/q of the workers includes the primary, which hands out connections)`);
      }
    }
  }

  // --- governance decision cost ---------------------------------------------
  if (want.has('governance')) {
    const d = await decisionCost(distDir);
    report.decision = d;
    if (!d.available || !d.figures) {
      section('governance', `governance decision cost: n/a (${d.error ?? 'no figures'})` + (d.text ? `; its output:\n${d.text}` : ''));
      for (const t of [TARGETS.decisionCached, TARGETS.decisionUncachedPg, TARGETS.decisionUncachedMysql]) addTarget(t, undefined, `n/a (${!d.available ? 'bench/governance not merged' : d.text ? 'printed as text, see above' : 'bench/governance failed'})`);
    } else {
      const rows = Object.entries(d.figures).map(([k, v]) => [k, fmt(v)]);
      section('governance', `governance decision cost (from dist/bench/governance.js; targets judged on the worse dialect and the worse of early and warm misses, CPU time where printed)\n` + renderTable(['figure', 'value'], rows));
      const f = decisionTargetFigures(d.figures);
      const show = (v: number | undefined) => (v === undefined ? 'n/a (no figure named for it)' : `${fmt(v, 2)} µs`);
      addTarget(TARGETS.decisionCached, f.cached, show(f.cached));
      addTarget(TARGETS.decisionUncachedPg, f.uncachedPg, show(f.uncachedPg));
      addTarget(TARGETS.decisionUncachedMysql, f.uncachedMysql, show(f.uncachedMysql));
    }
  }

  // --- report -----------------------------------------------------------------
  report.finished = new Date().toISOString();
  report.seconds = Math.round((Date.now() - t0) / 1000);
  report.machine.loadavgAtEnd = loadavg();
  const runSteal = stealShare(runStart, machineTicks());
  report.machine.steal = { run: runSteal === undefined ? undefined : +runSteal.toFixed(3), parts: stealByPart };
  if (runSteal !== undefined && runSteal >= STEAL_WORTH_A_NOTE) {
    note(`the hypervisor gave ${percent(runSteal)} of this machine's CPU time to other guests during the run (steal, /proc/stat): `
      + 'absolute figures (tps, rows/s, µs) are lower and noisier than the same code gives on a quiet machine; compare the ratios within one run');
  }
  report.targets = targetLines.map((t) => ({ id: t.target.id, text: t.target.text, value: t.value, verdict: t.verdict, note: t.note }));
  const targetTable = renderTable(['target (issue 7)', 'figure', 'verdict', 'note'],
    targetLines.map((t) => [t.target.text, t.shown, t.verdict, t.note ?? '']));
  log('\n' + '='.repeat(78));
  log(`sqlgate bench, ${report.started}, ${report.machine.cpus} × ${report.machine.cpuModel}, load at start ${(report.machine.loadavgAtStart as number[]).map((x) => x.toFixed(1)).join(' ')}${runSteal === undefined ? '' : `, CPU steal over the run ${percent(runSteal)}`}`);
  log(`masked column: ${MASKED.table}.${MASKED.column}; figures on a shared machine are noisy: read the ratios and the CPU per query.`);
  for (const s of sections) log('\n' + s);
  if (targetLines.length) log('\n' + targetTable);
  if (report.notes.length) log('\nnotes:\n' + report.notes.map((n) => `- ${n}`).join('\n'));
  const dir = join(rootDir, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `bench-${report.started.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(dir, 'latest.txt'), sections.join('\n\n') + '\n\n' + targetTable + '\n');
  log(`\nresults: ${file} (${report.seconds} s)`);
  return 0;
}

/** Server-side connection counts over an admin connection to `url`. */
function pgConnections(url: string): ServerConnections {
  return {
    async count() { const c = await pgConnect(url); try { return Number((await c.query('SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = $1', ['client backend'])).rows[0].n); } finally { await c.end(); } },
    async max() { const c = await pgConnect(url); try { return Number((await c.query('SHOW max_connections')).rows[0].max_connections); } finally { await c.end(); } },
  };
}

function myConnections(url: string): ServerConnections {
  return {
    async count() { const c = await mysqlConnect(url); try { const [r] = await c.query('SELECT count(*) AS n FROM information_schema.processlist'); return Number((r as { n: number }[])[0].n); } finally { await c.end(); } },
    async max() { const c = await mysqlConnect(url); try { const [r] = await c.query('SELECT @@max_connections AS n'); return Number((r as { n: number }[])[0].n); } finally { await c.end(); } },
  };
}

/**
 * The idle figure on a throw-away server that allows `idle` + 100
 * connections, through a second sqlgate process fronting only it.
 */
async function idleOnThrowaway(dialect: 'postgres' | 'mysql', idle: number, users: BenchUsers): Promise<IdleResult> {
  let server: IdleServer | undefined;
  let gate2: Sqlgate | undefined;
  try {
    server = dialect === 'postgres' ? await startIdlePostgres(idle + 100) : await startIdleMariadb(idle + 100);
    const up = { host: server.host, port: server.port, user: server.user, password: '', database: server.database };
    gate2 = await startSqlgate(distDir, dialect === 'postgres' ? up : undefined, dialect === 'mysql' ? up : undefined, users);
    const e = dialect === 'postgres' ? gate2.pg : gate2.mysql;
    if (!e) return { requested: idle, error: `sqlgate did not start on the throw-away server: ${gate2.notes.join('; ')}` };
    const ep: Endpoint = { via: 'sqlgate', dialect, host: e.host, port: e.port, ...users.plain, database: server.database, proxyPid: e.pid };
    const url = dialect === 'postgres' ? `postgres://postgres@${server.host}:${server.port}/postgres` : `mysql://root@${server.host}:${server.port}/test`;
    const r = await idleMemory(ep, idle, dialect === 'postgres' ? pgConnections(url) : myConnections(url));
    return { ...r, server: `throw-away ${dialect === 'postgres' ? 'PostgreSQL' : 'MariaDB'}, max_connections ${idle + 100}` };
  } catch (err) {
    return { requested: idle, error: `throw-away server: ${errorLine(err)}` };
  } finally {
    await gate2?.stop().catch(() => undefined);
    await server?.stop().catch(() => undefined);
  }
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error(`bench: ${(err as Error).stack ?? err}`);
} finally {
  await cleanup();
}
process.exit(code);
