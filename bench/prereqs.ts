/**
 * The external programs the bench drives. It installs nothing: it names the
 * Debian packages that are missing and how to get them (bench/setup.sh).
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** One program the bench needs, and where it comes from. */
export interface Tool {
  readonly name: 'pgbench' | 'pgbouncer' | 'sysbench';
  readonly debianPackage: string;
  /** Absolute path when found. */
  readonly path?: string;
}

function onPath(cmd: string, extra: readonly string[] = []): string | undefined {
  const dirs = [...extra, ...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin'];
  for (const d of dirs) {
    const p = join(d, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch { /* next */ }
  }
  return undefined;
}

/** Finds pgbench, pgbouncer and sysbench. */
export function findTools(): Record<Tool['name'], Tool> {
  return {
    pgbench: { name: 'pgbench', debianPackage: 'postgresql-15', path: onPath('pgbench', ['/usr/lib/postgresql/15/bin']) },
    pgbouncer: { name: 'pgbouncer', debianPackage: 'pgbouncer', path: onPath('pgbouncer') },
    sysbench: { name: 'sysbench', debianPackage: 'sysbench', path: onPath('sysbench') },
  };
}

/** Lines telling what is missing and how to install it; empty when all are there. */
export function missingToolsAdvice(tools: Record<string, Tool>): string[] {
  const missing = Object.values(tools).filter((t) => !t.path);
  if (missing.length === 0) return [];
  const pkgs = [...new Set(missing.map((t) => t.debianPackage))].join(' ');
  return [
    `missing: ${missing.map((t) => `${t.name} (Debian package ${t.debianPackage})`).join(', ')}`,
    `install: sudo bench/setup.sh   (or: sudo apt-get update && sudo apt-get install -y ${pkgs})`,
    'the workloads that need them are reported as n/a; the rest still run.',
  ];
}
