/**
 * Child processes of the bench: run-to-completion commands with captured
 * output, long-lived servers we wait for, and free loopback ports.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** A free TCP port on 127.0.0.1 (bound then released: racy, but the bench owns the box for a minute). */
export { freePort } from '../proxy/embedded-servers.js';

/** Exit status and output of a finished command. */
export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion, capturing output; rejects only when it cannot start. */
export function run(cmd: string, args: readonly string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.once('error', (err) => { if (timer) clearTimeout(timer); reject(err); });
    child.once('close', (code) => { if (timer) clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** A long-lived child we started, with the output it printed so far. */
export interface Server {
  readonly child: ChildProcess;
  readonly pid: number;
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts a server and waits until `ready(output)` is true, it exits, or
 * `timeoutMs` passes. Rejects with the tail of its output when not ready.
 */
export async function startServer(cmd: string, args: readonly string[], opts: SpawnOptions, ready: (output: string) => boolean, timeoutMs: number): Promise<Server> {
  const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let exited = false;
  const exitedP = new Promise<void>((resolve) => child.once('exit', () => { exited = true; resolve(); }));
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out = (out + d).slice(-64_000); });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { out = (out + d).slice(-64_000); });
  const server: Server = {
    child,
    pid: child.pid ?? -1,
    output: () => out,
    async stop(graceMs = 5000) {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, graceMs);
      await exitedP;
      clearTimeout(t);
    },
  };
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (ready(out)) return server;
    const err = await Promise.race([spawnError, new Promise<undefined>((r) => setTimeout(() => r(undefined), 50))]);
    if (err) throw err;
    if (exited || Date.now() > deadline) {
      await server.stop(1000);
      const tail = out.trim().split('\n').slice(-8).join('\n');
      throw new Error(`${cmd} ${exited ? `exited (code ${child.exitCode})` : `not ready after ${timeoutMs} ms`}${tail ? `:\n${tail}` : ''}`);
    }
  }
}

/** Sleeps. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
