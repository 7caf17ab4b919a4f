import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** dist/proxy/cli/main.js, resolved from this compiled helper (dist/test/unit/proxy/cli). */
export const MAIN = fileURLToPath(new URL('../../../../proxy/cli/main.js', import.meta.url));
/** The repository root (for paths like rules/sample-policy.yaml). */
export const ROOT = fileURLToPath(new URL('../../../../../', import.meta.url));

export interface CliResult { status: number | null; stdout: string; stderr: string }

/** Runs `sqlgate ...args` as a child process. */
export function cli(args: string[], opts: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    input: opts.input ?? '', cwd: opts.cwd ?? ROOT, encoding: 'utf8', env: opts.env ?? process.env, timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
