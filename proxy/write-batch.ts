/**
 * The end-of-turn write both doors make: what a session queued for its
 * client in one event-loop turn, after the audit records of the statements
 * those bytes finish (record before result), in one write or one corked run.
 */
import type { Socket } from 'node:net';
import type { Gate } from '../governance/gate.js';
import type { OutBatch } from '../wire/out-batch.js';

/** Writes what `out` holds; false when the socket asked for a drain. Nothing happens on a destroyed socket. */
export function flushToClient(out: OutBatch, socket: Socket, gate: Gate): boolean {
  if (out.empty) return true;
  const q = out.take();
  if (socket.destroyed) return true;
  gate.auditBarrier?.();
  if (q.length === 1) return socket.write(q[0]);
  socket.cork();
  let ok = true;
  for (const b of q) ok = socket.write(b) && ok;
  socket.uncork();
  return ok;
}
