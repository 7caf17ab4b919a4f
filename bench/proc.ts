/**
 * Process accounting from /proc (proc(5)): CPU time (utime + stime, in clock
 * ticks) and resident memory of a process we started. CPU time per query is
 * the figure that stays stable on a shared machine, where throughput does not.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticks: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`), 100 on Linux when unknown. */
export function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/**
 * utime + stime in clock ticks from the text of /proc/PID/stat. The second
 * field (comm) is in parentheses and may itself hold spaces or ')', so fields
 * are counted from the last ')'.
 */
export function parseStatCpuTicks(stat: string): number {
  const end = stat.lastIndexOf(')');
  if (end < 0) throw new Error('malformed /proc/PID/stat: no comm field');
  // After ") ": field 3 (state) is index 0, so utime (14) is index 11, stime (15) index 12.
  const rest = stat.slice(end + 2).trim().split(/\s+/);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('malformed /proc/PID/stat: utime/stime');
  return utime + stime;
}

/** VmRSS in bytes from the text of /proc/PID/status. */
export function parseStatusRssBytes(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error('no VmRSS in /proc/PID/status');
  return Number(m[1]) * 1024;
}

/** CPU seconds (user + system) a live process has used so far. */
export function cpuSeconds(pid: number): number {
  return parseStatCpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) / clockTicks();
}

/** Resident set size of a live process, in bytes. */
export function rssBytes(pid: number): number {
  return parseStatusRssBytes(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

/** Live child processes of `pid` (a `sqlgate start --workers N` primary's workers). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Field 4 (ppid) comes after the parenthesised command name, which may hold spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch { /* gone meanwhile */ }
  }
  return out;
}

/**
 * CPU seconds of a process and its live children (the proxy's whole cost,
 * whether it is one process or a primary with workers), or undefined when the
 * process is gone or not ours to read.
 */
export function tryCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    let total = cpuSeconds(pid);
    for (const c of childPids(pid)) {
      try { total += cpuSeconds(c); } catch { /* gone meanwhile */ }
    }
    return total;
  } catch { return undefined; }
}

/** Machine-wide CPU time (all CPUs, clock ticks) from /proc/stat, and the part the hypervisor stole. */
export interface MachineTicks {
  readonly total: number;
  readonly steal: number;
}

/**
 * The aggregate `cpu` line of /proc/stat (proc(5)): user nice system idle
 * iowait irq softirq steal [guest guest_nice]. guest time is already counted
 * in user, so it is left out of the total. Kernels before 2.6.11 have no
 * steal column; it reads as 0.
 */
export function parseProcStat(text: string): MachineTicks {
  const line = /^cpu\s+([\d ]+)$/m.exec(text);
  if (!line) throw new Error('no aggregate cpu line in /proc/stat');
  const f = line[1].trim().split(/\s+/).map(Number);
  if (f.length < 4 || f.some((x) => !Number.isFinite(x))) throw new Error('malformed cpu line in /proc/stat');
  const steal = f[7] ?? 0;
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { total, steal };
}

/** This machine's CPU ticks now, or undefined where /proc/stat cannot be read. */
export function machineTicks(): MachineTicks | undefined {
  try {
    return parseProcStat(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Share of the machine's CPU time between two readings that the hypervisor
 * gave to other guests (steal): time this machine's CPUs wanted to run and
 * could not. Undefined without two readings or when no time passed.
 */
export function stealShare(from: MachineTicks | undefined, to: MachineTicks | undefined): number | undefined {
  if (!from || !to) return undefined;
  const total = to.total - from.total;
  if (total <= 0) return undefined;
  return Math.max(0, to.steal - from.steal) / total;
}
