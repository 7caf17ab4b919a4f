import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cpuSeconds, machineTicks, parseProcStat, parseStatCpuTicks, parseStatusRssBytes, rssBytes, stealShare } from '../../../bench/proc.js';

test('utime + stime from /proc/PID/stat, counted from the last parenthesis', () => {
  // Fields: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
  const plain = '1234 (pgbouncer) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 1 0 100 1000000 200';
  assert.equal(parseStatCpuTicks(plain), 325);
  // A comm with spaces and a ')' must not shift the fields.
  const tricky = '99 (node ) x (y)) R 1 99 99 0 -1 0 1 2 3 4 11 22 33 44 20 0 1 0';
  assert.equal(parseStatCpuTicks(tricky), 33);
  assert.throws(() => parseStatCpuTicks('garbage'));
  assert.throws(() => parseStatCpuTicks('1 (x) S 1'));
});

test('VmRSS from /proc/PID/status in bytes', () => {
  const status = 'Name:\tnode\nVmPeak:\t  999 kB\nVmRSS:\t   51200 kB\nRssAnon:\t 1 kB\n';
  assert.equal(parseStatusRssBytes(status), 51200 * 1024);
  assert.throws(() => parseStatusRssBytes('Name:\tx\n'));
});

test('reads this process from the real /proc', () => {
  const t0 = cpuSeconds(process.pid);
  let x = 0;
  for (let i = 0; i < 3e7; i++) x += i % 7;
  assert.ok(x > 0);
  assert.ok(cpuSeconds(process.pid) >= t0);
  const rss = rssBytes(process.pid);
  assert.ok(rss > 1024 * 1024 && rss < 64 * 1024 ** 3);
});

test('steal from the aggregate cpu line of /proc/stat', () => {
  const stat = 'cpu  100 5 50 700 10 1 4 130 20 0\ncpu0 50 2 25 350 5 0 2 65 10 0\nintr 1 2 3\nctxt 99\n';
  // guest (20) is part of user already: total = 100+5+50+700+10+1+4+130
  assert.deepEqual(parseProcStat(stat), { total: 1000, steal: 130 });
  // An old kernel without the steal column.
  assert.deepEqual(parseProcStat('cpu  1 2 3 4\n'), { total: 10, steal: 0 });
  assert.throws(() => parseProcStat('cpu0 1 2 3 4\n'), /aggregate cpu line/);
  assert.throws(() => parseProcStat('cpu  1 2\n'), /malformed/);
});

test('steal share between two readings', () => {
  assert.equal(stealShare({ total: 1000, steal: 100 }, { total: 1400, steal: 200 }), 0.25);
  assert.equal(stealShare({ total: 1000, steal: 100 }, { total: 1000, steal: 100 }), undefined);
  assert.equal(stealShare(undefined, { total: 1, steal: 0 }), undefined);
  const now = machineTicks();
  // Linux has /proc/stat; the share of a real interval is a fraction.
  assert.ok(now && now.total > 0);
  const s = stealShare({ total: 0, steal: 0 }, now);
  assert.ok(s !== undefined && s >= 0 && s < 1);
});
