/**
 * Polls until a condition holds (other parts of the system move on their own
 * schedule: a released connection, a closed socket), then asserts it.
 */
import assert from 'node:assert/strict';

export async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond()) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  assert.ok(await cond(), `timed out waiting: ${what}`);
}
