/**
 * What a `.cpuprofile` (node --cpu-prof, as `npm run bench -- --cpu-prof`
 * writes them) says, in a terminal: the functions with the most time of
 * their own, and the functions and files with the most time in themselves
 * and what they call. A flame graph shows the same, but needs a browser.
 * Idle samples are left out of the total, so shares are of busy time.
 *
 * Run: node dist/bench/profile-summary.js <file.cpuprofile | directory> [--top N]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { renderTable } from './table.js';

/** The parts of V8's profile format (Profiler.Profile) read here. */
export interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
    readonly children?: readonly number[];
  }[];
  readonly samples: readonly number[];
  /** Microseconds since the previous sample; the first since the profile's start. */
  readonly timeDeltas: readonly number[];
}

export interface Share {
  readonly name: string;
  readonly ms: number;
  /** Of the busy (non-idle) time. */
  readonly share: number;
}

export interface ProfileSummary {
  readonly busyMs: number;
  readonly idleMs: number;
  readonly self: readonly Share[];
  readonly inclusive: readonly Share[];
  readonly files: readonly Share[];
}

const IDLE = '(idle)';

/** `name file:line`, with the path cut to what tells the file apart. */
function where(url: string): string {
  if (!url) return '';
  const m = /\/(?:dist|node_modules)\/(.+)$/.exec(url);
  return m ? m[1] : url.replace(/^file:\/\//, '');
}

function label(frame: CpuProfile['nodes'][number]['callFrame']): string {
  const file = where(frame.url);
  const name = frame.functionName || '(anonymous)';
  return file ? `${name} ${file}:${frame.lineNumber + 1}` : name;
}

function top(map: Map<string, number>, busy: number, n: number): Share[] {
  return [...map].sort((a, b) => b[1] - a[1]).slice(0, n)
    .map(([name, us]) => ({ name, ms: us / 1000, share: busy > 0 ? us / busy : 0 }));
}

/**
 * Self time per function, inclusive time per function and per file (each
 * sample counted once per function or file on its stack, so recursion does
 * not count twice).
 */
export function summarize(profile: CpuProfile, n = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  const parent = new Map<number, number>();
  for (const x of profile.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const timeOf = new Map<number, number>();
  profile.samples.forEach((id, i) => timeOf.set(id, (timeOf.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const files = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of timeOf) {
    const leaf = byId.get(id);
    if (!leaf) continue;
    if (leaf.callFrame.functionName === IDLE) { idle += us; continue; }
    busy += us;
    const key = label(leaf.callFrame);
    self.set(key, (self.get(key) ?? 0) + us);
    const seen = new Set<string>();
    const seenFiles = new Set<string>();
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const frame = byId.get(x)!.callFrame;
      if (frame.functionName === '(root)') continue;
      const k = label(frame);
      if (!seen.has(k)) { seen.add(k); inclusive.set(k, (inclusive.get(k) ?? 0) + us); }
      const f = where(frame.url) || frame.functionName;
      if (!seenFiles.has(f)) { seenFiles.add(f); files.set(f, (files.get(f) ?? 0) + us); }
    }
  }
  return { busyMs: busy / 1000, idleMs: idle / 1000, self: top(self, busy, n), inclusive: top(inclusive, busy, n), files: top(files, busy, n) };
}

/** The summary as text tables. */
export function renderSummary(title: string, s: ProfileSummary): string {
  const rows = (xs: readonly Share[]) => xs.map((x) => [`${(x.share * 100).toFixed(1)}%`, x.ms.toFixed(0), x.name]);
  return [
    `${title}: ${s.busyMs.toFixed(0)} ms busy, ${s.idleMs.toFixed(0)} ms idle; shares are of the busy time`,
    'own time (self)\n' + renderTable(['share', 'ms', 'function'], rows(s.self)),
    'with what it calls (inclusive)\n' + renderTable(['share', 'ms', 'function'], rows(s.inclusive)),
    'by file (inclusive)\n' + renderTable(['share', 'ms', 'file'], rows(s.files)),
  ].join('\n\n');
}

function profilesIn(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).filter((f) => f.endsWith('.cpuprofile')).sort().map((f) => join(path, f));
}

function main(argv: readonly string[]): number {
  const i = argv.indexOf('--top');
  const n = i >= 0 ? Number(argv[i + 1]) : 25;
  const paths = argv.filter((a, j) => a !== '--top' && (i < 0 || j !== i + 1));
  if (paths.length === 0 || !Number.isInteger(n) || n <= 0) {
    console.error('usage: node dist/bench/profile-summary.js <file.cpuprofile | directory> [--top N]');
    return 2;
  }
  const files = paths.flatMap(profilesIn);
  if (files.length === 0) { console.error(`no .cpuprofile files in ${paths.join(', ')}`); return 1; }
  for (const f of files) console.log(renderSummary(f, summarize(JSON.parse(readFileSync(f, 'utf8')) as CpuProfile, n)) + '\n');
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = main(process.argv.slice(2));
