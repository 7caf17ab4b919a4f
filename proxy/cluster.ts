/**
 * `sqlgate start --workers N`: N processes serving the same listeners, so
 * that sqlgate can use several cores. node:cluster's primary owns the
 * listening sockets and hands each accepted connection to the next worker;
 * the workers share the control store (quotas, through its own locking) and
 * nothing else: each has its own audit file (one writer per chained file),
 * its own caches and its own sessions.
 *
 * What crosses workers goes through the primary:
 *   - a PostgreSQL CancelRequest arrives on a new connection, so usually at
 *     another worker than the session it cancels: a key the worker did not
 *     mint is offered to every other worker, and the one that minted it
 *     cancels (the secret key is checked there, as for a local cancel);
 *   - a MySQL KILL names a connection id; ids carry the worker that handed
 *     them out (id % N), and the owner answers whether the session is the
 *     caller's to kill (same user, same instance) and with its upstream
 *     thread id, or ends the connection itself;
 *   - per-user connection limits: the primary counts every worker's
 *     sessions, and a worker asks it before a session starts (user-slots.ts).
 * SIGHUP to the primary is passed to the workers (each reloads the policy);
 * SIGINT/SIGTERM stop them; a worker that dies is replaced, so the others
 * go on serving.
 */
import cluster, { type Worker } from 'node:cluster';
import { SlotCounts } from './slot-counts.js';

/** Environment a worker is started with. */
const INDEX_ENV = 'SQLGATE_WORKER_INDEX';
const COUNT_ENV = 'SQLGATE_WORKER_COUNT';

/** What a worker knows about the cluster it is part of. */
export interface WorkerInfo {
  readonly index: number;
  readonly count: number;
}

/** This process's place in a cluster, or undefined when sqlgate runs as one process. */
export function workerInfo(): WorkerInfo | undefined {
  if (!cluster.isWorker) return undefined;
  const index = Number(process.env[INDEX_ENV]);
  const count = Number(process.env[COUNT_ENV]);
  return Number.isInteger(index) && Number.isInteger(count) && count > 1 ? { index, count } : undefined;
}

/** `audit.jsonl` → `audit.w2.jsonl` for worker 2: one chained file per writer. */
export function workerFile(file: string, w: WorkerInfo | undefined): string {
  if (!w) return file;
  const m = /^(.*?)(\.[^./\\]*)?$/.exec(file)!;
  return `${m[1]}.w${w.index}${m[2] ?? ''}`;
}

/** A MySQL KILL for a connection another worker handed out. */
export interface KillRequest {
  readonly id: number;
  readonly user: string;
  readonly instance: string;
  readonly mode: 'connection' | 'query';
}

/** The owner's answer: found and the caller's, with the upstream thread id for KILL QUERY. */
export interface KillAnswer {
  readonly ok: boolean;
  readonly threadId?: number;
}

type Message =
  | { sg: 'ready'; from: number }
  | { sg: 'slot'; from: number; req: number; user: string; limit: number | null }
  | { sg: 'slot-answer'; to: number; req: number; ok: boolean }
  | { sg: 'slot-release'; from: number; user: string }
  | { sg: 'cancel'; from: number; processId: number; secretKey: number }
  | { sg: 'kill'; from: number; req: number; kill: KillRequest }
  | { sg: 'kill-answer'; to: number; req: number; answer: KillAnswer };

function isMessage(m: unknown): m is Message {
  return typeof m === 'object' && m !== null && typeof (m as { sg?: unknown }).sg === 'string';
}

const cancelHandlers = new Set<(processId: number, secretKey: number) => Promise<boolean>>();
let killHandler: ((k: KillRequest) => Promise<KillAnswer>) | undefined;
const pendingKills = new Map<number, (a: KillAnswer) => void>();
const pendingSlots = new Map<number, (ok: boolean) => void>();
let nextReq = 1;
let listening = false;

function listen(): void {
  if (listening || !cluster.isWorker) return;
  listening = true;
  process.on('message', (m: unknown) => {
    if (!isMessage(m)) return;
    if (m.sg === 'cancel') {
      for (const h of cancelHandlers) void h(m.processId, m.secretKey);
    } else if (m.sg === 'kill') {
      const answer = killHandler ? killHandler(m.kill) : Promise.resolve({ ok: false });
      void answer.catch(() => ({ ok: false })).then((a) => process.send?.({ sg: 'kill-answer', to: m.from, req: m.req, answer: a } satisfies Message));
    } else if (m.sg === 'kill-answer') {
      pendingKills.get(m.req)?.(m.answer);
      pendingKills.delete(m.req);
    } else if (m.sg === 'slot-answer') {
      const answer = pendingSlots.get(m.req);
      pendingSlots.delete(m.req);
      if (answer) answer(m.ok);
      // Granted after the session gave up waiting: give it back, or it would count forever.
      else if (m.ok) releaseSlotElsewhere(lateSlots.get(m.req) ?? '');
      lateSlots.delete(m.req);
    }
  });
}

/** Users of slot requests that timed out, by request: a late grant is given back. */
const lateSlots = new Map<number, string>();

/** How long a worker waits for the primary's count before refusing the session. */
const SLOT_TIMEOUT_MS = 3000;

/** Asks the primary for one of `user`'s connection slots (user-slots.ts); false when the limit is reached, undefined when no answer came. */
export function takeSlotElsewhere(user: string, limit: number | undefined): Promise<boolean | undefined> {
  const w = workerInfo();
  if (!w) return Promise.resolve(undefined);
  listen();
  const req = nextReq++;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      pendingSlots.delete(req);
      lateSlots.set(req, user);
      resolve(undefined);
    }, SLOT_TIMEOUT_MS);
    pendingSlots.set(req, (ok) => { clearTimeout(timer); resolve(ok); });
    process.send?.({ sg: 'slot', from: w.index, req, user, limit: limit ?? null } satisfies Message);
  });
}

