/**
 * Governance decision cost, measured by bench/governance.ts (another
 * module's micro-benchmark). It is run as a child (`node
 * dist/bench/governance.js`, with BENCH_JSON=1 in its environment and no
 * arguments, so that its own argument parsing is left alone) so that its
 * set-up cannot disturb this process. Its figures are taken from the JSON it
 * prints (the whole output or its last JSON line) and flattened to
 * `path.to.figure: number`; or from the table it prints (`parseTextTable`);
 * otherwise the text is shown.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { errorLine } from '../endpoints.js';
import { run } from '../procs.js';

/** Flattened figures, or why there are none. */
export interface DecisionFigures {
  readonly available: boolean;
  readonly figures?: Record<string, number>;
  readonly raw?: unknown;
  readonly text?: string;
  readonly error?: string;
}

/** Finds the JSON document in a child's output: all of it, or the last line that parses. */
export function extractJson(out: string): unknown {
  const whole = out.trim();
  try { return JSON.parse(whole); } catch { /* look for a line */ }
  const lines = whole.split('\n').reverse();
  for (const l of lines) {
    const t = l.trim();
    if (!t.startsWith('{') && !t.startsWith('[')) continue;
    try { return JSON.parse(t); } catch { /* next */ }
  }
  return undefined;
}

/**
 * Figures from a printed table: a header line naming a `dialect` column,
 * cells separated by two or more spaces, a dashed rule under the header.
 * Each numeric cell becomes `<dialect>.<row label>.<column header>`, the row
 * label being the first non-dialect text cell.
 */
export function parseTextTable(out: string): Record<string, number> | undefined {
  const lines = out.split('\n').map((l) => l.trimEnd());
  const h = lines.findIndex((l) => /^dialect\s{2,}/i.test(l.trim()));
  if (h < 0) return undefined;
  const head = lines[h].trim().split(/\s{2,}/);
  const figures: Record<string, number> = {};
  for (const line of lines.slice(h + 1)) {
    if (!line.trim() || /^[-\s]+$/.test(line)) continue;
    const cells = line.trim().split(/\s{2,}/);
    if (cells.length !== head.length) continue;
    const label = cells.slice(1).find((c) => !/^[-+]?[\d.,]+$/.test(c)) ?? '';
    cells.forEach((c, i) => {
      const n = Number(c.replace(/,/g, ''));
      if (i > 0 && c !== '' && Number.isFinite(n)) figures[[cells[0], label, head[i]].filter(Boolean).join('.')] = n;
    });
  }
  return Object.keys(figures).length ? figures : undefined;
}

/** `{a: {b: 1}}` → `{'a.b': 1}`; only finite numbers are kept. */
export function flatten(v: unknown, prefix = '', out: Record<string, number> = {}): Record<string, number> {
  if (typeof v === 'number' && Number.isFinite(v)) out[prefix || 'value'] = v;
  else if (Array.isArray(v)) v.forEach((x, i) => {
    const key = x && typeof x === 'object' && 'name' in x ? String((x as { name: unknown }).name) : String(i);
    flatten(x, prefix ? `${prefix}.${key}` : key, out);
  });
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  return out;
}

/**
 * Which target a flattened figure speaks to, from its name: cached ("hit",
 * "cached") vs uncached ("miss", "uncached", "cold"), and the dialect. Only
 * figures in microseconds ("us", "µs", "micro") or nanoseconds ("ns") qualify;
 * the value is returned in µs.
 */
export function classifyDecisionFigure(name: string, value: number): { kind: 'cached' | 'uncached'; dialect?: 'postgres' | 'mysql'; us: number } | undefined {
  const n = name.toLowerCase();
  const unitUs = /(^|[^a-z])(us|µs|micro)/.test(n) ? 1 : /(^|[^a-z])ns/.test(n) ? 0.001 : undefined;
  if (unitUs === undefined) return undefined;
  if (/p99|p95|max|min|count|samples|iterations|ops/.test(n)) return undefined;
  const kind = /uncached|miss|cold/.test(n) ? 'uncached' : /cached|hit|warm/.test(n) ? 'cached' : undefined;
  if (!kind) return undefined;
  const dialect = /postgres|(^|[^a-z])pg([^a-z]|$)/.test(n) ? 'postgres' : /mysql|maria/.test(n) ? 'mysql' : undefined;
  return { kind, dialect, us: value * unitUs };
}

/**
 * The figures the three decision targets are judged on: for each, the worst
 * (largest) figure that speaks to it, CPU time preferred to wall time when
 * both are printed (it is the stable one on a shared machine). Several miss
 * figures of a dialect (early and warm, say) are judged on the worse.
 */
export function decisionTargetFigures(figures: Record<string, number>): { cached?: number; uncachedPg?: number; uncachedMysql?: number } {
  const classified = Object.entries(figures).map(([k, v]) => ({ k, c: classifyDecisionFigure(k, v) })).filter((x) => x.c);
  const pick = (kind: 'cached' | 'uncached', dialect?: 'postgres' | 'mysql') => {
    let xs = classified.filter((x) => x.c!.kind === kind && (!dialect || x.c!.dialect === dialect || x.c!.dialect === undefined));
    if (xs.some((x) => /cpu/i.test(x.k))) xs = xs.filter((x) => /cpu/i.test(x.k));
    return xs.length ? Math.max(...xs.map((x) => x.c!.us)) : undefined;
  };
  return { cached: pick('cached'), uncachedPg: pick('uncached', 'postgres'), uncachedMysql: pick('uncached', 'mysql') };
}

/** Runs dist/bench/governance.js when it exists. */
export async function decisionCost(distDir: string): Promise<DecisionFigures> {
  const script = join(distDir, 'bench', 'governance.js');
  if (!existsSync(script)) return { available: false, error: 'dist/bench/governance.js not there (not merged yet)' };
  try {
    const r = await run(process.execPath, [script], { timeoutMs: 240_000, env: { ...process.env, BENCH_JSON: '1' } });
    const raw = extractJson(r.stdout);
    if (r.code !== 0) return { available: true, error: `exit ${r.code}: ${errorLine(r.stderr || r.stdout)}`, raw };
    if (raw === undefined) {
      const table = parseTextTable(r.stdout);
      if (table) return { available: true, figures: table, text: r.stdout.trim().slice(-4000) };
      return { available: true, text: r.stdout.trim().slice(-4000), error: 'printed neither JSON nor a table' };
    }
    return { available: true, raw, figures: flatten(raw) };
  } catch (err) {
    return { available: true, error: errorLine(err) };
  }
}