/** Gives one of `user`'s slots back to the primary's count. */
export function releaseSlotElsewhere(user: string): void {
  const w = workerInfo();
  if (w && user) process.send?.({ sg: 'slot-release', from: w.index, user } satisfies Message);
}

/** Tells the primary this worker is listening. */
export function workerReady(): void {
  const w = workerInfo();
  if (w) process.send?.({ sg: 'ready', from: w.index } satisfies Message);
}

/** A PostgreSQL listener's local cancel, offered keys the other workers minted. */
export function onClusterCancel(handler: (processId: number, secretKey: number) => Promise<boolean>): () => void {
  listen();
  cancelHandlers.add(handler);
  return () => { cancelHandlers.delete(handler); };
}

/** Offers a cancel key this worker did not mint to the others. */
export function cancelElsewhere(processId: number, secretKey: number): void {
  const w = workerInfo();
  if (w) process.send?.({ sg: 'cancel', from: w.index, processId, secretKey } satisfies Message);
}

/** The MySQL registry's answer to KILLs routed from other workers. */
export function onClusterKill(handler: (k: KillRequest) => Promise<KillAnswer>): void {
  listen();
  killHandler = handler;
}

/** Asks the worker that handed out `k.id` (id % count); no answer within 3 s is "not found". */
export function killElsewhere(k: KillRequest): Promise<KillAnswer> {
  const w = workerInfo();
  if (!w) return Promise.resolve({ ok: false });
  listen();
  const req = nextReq++;
  return new Promise((resolve) => {
    const timer = setTimeout(() => { pendingKills.delete(req); resolve({ ok: false }); }, 3000);
    pendingKills.set(req, (a) => { clearTimeout(timer); resolve(a); });
    process.send?.({ sg: 'kill', from: w.index, req, kill: k } satisfies Message);
  });
}

/**
 * The primary: forks `count` workers running `argv` (the same `sqlgate start`
 * without --workers), relays their messages, passes signals on, replaces a
 * worker that dies. Resolves when all have stopped after SIGINT/SIGTERM.
 */
export async function runPrimary(count: number, argv: readonly string[], log: (line: string) => void): Promise<number> {
  cluster.setupPrimary({ args: [...argv], silent: false });
  const workers = new Map<number, Worker>();
  // Per-user connection limits hold across the workers: the count is kept here.
  const slots = new SlotCounts();
  let stopping = false;
  let ready = 0;
  let failed: ((code: number) => void) | undefined;
  const fork = (index: number): void => {
    let up = false;
    const w = cluster.fork({ [INDEX_ENV]: String(index), [COUNT_ENV]: String(count) });
    workers.set(index, w);
    w.on('message', (m: unknown) => {
      if (!isMessage(m)) return;
      if (m.sg === 'ready') {
        up = true;
        if (++ready === count) log(`sqlgate: ${count} workers ready`);
      } else if (m.sg === 'cancel') {
        for (const [i, other] of workers) if (i !== m.from) other.send(m);
      } else if (m.sg === 'kill') {
        const owner = workers.get(m.kill.id % count);
        if (owner && m.kill.id % count !== m.from) owner.send(m);
        else workers.get(m.from)?.send({ sg: 'kill-answer', to: m.from, req: m.req, answer: { ok: false } } satisfies Message);
      } else if (m.sg === 'kill-answer') {
        workers.get(m.to)?.send(m);
      } else if (m.sg === 'slot') {
        const ok = slots.take(m.from, m.user, m.limit ?? undefined);
        w.send({ sg: 'slot-answer', to: m.from, req: m.req, ok } satisfies Message);
      } else if (m.sg === 'slot-release') {
        slots.release(m.from, m.user);
      }
    });
    w.on('exit', (code, signal) => {
      if (workers.get(index) === w) workers.delete(index);
      // Its sessions ended with it.
      slots.dropHolder(index);
      if (stopping) return;
      // A worker that never came up will not come up by trying again (a bad policy, a taken port).
      if (!up) return failed?.(typeof code === 'number' && code !== 0 ? code : 1);
      log(`sqlgate: worker ${index} exited (${signal ?? `code ${code}`}); starting another`);
      setTimeout(() => { if (!stopping) fork(index); }, 500);
    });
  };
  for (let i = 0; i < count; i++) fork(i);
  const onHup = () => { for (const w of workers.values()) w.process.kill('SIGHUP'); };
  process.on('SIGHUP', onHup);
  const exitCode = await new Promise<number>((resolve) => {
    const onStop = () => { process.off('SIGINT', onStop); process.off('SIGTERM', onStop); resolve(0); };
    failed = (code) => { process.off('SIGINT', onStop); process.off('SIGTERM', onStop); resolve(code); };
    process.on('SIGINT', onStop);
    process.on('SIGTERM', onStop);
  });
  stopping = true;
  process.off('SIGHUP', onHup);
  await Promise.all([...workers.values()].map((w) => new Promise<void>((resolve) => {
    if (w.isDead()) return resolve();
    w.once('exit', () => resolve());
    w.process.kill('SIGTERM');
    setTimeout(() => { if (!w.isDead()) w.process.kill('SIGKILL'); }, 10_000).unref();
  })));
  if (exitCode !== 0) log('sqlgate: a worker could not start; stopped');
  return exitCode;
}
